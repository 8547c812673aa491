from __future__ import annotations

import json

import pytest

from arena.cli import build_parser, main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("info", "eval", "train"):
        assert command in out


def test_eval_json_with_callable_and_resume(tmp_path, capsys):
    args = ["eval", "--classifier", "test_classifier:keyword_probs", "--data", "builtin", "--db", str(tmp_path / "a.db"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["n"] == 120 and 0.0 < first["accuracy"] < 1.0 and first["examples_per_second"] > 0
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["resumed"] == 120 and second["accuracy"] == first["accuracy"] and second["run_id"] == first["run_id"]


def test_eval_hf_folder_with_pairs(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "nli"
    data.write_text("entailment\tA man sleeps .\tA person rests .\nneutral\tA dog runs .\tThe dog is happy .\n")
    assert main(["eval", "--classifier", tiny_model_dir, "--data", str(data), "--db", str(tmp_path / "b.db"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 2 and set(summary["per_class_accuracy"]) == {"contradiction", "entailment", "neutral"}


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["eval", "--classifier", "test_classifier:keyword_probs", "--data", str(tmp_path / "missing.tsv"), "--db", str(tmp_path / "c.db")]) == 2
    err = capsys.readouterr().err
    assert "arena eval: error:" in err and "missing.tsv: no such file" in err
    assert main(["eval", "--classifier", "test_classifier:broken", "--data", "builtin", "--db", str(tmp_path / "c.db")]) == 2
    assert "model server on fire" in capsys.readouterr().err


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"].startswith("2.")
    assert "minilm encoder" in info["offline_resources"]


def test_train_classifier_defaults_match_the_documented_recipe():
    args = build_parser().parse_args(["train", "classifier", "--data", "x", "--out", "y"])
    assert (args.lr, args.batch_size, args.max_length, args.lora_r, args.epochs, args.base) == (5e-4, 32, 64, 8, 1.0, "minilm")
