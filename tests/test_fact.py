from __future__ import annotations

import torch
from safetensors.torch import load_file

from arena.data import Example, load_data
from arena.words import WordView
from attackers.synonyms import NeighbourTable
from defenses.fact import FactAugmenter, train_fact
from defenses.switch import SwitchConfig
from defenses.train import TrainConfig, _build_model

TABLE = NeighbourTable({"film": ["movie", "picture"], "funny": ["amusing", "comic"], "dull": ["boring", "tedious"],
                        "acted": ["played", "performed"], "lovely": ["beautiful", "gorgeous"]})


class FakeTagger:
    def tags(self, tokens):
        return tuple("NOUN" for _ in tokens)


def test_fact_extends_each_batch_with_labelled_switch_copies(tiny_classifier):
    augmenter = FactAugmenter(tiny_classifier, TABLE, None, FakeTagger(), SwitchConfig(perturb_words=3, total_alternatives=4, multiplier=3))
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
    augmenter = FactAugmenter(tiny_classifier, TABLE, None, FakeTagger(), SwitchConfig(perturb_words=3, total_alternatives=2, multiplier=2))
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
