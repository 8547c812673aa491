from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from arena.classifier import CallableClassifier
from arena.data import load_data
from arena.evaluate import evaluate
from arena.store import ExampleResult, Store

CRASHING_EVAL = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from arena.classifier import CallableClassifier
    from arena.data import load_data
    from arena.evaluate import evaluate
    from arena.store import Store

    calls = 0
    def predict(texts):
        global calls
        calls += 1
        if calls == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # crash mid-run, no cleanup
        return np.array([[0.1, 0.9] if "good" in t or "great" in t else [0.8, 0.2] for t in texts])

    with Store(sys.argv[1]) as store:
        print(evaluate(CallableClassifier(predict, ["negative", "positive"]), load_data("builtin"), store,
                       classifier_name="keywords", data_name="builtin", chunk_size=10, progress=False))
""")


@pytest.mark.slow
def test_resume_after_kill_minus_nine(tmp_path):
    db = tmp_path / "arena.db"
    script = tmp_path / "run.py"
    script.write_text(CRASHING_EVAL)
    crashed = subprocess.run([sys.executable, str(script), str(db), "5"], capture_output=True, text=True)
    assert crashed.returncode == -signal.SIGKILL
    with Store(db) as store:
        (run,) = store.runs()
        assert run["finished_at"] is None
        assert len(store.done_ids(run["run_id"])) == 40  # the four chunks before the crash, nothing more
    finished = subprocess.run([sys.executable, str(script), str(db), "0"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "'resumed': 40" in finished.stdout
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT example_id) FROM results").fetchone()
    assert rows == (120, 120)
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_add_results_is_idempotent_and_roundtrips(tmp_path):
    with Store(tmp_path / "a.db") as store:
        run_id = store.start_run("match", "plain", "mr", {"n": 2}, attacker="textfooler")
        assert store.start_run("match", "plain", "mr", {"n": 2}, attacker="textfooler") == run_id
        assert store.start_run("match", "plain", "mr", {"n": 3}, attacker="textfooler") != run_id
        result = ExampleResult(
            idx=0,
            example_id="mr:1",
            label=1,
            original_text="a good film",
            status="succeeded",
            original_pred=1,
            original_proba=[0.1, 0.9],
            perturbed_text="a decent film",
            perturbed_pred=0,
            perturbed_proba=[0.6, 0.4],
            queries=17,
            words_changed=1,
            words_total=3,
            similarity=0.91,
            seconds=0.2,
            extra={"changed": [1]},
        )
        assert store.add_results(run_id, [result]) == 1
        assert store.add_results(run_id, [result]) == 0
        assert store.results(run_id) == [result]
        store.finish_run(run_id, {"attack_success_rate": 1.0})
        assert store.run(run_id)["summary"] == {"attack_success_rate": 1.0}


def test_evaluate_resumes_without_duplicates(tmp_path):
    clf = CallableClassifier(lambda texts: np.tile([0.3, 0.7], (len(texts), 1)), ["negative", "positive"])
    data = load_data("builtin")
    with Store(tmp_path / "e.db") as store:
        first = evaluate(clf, data, store, classifier_name="const", data_name="builtin", progress=False)
        again = evaluate(clf, data, store, classifier_name="const", data_name="builtin", progress=False)
    assert first["accuracy"] == again["accuracy"] == 0.5
    assert first["resumed"] == 0 and again["resumed"] == 120 and again["n"] == 120
    assert first["per_class_accuracy"] == {"negative": 0.0, "positive": 1.0}


def test_precision_and_max_length_name_their_own_runs(tmp_path, tiny_classifier):
    """A bf16 (or fp16, or ``auto`` on a GPU) or shorter-input evaluation never resumes an fp32 one;
    fp32 at 256 tokens keeps the id runs had before these were recorded; a defense reads its base."""
    from arena.classifier import HFClassifier, run_identity
    from arena.store import identity_of, run_id_for
    from defenses.five import FIVE

    data = load_data("builtin", n=4)
    data = type(data)(data.examples, ["contradiction", "entailment", "neutral"], data.source)
    model, tokenizer = tiny_classifier.model, tiny_classifier.tokenizer
    variants = {
        "fp32": HFClassifier(model, tokenizer, device="cpu", precision="fp32"),
        "bf16": HFClassifier(model, tokenizer, device="cpu", precision="bf16"),
        "short": HFClassifier(model, tokenizer, device="cpu", precision="fp32", max_length=64),
    }
    with Store(tmp_path / "p.db") as store:
        runs = {
            key: evaluate(clf, data, store, classifier_name="tiny", data_name="builtin?n=4", progress=False)
            for key, clf in variants.items()
        }
        assert len({run["run_id"] for run in runs.values()}) == 3 and all(run["resumed"] == 0 for run in runs.values())
        legacy = {
            "kind": "eval",
            "defender": "tiny",
            "attacker": None,
            "data": "builtin?n=4",
            "fingerprint": data.fingerprint,
            "n": 4,
        }
        assert runs["fp32"]["run_id"] == run_id_for(legacy)
    assert run_identity(variants["bf16"]) == {"precision": "bf16"} and run_identity(variants["short"]) == {
        "max_length": 64
    }
    with Store(tmp_path / "p.db") as store:  # what `arena runs` shows beside the names: all of it, less the default 256
        shown = {run["run_id"]: run["identity"] for run in store.progress()}
    assert shown == {
        runs["fp32"]["run_id"]: {},
        runs["bf16"]["run_id"]: {"precision": "bf16"},
        runs["short"]["run_id"]: {"max_length": 64},
    }
    assert identity_of({"max_length": 256, "n": 4}) == {}  # a match's config records the default too
    assert run_identity(FIVE(variants["bf16"], samples=2)) == {"precision": "bf16"}
    assert run_identity(CallableClassifier(lambda texts: np.ones((len(texts), 2)), ["a", "b"])) == {}


def test_a_file_that_is_not_a_store_gets_a_clear_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, just some notes\n" * 100)
    with pytest.raises(
        ValueError, match=r"notes.txt: cannot be opened as a results store \(SQLite: file is not a database\)"
    ):
        Store(notes)
    assert notes.read_text() == "not a database, just some notes\n" * 100  # left untouched


def test_a_store_from_before_the_executor_opens_with_its_old_claims_table(tmp_path):
    path = tmp_path / "old.db"
    with Store(path) as store:
        run_id = store.start_run("match", "d", "toy", {"n": 1}, attacker="a")
    conn = sqlite3.connect(path)  # what `--workers` processes used to claim examples with
    conn.execute("CREATE TABLE claims (run_id TEXT, launch TEXT, example_id TEXT, claimed_at REAL)")
    conn.execute("INSERT INTO claims VALUES (?, 'L', 'e0', 0.0)", (run_id,))
    conn.commit()
    conn.close()
    with Store(path) as store:
        store.add_results(run_id, [ExampleResult(0, "e0", 1, "text", "failed", seconds=1.0)])
        assert store.progress()[0]["done"] == 1 and store.progress()[0]["at_once"] is None


def test_a_store_dumped_as_json_lines_merges_back_whole(tmp_path, capsys):
    from arena.cli import main

    with Store(tmp_path / "a.db") as store:
        run = store.start_run("match", "plain", "d", {"n": 2}, attacker="textfooler")
        store.add_results(
            run,
            [
                ExampleResult(i, f"e{i}", 1, f"text {i}", "failed", original_proba=[0.1, 0.9], extra={"changed": []})
                for i in range(2)
            ],
        )
        store.finish_run(run, {"n": 2})
    dump = tmp_path / "carried.jsonl"
    assert main(["merge", str(tmp_path / "a.db"), "--db", str(dump), "--no-texts"]) == 0
    assert len(dump.read_text().splitlines()) == 3 and "text 0" not in dump.read_text()
    assert main(["merge", str(dump), "--db", str(tmp_path / "b.db")]) == 0
    with Store(tmp_path / "b.db") as back:
        assert (
            back.run(run)["summary"] == {"n": 2} and [r.original_proba for r in back.results(run)] == [[0.1, 0.9]] * 2
        )
    assert main(["merge", str(tmp_path / "a.db"), "--db", str(dump)]) == 0  # merging again into the dump adds nothing
    assert len(dump.read_text().splitlines()) == 3
    capsys.readouterr()
    (tmp_path / "bad.jsonl").write_text('{"run": {"run_id": "x", "kind) VALUES (1); --": 1}}\n')
    assert main(["merge", str(tmp_path / "bad.jsonl"), "--db", str(tmp_path / "c.db")]) == 2
    assert "unknown fields" in capsys.readouterr().err
