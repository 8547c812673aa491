from __future__ import annotations

import numpy as np
import pytest
import torch

from arena.classifier import load_classifier
from arena.data import load_data
from defenses.train import TrainConfig, batch_order, train_classifier


def test_batch_order_is_deterministic_and_length_sorted_within_chunks():
    lengths = list(np.random.default_rng(0).integers(3, 60, size=100))
    a = batch_order(lengths, batch_size=8, sort_chunk=4, seed=1)
    assert a == batch_order(lengths, batch_size=8, sort_chunk=4, seed=1)
    assert sorted(i for b in a for i in b) == list(range(100))
    for batch in a:
        spread = [lengths[i] for i in batch]
        assert spread == sorted(spread)


def test_train_crash_resume_and_reload(tmp_path, monkeypatch):
    data = load_data("builtin", n=48, seed=0)
    config = TrainConfig(batch_size=8, max_length=32, checkpoint_every=2, lr=1e-3)
    out = tmp_path / "clf"

    real_clip = torch.nn.utils.clip_grad_norm_
    calls = {"n": 0}

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated crash")
        return real_clip(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(data, out, config, device="cpu", progress=False)
    assert (out / "checkpoint" / "state.json").read_text().startswith('{"step": 4')

    calls["n"] = -100
    summary = train_classifier(data, out, config, device="cpu", progress=False)
    assert summary["steps"] == 6 and not (out / "checkpoint").exists()
    adapter = out / "adapter_model.safetensors"
    assert adapter.exists() and adapter.stat().st_size < 2 * 1024 * 1024

    clf = load_classifier(str(out), device="cpu")
    assert clf.labels == ["negative", "positive"]
    assert clf.predict_proba(["a lovely film", "a dull film"]).shape == (2, 2)

    with pytest.raises(ValueError, match="different run"):
        (out / "checkpoint").mkdir()
        (out / "checkpoint" / "state.json").write_text('{"step": 1, "fingerprint": {}}')
        train_classifier(data, out, config, device="cpu", progress=False)


def test_finished_folder_is_not_silently_retrained(tmp_path):
    data = load_data("builtin", n=16, seed=0)
    config = TrainConfig(batch_size=8, max_length=32)
    out = tmp_path / "clf"
    train_classifier(data, out, config, device="cpu", progress=False)
    before = (out / "adapter_model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="already holds a trained classifier"):
        train_classifier(data, out, config, device="cpu", progress=False)
    assert (out / "adapter_model.safetensors").read_bytes() == before
    summary = train_classifier(data, out, TrainConfig(batch_size=8, max_length=32, seed=1), device="cpu", progress=False, overwrite=True)
    assert summary["steps"] == 2


def test_base_default_is_the_packaged_encoder_and_a_bad_base_is_named(tmp_path):
    from arena.classifier import ClassifierError

    assert TrainConfig(base="default").base == "minilm"  # `arena train defense fact --base default`
    data = load_data("builtin", n=8, seed=0)
    with pytest.raises(ClassifierError, match="could not load base encoder '.*missing'"):
        train_classifier(data, tmp_path / "out", TrainConfig(base=str(tmp_path / "missing")), progress=False)
    assert not (tmp_path / "out").exists()
