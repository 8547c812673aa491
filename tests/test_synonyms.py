from __future__ import annotations

import json

import numpy as np
import pytest

from arena import synonyms as syn
from arena.pos import PosTagger, to_universal
from arena.resources import ResourceMissing


def test_neighbour_table_json(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"Good": ["fine", "good", "decent"], "film": []}))
    table = syn.load_synonyms(f"neighbors:{path}")
    assert table.neighbours("GOOD") == ["fine", "decent"] and table.neighbours("good", k=1) == ["fine"]
    assert "film" in table and table.neighbours("film") == [] and table.neighbours("unknown") == []
    with pytest.raises(ResourceMissing, match="does not exist"):
        syn.load_synonyms(f"neighbors:{tmp_path / 'missing.json'}")
    path.write_text(json.dumps({"good": ["fine"], "movie": "film"}))
    with pytest.raises(ResourceMissing, match="'movie' maps to 'film'; each word needs a list of neighbour words"):
        syn.load_synonyms(f"neighbors:{path}")


def test_vectors_top_k_by_cosine_memory_mapped(tmp_path, monkeypatch):
    monkeypatch.setenv("FIREARENA_CACHE", str(tmp_path / "cache"))
    rows = {"good": [1, 0, 0], "fine": [0.9, 0.1, 0], "decent": [0.7, 0.7, 0], "bad": [-1, 0, 0], "odd": [0, 0, 1]}
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in rows.items()))
    source = syn.load_synonyms(f"vectors:{path}")
    assert isinstance(source.vectors, np.memmap)
    assert source.neighbours("good", k=50, min_cos=0.5) == ["fine", "decent"]  # bad (-1) and odd (0) fall below 0.5
    assert source.neighbours("good", k=1, min_cos=0.0) == ["fine"]
    again = syn.load_synonyms(f"vectors:{path}")  # second load reads the cached .npy
    assert again.words == source.words


def test_wordnet_from_nltk_or_debian_files():
    try:
        wordnet = syn.load_synonyms("wordnet")
    except ResourceMissing as exc:
        pytest.skip(str(exc))
    assert "movie" in wordnet.neighbours("film")
    assert all("_" not in w for w in wordnet.neighbours("good"))


def test_packaged_table_is_the_default_and_auto(tmp_path):
    table = syn.load_synonyms()
    assert table.name == "counterfitted" and syn.load_synonyms("auto") is table  # read once
    assert table.neighbours("movie")[:2] == ["film", "filmmaking"] and len(table.table) == 49975
    assert "br" in table and table.neighbours("br") == []  # words without neighbours are kept, as in the JSON
    gz = tmp_path / "t.json.gz"
    gz.write_bytes(__import__("gzip").compress(b'{"good": ["fine"]}'))
    assert syn.load_synonyms(f"neighbors:{gz}").neighbours("good") == ["fine"]


def test_synonym_specs_are_checked_without_loading(monkeypatch, tmp_path):
    monkeypatch.setattr(syn, "wordnet_available", lambda: False)
    monkeypatch.setenv("TA_CACHE_DIR", str(tmp_path / "ta"))
    syn.check_synonyms("counterfitted")
    with pytest.raises(ResourceMissing, match="WordNet is not installed"):
        syn.check_synonyms("wordnet")
    with pytest.raises(ResourceMissing, match="paragramcf"):
        syn.check_synonyms("textattack")
    with pytest.raises(ResourceMissing, match="does not exist"):
        syn.check_synonyms(f"neighbors:{tmp_path / 'none.json'}")
    with pytest.raises(ResourceMissing, match="did you mean 'counterfitted'"):
        syn.check_synonyms("counterfited")
    with pytest.raises(ResourceMissing, match="unknown --synonyms"):
        syn.load_synonyms("glove")


def test_pos_tagger_offline_universal_tags():
    tagger = PosTagger("auto")
    tags = tagger.tags("the film was good".split())
    assert tags[1] == "NOUN" and tags[3] == "ADJ" and len(tags) == 4
    assert to_universal("VBZ") == "VERB" and to_universal(",") == "."
    with pytest.raises(ValueError):
        PosTagger("spacy")


def test_similarity_minilm_angular():
    from arena.similarity import SentenceSimilarity

    sim = SentenceSimilarity(device="cpu")
    same, near, far = sim.similarity(
        ["a good film"] * 3, ["a good film", "a fine film", "the stock market fell sharply"]
    )
    assert same == pytest.approx(1.0, abs=1e-3) and far < near < same
    encoded = sim.encoded
    sim.similarity(["a good film"], ["a fine film"])
    assert sim.encoded == encoded  # cached embeddings are not encoded again
