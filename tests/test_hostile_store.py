"""Stores are data, never code: `arena resume` replays only commands this user recorded in the store's folder."""

from __future__ import annotations

import json
import stat

import pytest

from arena.cli import build_parser, main, recorded_command
from arena.command_seal import is_sealed, seal, secret_path
from arena.store import Store


def crafted(db, command) -> str:
    """A store holding one unfinished run whose recorded command is ``command`` (written by hand)."""
    with Store(db) as store:
        run_id = store.start_run("eval", "plain[default]", "builtin?n=2", {"n": 2})
        store.conn.execute("UPDATE runs SET command=? WHERE run_id=?", (json.dumps(command), run_id))
    return run_id


@pytest.mark.parametrize("forged_seal", [None, "0" * 64])
def test_a_crafted_command_is_printed_not_run(tmp_path, monkeypatch, capsys, forged_seal):
    monkeypatch.chdir(tmp_path)
    evidence = tmp_path / "evidence.db"
    command = {
        "argv": [
            "eval",
            "--classifier",
            "subprocess:getoutput",
            "--data",
            "builtin",
            "--n",
            "2",
            "--db",
            str(evidence),
        ],
        "cwd": ".",
    }
    if forged_seal:
        command["seal"] = forged_seal
    run_id = crafted(tmp_path / "got.db", command)
    assert main(["resume", run_id, "--db", str(tmp_path / "got.db")]) == 2
    err = capsys.readouterr().err
    assert "not recorded by you in this store's folder" in err and "arena eval --classifier subprocess:getoutput" in err
    assert not evidence.exists()  # nothing ran


def test_a_seal_binds_the_command_and_the_folder(tmp_path):
    command = {"argv": ["eval", "--db", "a.db"], "cwd": str(tmp_path)}
    sealed = {**command, "seal": seal(command, tmp_path / "a.db")}
    assert is_sealed(sealed, tmp_path / "a.db") and is_sealed(sealed, tmp_path / "b.db")  # same folder
    assert not is_sealed(sealed, tmp_path / "other" / "a.db")
    assert not is_sealed({**sealed, "argv": ["eval", "--db", "b.db"]}, tmp_path / "a.db")
    assert not is_sealed({**sealed, "cwd": "."}, tmp_path / "a.db")
    assert stat.S_IMODE(secret_path().stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "command", [["eval"], {"argv": "eval --n 2", "cwd": "."}, {"argv": ["eval", 3], "cwd": "."}, {"argv": ["eval"]}]
)
def test_a_malformed_command_is_one_line(tmp_path, capsys, command):
    run_id = crafted(tmp_path / "got.db", command)
    assert main(["resume", run_id, "--db", str(tmp_path / "got.db")]) == 2
    err = capsys.readouterr().err
    assert "malformed" in err and err.count("\n") == 1


def test_callables_from_outside_the_store_folder_are_never_replayable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.py").write_text("def probs(texts):\n    return [[0.5, 0.5] for _ in texts]\n")
    parse = build_parser().parse_args
    for argv, replayable in (
        (["eval", "--classifier", "subprocess:getoutput", "--db", "r.db"], False),
        (["eval", "--classifier", "os:system", "--db", "r.db"], False),
        (["match", "--classifier", "fuse", "--base", "subprocess:getoutput", "--db", "r.db"], False),
        (["eval", "--classifier", "mine.py:probs", "--db", "r.db"], True),
        (["eval", "--classifier", "mine:probs", "--db", "r.db"], True),
        (["eval", "--classifier", "mine.py:probs", "--db", str(tmp_path / "sub" / "r.db")], False),
        (["eval", "--classifier", "default", "--db", "r.db"], True),
    ):
        assert recorded_command(parse(argv), argv).get("replayable", True) is replayable, argv


def test_a_command_with_an_outside_callable_is_recorded_but_not_replayed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "mine.py").write_text("from test_classifier import keyword_probs as probs\n")
    db = str(tmp_path / "runs" / "r.db")
    assert main(["eval", "--classifier", "mine.py:probs", "--data", "builtin", "--n", "4", "--db", db]) == 0
    with Store(db) as store:
        (run,) = store.runs()
        assert run["command"]["replayable"] is False and "seal" not in run["command"]
        store.conn.execute("UPDATE runs SET finished_at = NULL")
    capsys.readouterr()
    assert main(["resume", run["run_id"], "--db", db]) == 2
    err = capsys.readouterr().err
    assert "outside the store's folder" in err and "arena eval --classifier mine.py:probs" in err


def a_store_with_runs(tmp_path, monkeypatch, capsys) -> str:
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "r.db")
    for n in ("4", "6"):
        assert (
            main(["eval", "--classifier", "test_classifier:keyword_probs", "--data", "builtin", "--n", n, "--db", db])
            == 0
        )
    capsys.readouterr()
    return db


def test_a_corrupt_store_is_one_line_and_merge_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    import sqlite3

    db = a_store_with_runs(tmp_path, monkeypatch, capsys)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(db, "r+b") as handle:  # pages after the header overwritten
        handle.seek(4096)
        handle.write(b"\xff" * 8192)
    for argv in (
        ["runs", "--db", db],
        ["export", "abc", "--db", db],
        ["eval", "--classifier", "test_classifier:keyword_probs", "--data", "builtin", "--n", "2", "--db", db],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("corrupt" in err or "cannot be" in err), err
    target = tmp_path / "merged.db"
    assert main(["merge", db, "--db", str(target)]) == 2 and not target.exists()
    assert "arena merge: error:" in capsys.readouterr().err


def test_read_only_commands_open_stores_read_only(tmp_path, monkeypatch, capsys):
    import os
    import sqlite3

    db = a_store_with_runs(tmp_path, monkeypatch, capsys)
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)  # a file this process may not write
    with Store(db, read_only=True) as store:
        assert len(store.runs()) == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("DELETE FROM runs")
    assert main(["runs", "--db", db]) == 0 and main(["export", "ffff", "--db", db]) == 2
    assert "no run id starts with 'ffff'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not a results store"):
        sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t(x)").connection.commit()
        Store(tmp_path / "other.db", read_only=True)
    monkeypatch.undo()


@pytest.mark.parametrize(
    "message, meaning",
    [
        ("database or disk is full", "the disk is full"),
        ("database disk image is malformed", "corrupt"),
        ("attempt to write a readonly database", "cannot be written"),
    ],
)
def test_sqlite_errors_read_as_what_they_mean(message, meaning):
    import sqlite3

    from arena.store import store_problem

    assert meaning in store_problem(sqlite3.OperationalError(message))


def test_pool_workers_die_with_their_launcher_even_after_kill_minus_nine(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "launcher.py"
    script.write_text(
        "import os, sys, time\n"
        "from arena.executor import make_executor\n"
        "def nap(x):\n"
        f"    open(os.path.join({str(tmp_path)!r}, f'worker{{x}}.pid'), 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    list(make_executor(2, backend='process').map(nap, [0, 1]))\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    files = [tmp_path / f"worker{i}.pid" for i in range(2)]
    deadline = time.monotonic() + 60
    while not all(f.exists() and f.read_text() for f in files):
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.1)
    children = [int(f.read_text()) for f in files]
    os.kill(parent.pid, signal.SIGKILL)  # no chance to stop its workers
    parent.wait()
    deadline = time.monotonic() + 5
    for child in children:
        while True:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "a worker outlived its launcher"
            time.sleep(0.1)
