from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from arena.classifier import load_classifier
from arena.data import load_data
from defenses.train import TrainConfig, batch_order, train_classifier


@pytest.fixture
def crash_on_fifth_step(monkeypatch) -> dict:
    """Training raises KeyboardInterrupt at its fifth optimizer step (gradient clipping call);
    the returned counter, set far below 5, disarms it."""
    real_clip, calls = torch.nn.utils.clip_grad_norm_, {"n": 0}

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated crash")
        return real_clip(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", crash_on_fifth)
    return calls


def test_batch_order_is_deterministic_and_length_sorted_within_chunks():
    lengths = list(np.random.default_rng(0).integers(3, 60, size=100))
    a = batch_order(lengths, batch_size=8, sort_chunk=4, seed=1)
    assert a == batch_order(lengths, batch_size=8, sort_chunk=4, seed=1)
    assert sorted(i for b in a for i in b) == list(range(100))
    for batch in a:
        spread = [lengths[i] for i in batch]
        assert spread == sorted(spread)


@pytest.mark.slow
def test_train_crash_resume_and_reload(tmp_path, crash_on_fifth_step):
    data = load_data("builtin", n=48, seed=0)
    config = TrainConfig(batch_size=8, max_length=32, checkpoint_every=2, lr=1e-3)
    out = tmp_path / "clf"

    with pytest.raises(KeyboardInterrupt):
        train_classifier(data, out, config, device="cpu", progress=False)
    assert (out / "checkpoint" / "state.json").read_text().startswith('{"step": 4')

    crash_on_fifth_step["n"] = -100  # disarmed: the resumed run goes to the end
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
    summary = train_classifier(
        data, out, TrainConfig(batch_size=8, max_length=32, seed=1), device="cpu", progress=False, overwrite=True
    )
    assert summary["steps"] == 2


def test_base_default_is_the_packaged_encoder_and_a_bad_base_is_named(tmp_path):
    from arena.classifier import ClassifierError

    assert TrainConfig(base="default").base == "minilm"  # `arena train defense fact --base default`
    data = load_data("builtin", n=8, seed=0)
    with pytest.raises(ClassifierError, match="could not load base encoder '.*missing'"):
        train_classifier(data, tmp_path / "out", TrainConfig(base=str(tmp_path / "missing")), progress=False)
    assert not (tmp_path / "out").exists()


def test_validation_loss_is_the_mean_cross_entropy_whatever_the_batching():
    from defenses.train import _build_model, _tokenize, validation_loss

    data = load_data("builtin", n=10, seed=0)
    model, tokenizer = _build_model(TrainConfig(), data.label_names)
    rows = _tokenize(tokenizer, data.examples, 32)
    labels = [ex.label for ex in data.examples]
    model.train()
    with torch.no_grad():
        model.eval()
        single = [
            torch.nn.functional.cross_entropy(
                model(input_ids=torch.tensor([r["input_ids"]])).logits, torch.tensor([y])
            ).item()
            for r, y in zip(rows, labels)
        ]
        model.train()
    batched = validation_loss(model, rows, labels, tokenizer.pad_token_id, "cpu", batch_size=3)
    assert batched == pytest.approx(np.mean(single), abs=1e-5)  # padding masked, dropout off
    assert validation_loss(model, rows, labels, tokenizer.pad_token_id, "cpu") == pytest.approx(batched, abs=1e-5)
    assert model.training  # the caller's mode is restored


def test_validation_keeps_the_lowest_loss_checkpoint_across_a_resume(tmp_path, monkeypatch, crash_on_fifth_step):
    from safetensors.torch import load_file

    import defenses.train

    data = load_data("builtin", n=48, seed=0)
    val = load_data("builtin", n=8, seed=1)
    config = TrainConfig(batch_size=8, max_length=32, checkpoint_every=2, lr=1e-3)
    out = tmp_path / "clf"
    scripted = iter([0.5, 0.2, 0.9])  # after steps 2, 4 and 6: step 4 is the one to keep
    monkeypatch.setattr(defenses.train, "validation_loss", lambda *args, **kwargs: next(scripted))
    with pytest.raises(KeyboardInterrupt):
        train_classifier(data, out, config, val=val, device="cpu", progress=False)
    at_step_4 = load_file(str(out / "checkpoint" / "trainable.safetensors"))
    crash_on_fifth_step["n"] = -100  # disarmed: the resumed run goes to the end
    summary = train_classifier(data, out, config, val=val, device="cpu", progress=False)
    assert (summary["chosen_step"], summary["val_loss"]) == (4, 0.2)
    record = json.loads((out / "arena_classifier.json").read_text())["validation"]
    assert record["history"] == [[2, 0.5], [4, 0.2], [6, 0.9]] and record["chosen_step"] == 4

    def norms(tensors):
        return sorted(round(float(t.float().norm()), 6) for t in tensors.values())

    saved = load_file(str(out / "adapter_model.safetensors"))
    assert norms(saved) == norms(at_step_4)  # the step-4 weights, not the last step's


def test_validation_data_must_share_the_labels(tmp_path):
    from arena.data import LabelledData

    data = load_data("builtin", n=8, seed=0)
    other = LabelledData(data.examples, ["bad", "good"], "other.tsv")
    with pytest.raises(ValueError, match=r"validation labels \['bad', 'good'\] differ"):
        train_classifier(data, tmp_path / "out", TrainConfig(), val=other, progress=False)
    with pytest.raises(ValueError, match="warmup is a fraction"):
        TrainConfig(warmup=1.5)


def test_train_cli_validates_and_records_warmup(tmp_path, capsys):
    from arena.cli import main

    out = tmp_path / "clf"
    command = [
        "train",
        "classifier",
        "--data",
        "builtin",
        "--n",
        "16",
        "--batch-size",
        "8",
        "--max-length",
        "32",
        "--checkpoint-every",
        "1",
        "--warmup",
        "0",
        "--out",
        str(out),
        "--json",
    ]
    assert main(command + ["--val-n", "4"]) == 2
    assert "--val-n needs --val" in capsys.readouterr().err
    assert main(command + ["--val", "builtin", "--val-n", "6"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["chosen_step"] in (1, 2)
    meta = json.loads((out / "arena_classifier.json").read_text())
    assert meta["train"]["warmup"] == 0.0
    assert [step for step, _ in meta["validation"]["history"]] == [1, 2] and meta["validation"]["examples"] == 6


def test_training_can_start_from_a_trained_classifier(tmp_path):
    from arena.classifier import DEFAULT_CLASSIFIER_DIR, load_default_classifier
    from defenses.train import _build_model, start_from

    texts = ["a lovely, moving film", "dull and far too long"]
    config = TrainConfig(init=str(DEFAULT_CLASSIFIER_DIR))
    model, tokenizer = _build_model(config, ["negative", "positive"])
    start_from(model, config, ["negative", "positive"])
    model.eval()
    with torch.no_grad():
        logits = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits
    expected = load_default_classifier(device="cpu").predict_proba(texts)
    assert np.allclose(torch.softmax(logits, -1).numpy(), expected, atol=1e-4)
    with pytest.raises(ValueError, match="LoRA settings"):
        start_from(model, TrainConfig(init=str(DEFAULT_CLASSIFIER_DIR), lora_r=4), ["negative", "positive"])
