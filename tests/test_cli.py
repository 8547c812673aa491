from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from arena.cli import build_parser, main
from arena.match import adversarial_examples
from arena.store import Store


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("info", "eval", "train"):
        assert command in out


def test_eval_json_with_callable_and_resume(tmp_path, capsys):
    args = [
        "eval",
        "--classifier",
        "test_classifier:keyword_probs",
        "--data",
        "builtin",
        "--db",
        str(tmp_path / "a.db"),
        "--json",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["n"] == 120 and 0.0 < first["accuracy"] < 1.0 and first["examples_per_second"] > 0
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["resumed"] == 120 and second["accuracy"] == first["accuracy"] and second["run_id"] == first["run_id"]


def test_eval_hf_folder_with_pairs(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "nli"
    data.write_text("entailment\tA man sleeps .\tA person rests .\nneutral\tA dog runs .\tThe dog is happy .\n")
    assert (
        main(["eval", "--classifier", tiny_model_dir, "--data", str(data), "--db", str(tmp_path / "b.db"), "--json"])
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 2 and set(summary["per_class_accuracy"]) == {"contradiction", "entailment", "neutral"}


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "--classifier",
                "test_classifier:keyword_probs",
                "--data",
                str(tmp_path / "missing.tsv"),
                "--db",
                str(tmp_path / "c.db"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "arena eval: error:" in err and "missing.tsv: no such file" in err
    assert (
        main(["eval", "--classifier", "test_classifier:broken", "--data", "builtin", "--db", str(tmp_path / "c.db")])
        == 2
    )
    assert "model server on fire" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--classifier",
                "test_classifier:two_line_error",
                "--data",
                "builtin",
                "--db",
                str(tmp_path / "c.db"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.endswith("raised RuntimeError: first line second line\n") and err.count("\n") == 1


def test_an_output_of_the_wrong_kind_is_named_before_any_work(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    for argv, problem in (
        (["train", "classifier", "--data", "builtin", "--out", str(tmp_path / "a_file")], "is a file; give a folder"),
        (["premade", "--data", "builtin", "--out", str(tmp_path)], "is a folder; give a file path"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and problem in capsys.readouterr().err
    for option, value, problem in (
        ("--chunk-size", "0", "must be at least 1, got 0"),
        ("--query-budget", "-3", "must be at least 1"),
        ("--max-length", "0", "must be at least 1"),
        ("--sim-threshold", "2", "must be in [0, 1], got 2"),
    ):
        with pytest.raises(SystemExit):
            main(["match", "--data", "builtin", option, value])
        assert f"argument {option}: {problem}" in capsys.readouterr().err
    assert main(["train", "classifier", "--data", "builtin", "--out", str(tmp_path / "m"), "--epochs", "-1"]) == 2
    assert "training needs epochs > 0" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_a_path_that_cannot_be_written_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    db = str(tmp_path / "a_file" / "r.db")  # a store under a file
    assert (
        main(["eval", "--classifier", "test_classifier:keyword_probs", "--data", "builtin", "--n", "2", "--db", db])
        == 2
    )
    assert "a_file is a file, not a folder" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--classifier",
                "test_classifier:keyword_probs",
                "--data",
                "builtin",
                "--n",
                "2",
                "--db",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "cannot open or create it" in capsys.readouterr().err  # a folder given as the store


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"].startswith("2.")
    resources = info["offline_resources"]
    assert resources["synonyms: counterfitted"].endswith(".json.gz") and "model hub" in resources
    assert info["offline_resources"]["FACT classifier adapter"].endswith("fact_classifier/adapter_model.safetensors")


def test_train_classifier_defaults_match_the_documented_recipe():
    args = build_parser().parse_args(["train", "classifier", "--data", "x", "--out", "y"])
    assert (args.lr, args.batch_size, args.max_length, args.lora_r, args.epochs, args.base) == (
        5e-4,
        32,
        64,
        8,
        1.0,
        "minilm",
    )


def test_match_json_show_and_premade_roundtrip(tmp_path, capsys):
    from arena.data import load_data

    table = tmp_path / "syn.json"
    table.write_text(json.dumps({"good": ["decent", "fine"], "great": ["fine"], "lovely": ["fine"]}))
    data = tmp_path / "d.tsv"
    data.write_text("text\tlabel\na good film\t1\na really good movie\t1\nbad\t0\na great and good cast\t1\n")
    common = ["--data", str(data), "--synonyms", f"neighbors:{table}", "--pos", "none", "--db", str(tmp_path / "m.db")]
    assert main(["match", "--classifier", "test_classifier:keyword_probs", *common, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in (
        "n",
        "succeeded",
        "failed",
        "skipped",
        "clean_accuracy",
        "accuracy_under_attack",
        "attack_success_rate",
        "avg_perturbed_words_pct",
        "avg_queries",
        "avg_similarity",
        "examples_per_second",
        "run_id",
    ):
        assert key in summary
    assert (summary["n"], summary["succeeded"], summary["failed"], summary["skipped"]) == (
        4,
        3,
        1,
        0,
    )  # "bad" has no synonyms
    assert (
        main(["match", "--defender", "test_classifier:keyword_probs", *common, "--show", "1"]) == 0
    )  # the old flag's name still works
    out = capsys.readouterr().out
    assert "Attack success rate" in out and "[[good]]" in out and "resumed 4 done" in out
    premade = tmp_path / "sets" / "adv.jsonl"  # its folder is made
    assert main(["premade", "--classifier", "test_classifier:keyword_probs", *common, "--out", str(premade)]) == 0
    adversarial = load_data(str(premade))
    assert len(adversarial) == 3 and all(ex.label == 1 and "good" not in ex.text for ex in adversarial)


def _toy_match(tmp_path) -> list[str]:
    """`arena match` options of a small offline attack: keyword classifier, 6 examples, a synonym table."""
    table = tmp_path / "syn.json"
    table.write_text(json.dumps({"good": ["decent", "fine"], "great": ["fine"], "lovely": ["fine"], "bad": ["poor"]}))
    data = tmp_path / "d.tsv"
    data.write_text(
        "text\tlabel\na good film\t1\na really good movie\t1\nbad\t0\na great and good cast\t1\n"
        "a lovely story\t1\nbad acting\t0\n"
    )
    return [
        "--classifier",
        "test_classifier:keyword_probs",
        "--data",
        str(data),
        "--synonyms",
        f"neighbors:{table}",
        "--pos",
        "none",
        "--json",
    ]


def test_match_shard_and_merge_from_the_command_line(tmp_path, capsys):
    common = _toy_match(tmp_path)
    assert main(["match", *common, "--shard", "0/2", "--db", str(tmp_path / "a.db")]) == 0
    half = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["match", *common, "--shard", "1/2", "--db", str(tmp_path / "b.db")]) == 0
    capsys.readouterr()
    assert (half["n"], half["complete"]) == (3, False)
    assert main(["merge", str(tmp_path / "b.db"), "--db", str(tmp_path / "a.db"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {str(tmp_path / "b.db"): {"runs": 0, "results": 3}}
    assert main(["match", *common, "--db", str(tmp_path / "a.db")]) == 0
    whole = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (whole["run_id"], whole["n"], whole["resumed"], whole["complete"]) == (half["run_id"], 6, 6, True)
    with Store(tmp_path / "b.db") as store:  # a second run in b: --runs copies only the one named
        other = store.start_run("eval", "plain", "builtin", {"n": 1})
    assert (
        main(["merge", str(tmp_path / "b.db"), "--db", str(tmp_path / "c.db"), "--runs", half["run_id"][:6], "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {str(tmp_path / "b.db"): {"runs": 1, "results": 3}}
    with Store(tmp_path / "c.db") as store:
        assert [run["run_id"] for run in store.runs()] == [half["run_id"]]
    assert main(["merge", str(tmp_path / "a.db"), "--db", str(tmp_path / "blank.db"), "--no-texts", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {str(tmp_path / "a.db"): {"runs": 1, "results": 6}}
    with Store(tmp_path / "a.db") as full, Store(tmp_path / "blank.db") as blank:
        kept, blanked = full.results(half["run_id"]), blank.results(half["run_id"])
    assert any(r.perturbed_text for r in kept) and all(r.original_text for r in kept)
    assert all((r.original_text, r.text_pair, r.perturbed_text) == ("", None, None) for r in blanked)
    assert [(r.example_id, r.status, r.queries, r.words_changed, r.extra) for r in blanked] == [
        (r.example_id, r.status, r.queries, r.words_changed, r.extra) for r in kept
    ]
    with pytest.raises(ValueError, match="without their texts"):
        adversarial_examples(blanked)
    assert (
        main(["match", *common, "--db", str(tmp_path / "blank.db")]) == 0
    )  # the figures come back from the blanked store
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == whole
    shown = []
    for db in ("a.db", "blank.db"):  # and TextFooler's texts, remade from the data and the stored swaps
        assert main(["match", *common[:-1], "--show", "3", "--db", str(tmp_path / db)]) == 0
        shown.append(capsys.readouterr().out)
    assert "adversarial:" in shown[0] and shown[0] == shown[1]
    assert main(["merge", str(tmp_path / "b.db"), "--db", str(tmp_path / "c.db"), "--runs", "zz"]) == 2
    assert "no run id starts with 'zz'" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "b.db"), "--db", str(tmp_path / "c.db"), "--runs", other]) == 0
    assert "1 new runs, 0 new results" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["merge", str(tmp_path / "b.db"), "--runs", ","])
    assert "at least one run id" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "none.db"), "--db", str(tmp_path / "a.db")]) == 2
    assert "no such results store" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not a database")
    assert main(["merge", str(tmp_path / "notes.txt"), "--db", str(tmp_path / "a.db")]) == 2
    assert "results store" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["match", *common, "--shard", "2/2"])
    assert "0 <= K < N" in capsys.readouterr().err


@pytest.mark.slow
def test_match_workers_split_the_run_and_report_its_whole_summary(tmp_path, capsys, monkeypatch):
    tests = str(Path(__file__).parent)  # the worker processes import test_classifier from here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("TEST_PARENT_PID", str(os.getpid()))
    common = _toy_match(tmp_path)
    assert main(["match", *common, "--db", str(tmp_path / "one.db")]) == 0
    single = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["match", *common, "--workers", "2", "--db", str(tmp_path / "two.db")]) == 0
    split = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert split["complete"] and split["resumed"] == 0
    from arena.store import Store

    with Store(tmp_path / "two.db") as store:  # this process wrote the workers' results and recorded its command
        assert store.run(split["run_id"])["command"]["argv"] == [
            "match",
            *common,
            "--workers",
            "2",
            "--db",
            str(tmp_path / "two.db"),
        ]
    for key in (
        "run_id",
        "n",
        "succeeded",
        "failed",
        "skipped",
        "accuracy_under_attack",
        "avg_queries",
        "avg_perturbed_words_pct",
    ):
        assert split[key] == single[key], key

    def defender(spec):
        return [spec if w == "test_classifier:keyword_probs" else w for w in common]

    assert (
        main(["match", *defender("test_classifier:broken"), "--workers", "2", "--db", str(tmp_path / "three.db")]) == 2
    )
    assert "model server on fire" in capsys.readouterr().err  # found before any worker starts
    assert (
        main(
            [
                "match",
                *defender("test_classifier:fails_in_workers"),
                "--workers",
                "2",
                "--db",
                str(tmp_path / "three.db"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "arena match: error: a worker failed: " in err and "worker on fire" in err
    assert main(["match", *common, "--workers", "2", "--shard", "0/2", "--db", str(tmp_path / "four.db")]) == 2
    assert "no --workers or --ray" in capsys.readouterr().err


@pytest.mark.slow
def test_premade_workers_write_the_one_process_set(tmp_path, capsys, monkeypatch):
    tests = str(Path(__file__).parent)  # the worker processes import test_classifier from here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))
    common = _toy_match(tmp_path)
    assert main(["premade", *common, "--out", str(tmp_path / "one.jsonl"), "--db", str(tmp_path / "one.db")]) == 0
    assert (
        main(
            [
                "premade",
                *common,
                "--workers",
                "2",
                "--out",
                str(tmp_path / "two.jsonl"),
                "--db",
                str(tmp_path / "two.db"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    one, two = ((tmp_path / name).read_text() for name in ("one.jsonl", "two.jsonl"))
    assert one == two and len(one.splitlines()) == 3  # the same set as one process, written once the workers are done
    assert (
        main(
            [
                "premade",
                *common,
                "--shard",
                "0/2",
                "--out",
                str(tmp_path / "part.jsonl"),
                "--db",
                str(tmp_path / "p.db"),
            ]
        )
        == 0
    )
    assert "no --shard writes" in capsys.readouterr().out and not (tmp_path / "part.jsonl").exists()


def test_runs_lists_progress_outcome_and_time_left(tmp_path, capsys):
    from arena.store import ExampleResult, Store

    db = str(tmp_path / "r.db")
    assert main(["runs", "--db", db]) == 2 and "no such results store" in capsys.readouterr().err
    assert main(["leaderboard", "--db", db]) == 2 and "no such results store" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()  # listing a store never creates one
    assert (
        main(
            [
                "eval",
                "--classifier",
                "test_classifier:keyword_probs",
                "--data",
                "builtin",
                "--n",
                "10",
                "--db",
                db,
                "--json",
            ]
        )
        == 0
    )
    accuracy = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["accuracy"]
    with Store(db) as store:  # an attack interrupted after 2 of 4 examples, 10 s each
        run_id = store.start_run("match", "plain", "toy", {"n": 4}, attacker="textfooler")
        store.add_results(
            run_id,
            [
                ExampleResult(i, f"e{i}", 1, "text", status, queries=5, seconds=10.0)
                for i, status in enumerate(("succeeded", "failed"))
            ],
        )
    assert main(["runs", "--db", db, "--json"]) == 0
    match, clean = json.loads(capsys.readouterr().out)
    assert (match["run_id"], match["n"], match["done"], match["statuses"], match["seconds"]) == (
        run_id,
        4,
        2,
        {"succeeded": 1, "failed": 1},
        20.0,
    )
    assert (clean["kind"], clean["n"], clean["done"]) == ("eval", 10, 10) and clean["finished_at"] is not None
    assert main(["runs", "--db", db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split()[:6] == [run_id, "match", "plain", "textfooler", "toy", "2/4"]
    assert (
        "under attack 0.500 (1 succeeded, 1 failed, 0 skipped)" in table[1] and "20 s" in table[1]
    )  # 2 left at 10 s each
    assert f"accuracy {accuracy:.3f}" in table[2] and "10/10" in table[2]
    with Store(db) as store:  # the same names in bf16: told apart by the settings its name leaves out
        bf16 = store.start_run(
            "match",
            "plain",
            "toy",
            {"n": 4, "max_length": 256, "precision": "bf16", "similarity_check": False},
            attacker="textfooler",
        )
    assert main(["runs", "--db", db]) == 0
    assert any(
        line.startswith(bf16) and " plain (precision=bf16, similarity_check=false) " in line
        for line in capsys.readouterr().out.splitlines()
    )
    assert main(["runs", "--db", db, "--kind", "eval", "--json"]) == 0
    assert [r["kind"] for r in json.loads(capsys.readouterr().out)] == ["eval"]


def test_runs_share_the_time_left_among_the_processes_writing_a_run(tmp_path, capsys, monkeypatch):
    import arena.store
    from arena.store import ExampleResult, Store

    db = str(tmp_path / "r.db")
    # two shards, 100 s an example each, stopped for a day after 4 examples, then resumed
    clock = iter([0.0, 50.0, 100.0, 150.0, 86400.0, 86450.0, 86500.0, 86550.0])
    with Store(db) as store:
        run_id = store.start_run("match", "five", "toy", {"n": 20}, attacker="textfooler")
        monkeypatch.setattr(arena.store.time, "time", lambda: next(clock))
        for i in range(8):
            store.add_results(run_id, [ExampleResult(i, f"e{i}", 1, "text", "failed", queries=5, seconds=100.0)])
    monkeypatch.undo()
    assert main(["runs", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["at_once"] == 2
    assert main(["runs", "--db", db]) == 0
    assert "10 min (~2 at once)" in capsys.readouterr().out  # 12 left at 100 s, two at a time


def test_resume_runs_the_command_that_started_an_unfinished_run(tmp_path, capsys, monkeypatch):
    import shutil

    from arena.command_seal import is_sealed
    from arena.store import Store, recording_now

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "kw.py").write_text(
        "from test_classifier import keyword_probs as probs\n"
    )  # a callable in the store's folder
    argv = ["eval", "--classifier", "kw.py:probs", "--data", "builtin", "--n", "10", "--db", "r.db", "--json"]
    assert main(argv) == 0 and not recording_now()  # recorded while the command runs, not after
    accuracy = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["accuracy"]
    with Store(work / "r.db") as store:
        (run,) = store.runs()
        assert {key: run["command"][key] for key in ("argv", "cwd")} == {"argv": argv, "cwd": str(work)}
        assert is_sealed(run["command"], work / "r.db") and not is_sealed(run["command"], tmp_path / "r.db")
        store.conn.execute("DELETE FROM results WHERE idx >= 4")  # stopped after 4 of 10
        store.conn.execute("UPDATE runs SET finished_at = NULL, summary = NULL")
    assert main(["runs", "--db", "r.db"]) == 0 and "arena resume RUN --db r.db" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # from anywhere: the command runs in the folder it was started in
    assert main(["resume", run["run_id"][:5], "--db", str(work / "r.db")]) == 0
    out, err = capsys.readouterr()
    assert (
        json.loads(out.strip().splitlines()[-1])["accuracy"] == accuracy
        and f"resuming run {run['run_id']} in {work}" in err
    )
    assert os.getcwd() == str(tmp_path)
    with Store(work / "r.db") as store:
        assert len(store.results(run["run_id"])) == 10 and store.run(run["run_id"])["command"]["argv"] == argv
    assert (
        main(["resume", run["run_id"], "--db", str(work / "r.db")]) == 0
        and "nothing to resume" in capsys.readouterr().out
    )
    for problem, db, run_id in (
        ("no run id starts with 'ffff'", work / "r.db", "ffff"),
        ("not recorded by you in this store's folder", tmp_path / "copy.db", run["run_id"]),
    ):
        shutil.copy(work / "r.db", tmp_path / "copy.db")
        with Store(tmp_path / "copy.db") as store:
            store.conn.execute("UPDATE runs SET finished_at = NULL")
        assert main(["resume", run_id, "--db", str(db)]) == 2 and problem in capsys.readouterr().err
    with Store(tmp_path / "python.db") as store:  # started from Python: no command to run again
        started = store.start_run("eval", "d", "builtin", {"n": 3})
    assert (
        main(["resume", started, "--db", str(tmp_path / "python.db")]) == 2
        and "records no command" in capsys.readouterr().err
    )


def test_mistyped_names_fail_before_any_model_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    db = str(tmp_path / "x.db")
    for argv, problem in (
        (["eval", "--classifier", "defualt"], "unknown classifier 'defualt'; did you mean 'default'?"),
        (["match", "--classifier", "fusee"], "did you mean 'fuse'?"),
        (["match", "--classifier", "no-org/no-model"], "not in the local Hugging Face cache"),
        (["match", "--attacker", "textfoolr"], "did you mean 'textfooler'?"),
        (["match", "--attacker", "textattack:pwwz"], "did you mean 'pwws'?"),
        (["match", "--attacker", "textattack:bae"], "WordSwapMaskedLM needs a masked language model"),
        (["match", "--attacker", "textattack:hotflip"], "cannot attack an arena classifier"),
        (["match", "--synonyms", "counterfited"], "did you mean 'counterfitted'?"),
        (["match", "--data", str(tmp_path / "none.tsv")], "none.tsv: no such file"),
        (["tournament", "--classifiers", "plain,defualt", "--attackers", "textfooler"], "did you mean 'default'?"),
    ):
        assert main([*argv, "--db", db]) == 2, argv
        err = capsys.readouterr().err
        assert problem in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "x.db").exists()


def test_default_and_plain_are_one_run():
    from arena.zoo import defender_name, eval_key

    assert defender_name("default") == defender_name("plain") == "plain[default]"
    assert defender_name("plain", base="my_model") == defender_name("my_model") == "plain[my_model]"
    assert eval_key("default", "builtin", n=10) == eval_key("plain", "builtin", n=10)
    assert eval_key("plain", "builtin", n=10)["data_name"] == "builtin?n=10&sample=balanced"
    assert eval_key("plain", "builtin", n=10, sample="first")["data_name"] == "builtin?n=10"  # the name stored runs had


def test_every_option_has_help_and_help_shows_defaults(capsys):
    import argparse

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    missing = [
        f"{parser.prog} {action.option_strings or action.dest}"
        for parser in parsers(build_parser())
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert not missing, f"options without help: {missing}"
    with pytest.raises(SystemExit):
        main(["match", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: textfooler)" in out and "(default: counterfitted)" in out and "--defender" not in out


def test_list_names(capsys):
    for what, name in (
        ("attacks", "textfooler"),
        ("defenses", "five+fact[:PATH]"),
        ("classifiers", "module:function"),
        ("recipes", "textattack:deepwordbug"),
        ("synonyms", "counterfitted"),
    ):
        assert main(["list", what, "--json"]) == 0
        assert name in json.loads(capsys.readouterr().out)
    assert main(["list", "recipes"]) == 0
    out = capsys.readouterr().out
    assert "textattack:bae" in out and "online only: WordSwapMaskedLM" in out


def test_export_writes_one_row_per_example(tmp_path, capsys):
    import csv

    db = str(tmp_path / "e.db")
    assert main(["match", *_toy_match(tmp_path), "--db", db]) == 0
    run = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    assert main(["export", run[:4], "--db", db, "--format", "jsonl", "--labels", "negative,positive"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 6 and {row["label_name"] for row in rows} == {"negative", "positive"}
    assert {"original_text", "perturbed_text", "original_proba", "queries", "status"} <= set(rows[0])
    out = tmp_path / "e.csv"
    assert main(["export", run, "--db", db, "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["example_id"] for row in table] == [row["example_id"] for row in rows]
    assert json.loads(table[0]["original_proba"]) == rows[0]["original_proba"]
    assert main(["export", "nope", "--db", db]) == 2


@pytest.mark.slow
def test_the_main_job_attacks_both_classes_offline(tmp_path, capsys):
    """`arena match --n 10` with every default: the packaged classifier, TextFooler with the packaged
    synonym table, the built-in reviews; a balanced sample, so `arena export` shows both labels."""
    db = str(tmp_path / "main.db")
    assert main(["match", "--n", "10", "--json", "--db", db]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 10 and summary["data"] == "builtin?n=10&sample=balanced" and summary["succeeded"] > 0
    assert main(["export", summary["run_id"], "--db", db, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(row["label"] for row in rows) == [0] * 5 + [1] * 5


def test_a_missing_extra_is_named_with_its_pip_command():
    from arena.resources import require_extra

    with pytest.raises(ValueError, match=r"arena demo needs no_such_module_xyz, .*pip install 'firearena\[app\]'"):
        require_extra("no_such_module_xyz", "app", "arena demo")
    require_extra("json", "app", "anything")  # installed: no error
