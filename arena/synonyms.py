"""Synonym candidate sources for word-swap attacks (``--synonyms``).

=====================  =========================================================================
spec                   source
=====================  =========================================================================
``counterfitted``      the counter-fitted neighbour table shipped in the package
                       (``arena/assets/counterfitted_neighbors.json.gz``: robinjia/certified-word-sub,
                       MIT; the words' neighbours in Mrksic et al.'s counter-fitted vectors)
``neighbors:PATH``     JSON ``{word: [neighbour, ...]}`` already filtered (``.json`` or ``.json.gz``);
                       order kept, no cosine
``vectors:PATH``       counter-fitted vectors as text (``word v1 ... v300`` per line): top-k by
                       cosine >= min_cos, computed from the vectors; converted once to a
                       memory-mapped ``.npy`` under the cache dir
``wordnet``            WordNet synonyms through nltk (its data, or Debian's ``wordnet-base`` files)
``textattack``         the counter-fitted ``paragramcf`` embedding TextAttack downloads (online
                       once; read from TextAttack's cache afterwards)
``auto``               ``counterfitted`` (the offline default)
=====================  =========================================================================
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from arena.resources import (
    COUNTERFITTED_NEIGHBOURS,
    DEBIAN_WORDNET,
    ResourceMissing,
    cache_dir,
    paragramcf_dir,
    wordnet_available,
)

# WordNet's lexicographer files, in id order (the `lexnames` file Debian's package leaves out).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object noun.person "
    "noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative "
    "verb.weather adj.ppl"
).split()


class SynonymSource(Protocol):
    """Ranked substitution candidates for a word (lower-case in, lower-case out, best first)."""

    name: str

    def neighbours(self, word: str, k: int = 50, min_cos: float = 0.5) -> list[str]:
        """Up to ``k`` candidates for ``word``, excluding the word itself; [] when unknown."""
        ...

    def __contains__(self, word: str) -> bool: ...


class NeighbourTable:
    """A precomputed ``{word: [neighbours]}`` table (JSON file or in-memory dict)."""

    def __init__(self, table: dict[str, list[str]], name: str = "table"):
        self.table = {w.lower(): [n.lower() for n in ns] for w, ns in table.items()}
        self.name = name

    @classmethod
    def from_json(cls, path: str | Path, name: str | None = None) -> NeighbourTable:
        """Read a JSON neighbour table (gzip-compressed when its name ends in ``.gz``)."""
        path = Path(path).expanduser()
        if not path.exists():
            raise ResourceMissing(f"synonym table {path} does not exist")
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            table = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ResourceMissing(f"synonym table {path} is not valid (gzip-compressed) UTF-8 JSON: {exc}") from None
        if not isinstance(table, dict):
            raise ResourceMissing(f"synonym table {path}: expected a JSON object word -> [neighbours]")
        bad = next(
            (word for word, ns in table.items() if not (isinstance(ns, list) and all(isinstance(n, str) for n in ns))),
            None,
        )
        if bad is not None:  # a bare string would be read as a list of its letters
            raise ResourceMissing(
                f"synonym table {path}: {bad!r} maps to {table[bad]!r}; each word needs a list of neighbour words"
            )
        return cls(table, name or f"neighbors:{path}")

    def neighbours(self, word: str, k: int = 50, min_cos: float = 0.5) -> list[str]:
        """The stored neighbours (already filtered by whoever built the table), at most ``k``."""
        word = word.lower()
        return [n for n in self.table.get(word, ()) if n != word][:k]

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.table


class EmbeddingNeighbours:
    """Nearest neighbours by cosine in a word-vector matrix (rows L2-normalised, memory-mapped)."""

    def __init__(self, vectors: np.ndarray, words: list[str], name: str = "vectors"):
        self.vectors = vectors
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.name = name
        self._cached = lru_cache(maxsize=100_000)(self._compute)

    @classmethod
    def from_text(cls, path: str | Path) -> EmbeddingNeighbours:
        """Load a ``word v1 ... vd`` text file, converting it once to ``.npy`` in the cache dir."""
        path = Path(path).expanduser()
        if not path.exists():
            raise ResourceMissing(f"word-vector file {path} does not exist")
        stat = path.stat()
        key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        folder = cache_dir() / "vectors" / key
        matrix_file, words_file = folder / "vectors.npy", folder / "words.txt"
        if not matrix_file.exists():
            folder.mkdir(parents=True, exist_ok=True)
            words, rows = [], []
            with open(path, encoding="utf-8", errors="replace") as handle:
                for number, line in enumerate(handle, 1):
                    parts = line.rstrip().split(" ")
                    if len(parts) < 3:
                        continue
                    try:
                        rows.append(np.asarray(parts[1:], dtype=np.float32))
                    except ValueError:
                        raise ResourceMissing(f"{path}:{number}: not a 'word v1 v2 ...' line") from None
                    words.append(parts[0].lower())
            if not rows:
                raise ResourceMissing(f"{path}: no vectors found")
            matrix = np.stack(rows)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-8)
            np.save(folder / "vectors.tmp.npy", matrix)
            words_file.write_text("\n".join(words), encoding="utf-8")
            os.replace(folder / "vectors.tmp.npy", matrix_file)
        vectors = np.load(matrix_file, mmap_mode="r")
        words = words_file.read_text(encoding="utf-8").split("\n")
        return cls(vectors, words, f"vectors:{path}")

    def _compute(self, word: str, k: int, min_cos: float) -> tuple[str, ...]:
        row = self.index.get(word)
        if row is None:
            return ()
        cos = np.asarray(self.vectors @ self.vectors[row])
        cos[row] = -np.inf
        top = np.argpartition(-cos, min(k, len(cos) - 1))[:k]
        top = top[np.argsort(-cos[top])]
        return tuple(self.words[i] for i in top if cos[i] >= min_cos)

    def neighbours(self, word: str, k: int = 50, min_cos: float = 0.5) -> list[str]:
        """Top-``k`` words by cosine with cosine >= ``min_cos`` (memoised per word)."""
        return list(self._cached(word.lower(), k, min_cos))

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.index


def nltk_wordnet_dir() -> Path | None:
    """A folder holding ``corpora/wordnet`` for nltk: nltk's own data, or one built from Debian's files."""
    import nltk

    try:
        nltk.data.find("corpora/wordnet")
        return None  # nltk already finds it on its own path
    except LookupError:
        pass
    if not (DEBIAN_WORDNET / "data.noun").exists():
        raise ResourceMissing(
            "WordNet is not available: install nltk's wordnet corpus, or Debian's files "
            "(`apt-get install wordnet-base wordnet-sense-index`)"
        )
    root = cache_dir() / "nltk_data"
    target = root / "corpora" / "wordnet"
    if not (target / "lexnames").exists():
        target.mkdir(parents=True, exist_ok=True)
        for file in DEBIAN_WORDNET.iterdir():  # nltk refuses symlinks and paths outside its data path
            if file.is_file():
                shutil.copyfile(file, target / file.name)
        pos = {"adj": "3", "adv": "4", "noun": "1", "verb": "2"}
        (target / "lexnames").write_text(
            "".join(f"{i:02d}\t{name}\t{pos[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))
        )
    return root


class WordNetSynonyms:
    """Lemmas of a word's synsets (all parts of speech), most frequent sense first."""

    name = "wordnet"

    def __init__(self):
        import nltk

        root = nltk_wordnet_dir()
        if root is not None and str(root) not in nltk.data.path:
            nltk.data.path.insert(0, str(root))
        from nltk.corpus import wordnet

        self.wordnet = wordnet
        self.wordnet.ensure_loaded()
        self._cached = lru_cache(maxsize=100_000)(self._compute)

    def _compute(self, word: str) -> tuple[str, ...]:
        out: list[str] = []
        for synset in self.wordnet.synsets(word):
            for lemma in synset.lemma_names():
                candidate = lemma.lower()
                if "_" in candidate or candidate == word or candidate in out or not candidate.isalpha():
                    continue
                out.append(candidate)
        return tuple(out)

    def neighbours(self, word: str, k: int = 50, min_cos: float = 0.5) -> list[str]:
        """Single-word WordNet synonyms (no cosine: WordNet has none)."""
        return list(self._cached(word.lower()))[:k]

    def __contains__(self, word: str) -> bool:
        return bool(self.wordnet.synsets(word.lower()))


def textattack_paragramcf() -> EmbeddingNeighbours:
    """The counter-fitted embedding TextAttack downloads (``paragramcf``), read from its cache."""
    folder = paragramcf_dir()
    matrix, vocab = folder / "paragram.npy", folder / "wordlist.pickle"
    if not matrix.exists() or not vocab.exists():
        raise ResourceMissing(
            f"TextAttack's counter-fitted embedding is not in {folder}: run once online "
            "(`python -c 'import textattack; textattack.shared.WordEmbedding.counterfitted_GLOVE_embedding()'`), "
            "or pass --synonyms vectors:PATH / neighbors:PATH / wordnet"
        )
    import pickle

    with open(vocab, "rb") as handle:  # TextAttack's own file format (word -> index dict)
        word2index = pickle.load(handle)
    words = [""] * len(word2index)
    for word, index in word2index.items():
        words[index] = word
    vectors = np.load(matrix).astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
    return EmbeddingNeighbours(vectors, words, "textattack:paragramcf")


SYNONYM_SOURCES = ("counterfitted", "neighbors:PATH", "vectors:PATH", "wordnet", "textattack", "auto")


def check_synonyms(spec: str) -> None:
    """Raise the error :func:`load_synonyms` would raise for ``spec``, without reading the source."""
    kind, _, arg = spec.partition(":")
    if spec in ("counterfitted", "auto") or (spec.endswith((".json", ".json.gz")) and Path(spec).exists()):
        return
    if kind in ("neighbors", "neighbours", "vectors"):
        if not Path(arg).expanduser().exists():
            raise ResourceMissing(f"--synonyms {spec}: {arg} does not exist")
    elif spec == "wordnet":
        if not wordnet_available():
            raise ResourceMissing(
                "--synonyms wordnet: WordNet is not installed (nltk's wordnet corpus, or Debian's "
                "`apt-get install wordnet-base wordnet-sense-index`); the default counterfitted needs nothing"
            )
    elif spec == "textattack":
        if not (paragramcf_dir() / "paragram.npy").exists():
            textattack_paragramcf()  # raises, saying how to get it
    else:
        close = difflib.get_close_matches(
            kind, [source.partition(":")[0] for source in SYNONYM_SOURCES], n=1, cutoff=0.6
        )
        hint = f" did you mean {close[0]!r}?" if close else ""
        raise ResourceMissing(f"unknown --synonyms {spec!r};{hint} use {', '.join(SYNONYM_SOURCES)}")


@lru_cache(maxsize=1)
def packaged_neighbours() -> NeighbourTable:
    """The counter-fitted neighbour table shipped in the package (the offline default; read once)."""
    return NeighbourTable.from_json(COUNTERFITTED_NEIGHBOURS, "counterfitted")


def load_synonyms(spec: str = "counterfitted") -> SynonymSource:
    """Build a synonym source from a ``--synonyms`` spec (see module docstring)."""
    if spec in ("counterfitted", "auto"):
        return packaged_neighbours()
    kind, _, arg = spec.partition(":")
    if kind in ("neighbors", "neighbours"):
        return NeighbourTable.from_json(arg)
    if kind == "vectors":
        return EmbeddingNeighbours.from_text(arg)
    if spec == "wordnet":
        return WordNetSynonyms()
    if spec == "textattack":
        return textattack_paragramcf()
    check_synonyms(spec)  # an unknown spec: the error, with the closest name
    return NeighbourTable.from_json(spec)  # a .json / .json.gz path, which the check let through
