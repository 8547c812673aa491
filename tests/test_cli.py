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
    assert info["offline_resources"]["FACT classifier adapter"].endswith("fact_classifier/adapter_model.safetensors")


def test_train_classifier_defaults_match_the_documented_recipe():
    args = build_parser().parse_args(["train", "classifier", "--data", "x", "--out", "y"])
    assert (args.lr, args.batch_size, args.max_length, args.lora_r, args.epochs, args.base) == (5e-4, 32, 64, 8, 1.0, "minilm")


def test_match_json_show_and_premade_roundtrip(tmp_path, capsys):
    from arena.data import load_data

    table = tmp_path / "syn.json"
    table.write_text(json.dumps({"good": ["decent", "fine"], "great": ["fine"], "lovely": ["fine"]}))
    data = tmp_path / "d.tsv"
    data.write_text("text\tlabel\na good film\t1\na really good movie\t1\nbad\t0\na great and good cast\t1\n")
    common = ["--data", str(data), "--synonyms", f"neighbors:{table}", "--pos", "none", "--db", str(tmp_path / "m.db")]
    assert main(["match", "--defender", "test_classifier:keyword_probs", *common, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("n", "succeeded", "failed", "skipped", "clean_accuracy", "accuracy_under_attack", "attack_success_rate",
                "avg_perturbed_words_pct", "avg_queries", "avg_similarity", "examples_per_second", "run_id"):
        assert key in summary
    assert (summary["n"], summary["succeeded"], summary["failed"], summary["skipped"]) == (4, 3, 1, 0)  # "bad" has no synonyms
    assert main(["match", "--defender", "test_classifier:keyword_probs", *common, "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert "Attack success rate" in out and "[[good]]" in out and "resumed 4 done" in out
    premade = tmp_path / "sets" / "adv.jsonl"  # its folder is made
    assert main(["premade", "--classifier", "test_classifier:keyword_probs", *common, "--out", str(premade)]) == 0
    adversarial = load_data(str(premade))
    assert len(adversarial) == 3 and all(ex.label == 1 and "good" not in ex.text for ex in adversarial)
