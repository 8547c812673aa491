from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from arena.cli import main
from arena.data import Example, load_data
from arena.synonyms import NeighbourTable
from arena.words import WordView
from defenses.fact import FactAugmenter, train_fact
from defenses.switch import SwitchConfig
from defenses.train import TrainConfig, _build_model

TABLE = NeighbourTable(
    {
        "film": ["movie", "picture"],
        "funny": ["amusing", "comic"],
        "dull": ["boring", "tedious"],
        "acted": ["played", "performed"],
        "lovely": ["beautiful", "gorgeous"],
    }
)


class FakeTagger:
    def tags(self, tokens):
        return tuple("NOUN" for _ in tokens)

    penn_tags = tags  # SWITCH compares Penn tags; every word the same tag here


def test_fact_extends_each_batch_with_labelled_switch_copies(tiny_classifier):
    augmenter = FactAugmenter(
        tiny_classifier, TABLE, None, FakeTagger(), SwitchConfig(perturb_words=3, total_alternatives=4, multiplier=3)
    )
    batch = [Example("a funny and lovely film", 1, None, "a"), Example("a dull film , badly acted", 0, None, "b")]
    extra = augmenter(batch, step=7)
    assert 0 < len(extra) <= 8
    for ex in extra:
        source = batch[0] if ex.id.startswith("a~") else batch[1]
        assert ex.label == source.label
        assert len(WordView.of(ex.text).words) == len(WordView.of(source.text).words)
    assert [e.text for e in augmenter(batch, step=7)] == [e.text for e in extra]  # same step -> same copies (resume)


def test_fact_training_updates_the_head(tmp_path, tiny_classifier):
    data = load_data("builtin", n=16, seed=0)
    config = TrainConfig(batch_size=8, max_length=32, lr=5e-3)
    augmenter = FactAugmenter(
        tiny_classifier, TABLE, None, FakeTagger(), SwitchConfig(perturb_words=3, total_alternatives=2, multiplier=2)
    )
    summary = train_fact(data, tmp_path / "fact", config, augmenter, judge_name="tiny", device="cpu", progress=False)
    assert summary["steps"] == 2 and summary["augmented_examples_this_run"] > 0
    torch.manual_seed(config.seed)
    initial, _ = _build_model(config, data.label_names)
    start = {k: v for k, v in initial.state_dict().items() if "modules_to_save" in k and k.endswith("weight")}
    saved = load_file(str(tmp_path / "fact" / "adapter_model.safetensors"))
    head = [k for k in saved if "classifier" in k and k.endswith("weight")]
    assert head, "the classification head must be saved with the adapter"
    (initial_head,) = start.values()
    assert not torch.allclose(saved[head[0]], initial_head)


def test_train_fact_cli_takes_switch_settings_and_records_them(tmp_path, tiny_model_dir, capsys):
    table = tmp_path / "neighbours.json"
    table.write_text(
        json.dumps(
            {
                "film": ["movie"],
                "funny": ["amusing"],
                "gorgeous": ["lovely"],
                "powerful": ["strong"],
                "awkward": ["clumsy"],
                "flat": ["dull"],
                "fake": ["false"],
                "mess": ["muddle"],
            }
        )
    )
    out = tmp_path / "fact"
    command = [
        "train",
        "defense",
        "fact",
        "--judge",
        tiny_model_dir,
        "--data",
        "builtin",
        "--n",
        "8",
        "--batch-size",
        "8",
        "--max-length",
        "32",
        "--synonyms",
        f"neighbors:{table}",
        "--out",
        str(out),
        "--json",
        "--switch",
    ]
    assert main(command + ["total_alternatives=0"]) == 2
    assert "SWITCH needs total_alternatives >= 1 (got 0)" in capsys.readouterr().err
    assert not out.exists()  # refused before any training started
    assert main(command + ["perturb_words=2&total_alternatives=1&use_similarity=false"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < summary["augmented_examples_this_run"] <= 8  # at most one copy per example
    switch = json.loads((out / "arena_classifier.json").read_text())["augment"]["switch"]
    assert (switch["perturb_words"], switch["total_alternatives"], switch["use_similarity"]) == (2, 1, False)
