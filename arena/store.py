"""SQLite results store: runs and per-example results, written as they happen, resumable.

One database file (``--db PATH``, default ``./arena.db``) in WAL mode. A run's id is a hash
of its configuration, so re-running the same command finds the same run and skips the
examples already done; each result is committed on its own, so a ``kill -9`` loses at most
the examples in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path

from arena.command_seal import seal
from arena.results import STORED_MAX_LENGTH, ExampleResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,              -- eval | match | ...
    defender    TEXT NOT NULL,
    attacker    TEXT,
    data        TEXT NOT NULL,
    config      TEXT NOT NULL,              -- JSON of everything that defines the run
    created_at  REAL NOT NULL,
    finished_at REAL,
    summary     TEXT,                       -- JSON, set when the run completes
    command     TEXT                        -- JSON {"argv", "cwd", "seal"}: the `arena` command that last
                                            -- started it (`arena resume`)
);
CREATE TABLE IF NOT EXISTS results (
    run_id         TEXT NOT NULL REFERENCES runs(run_id),
    idx            INTEGER NOT NULL,        -- position of the example in the run's data
    example_id     TEXT NOT NULL,
    label          INTEGER NOT NULL,
    original_text  TEXT NOT NULL,
    text_pair      TEXT,
    original_pred  INTEGER,
    original_proba TEXT,                    -- JSON list
    perturbed_text TEXT,
    perturbed_pred INTEGER,
    perturbed_proba TEXT,
    status         TEXT NOT NULL,           -- correct | wrong (eval); succeeded | failed | skipped (attacks)
    queries        INTEGER,
    words_changed  INTEGER,
    words_total    INTEGER,
    similarity     REAL,
    seconds        REAL,
    extra          TEXT,                    -- JSON for attacker-specific fields
    created_at     REAL NOT NULL,
    PRIMARY KEY (run_id, example_id)
);
CREATE INDEX IF NOT EXISTS results_by_run ON results(run_id, idx);
"""


_JSON_FIELDS = ("original_proba", "perturbed_proba", "extra")
_COLUMNS = [f.name for f in fields(ExampleResult)]
_BLANK_TEXTS = {"original_text": "''", "text_pair": "NULL", "perturbed_text": "NULL"}  # `merge(texts=False)`
_PACE_WINDOW = 40  # a run's newest results, which tell how many processes are writing it


_ADDED_COLUMNS = (("runs", "command", "TEXT"),)
_RECORDING: list[dict] = []  # the `arena` commands whose runs are being started (innermost last)


@contextlib.contextmanager
def recording(command: dict | None) -> Iterator[None]:
    """Runs started inside remember ``command`` (``{"argv", "cwd"}``, the `arena` command line
    that started them), sealed, for ``arena resume``; None: as the enclosing ``recording`` (a
    resumed command keeps its own)."""
    if command is None:
        yield
        return
    _RECORDING.append(command)
    try:
        yield
    finally:
        _RECORDING.pop()


def recording_now() -> bool:
    """Whether a command is being recorded (an `arena` command, or one `arena resume` replays)."""
    return bool(_RECORDING)


def _processes_at_once(newest: list[tuple[float, float]]) -> int | None:
    """About how many processes wrote these (created_at, model seconds) results at once: their
    model seconds over the wall time in which any was being worked on, rounded, at least 1; None
    with under a minute of such time. A result was worked on in the seconds before it was stored;
    results stored within a second of each other are one batch, worked on one after another; time
    in which nothing ran (a stop before a resume) does not count."""
    batches: list[list[float]] = []  # [stored at, model seconds] per batch, oldest first
    for stored, seconds in sorted(newest):
        if batches and stored - batches[-1][0] <= 1:
            batches[-1][0], batches[-1][1] = stored, batches[-1][1] + seconds
        else:
            batches.append([stored, seconds])
    busy, reached = 0.0, float("-inf")
    for began, ended in sorted((stored - seconds, stored) for stored, seconds in batches):
        busy += max(0.0, ended - max(began, reached))
        reached = max(reached, ended)
    if busy < 60:
        return None
    return max(1, round(sum(seconds for _, seconds in batches) / busy))


def pick_run(ids: Sequence[str], prefix: str, where: str | Path) -> str:
    """The one of the run ids ``ids`` (those of store ``where``) that starts with ``prefix`` (the
    full id, or enough of it to tell it apart), or a clear error."""
    if not prefix:
        raise ValueError("give a run id (`arena runs` lists them)")
    found = [run_id for run_id in ids if run_id.startswith(prefix)]
    if len(found) != 1:
        raise ValueError(
            f"{where}: "
            + (
                f"no run id starts with {prefix!r} (`arena runs` lists them)"
                if not found
                else f"{len(found)} run ids start with {prefix!r}: {', '.join(sorted(found))}"
            )
        )
    return found[0]


IDENTITY_KEYS = (
    "precision",
    "max_length",
    "similarity_check",
)  # settings that tell runs of one name apart (arena.classifier.run_identity)


def identity_of(config: dict) -> dict:
    """The settings of a stored run's ``config`` that its names leave out (``IDENTITY_KEYS``), less
    the default max_length (which a match's config always records)."""
    return {
        key: config[key]
        for key in IDENTITY_KEYS
        if key in config and (key, config[key]) != ("max_length", STORED_MAX_LENGTH)
    }


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the results store at ``path`` (checked to be one), also where
    SQLite cannot write its shared-memory file beside it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results store")
    for options in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True, timeout=30)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            break
        except sqlite3.OperationalError as exc:
            problem = exc
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{path}: cannot be read as a results store (SQLite: {exc})") from None
    else:
        raise ValueError(f"{path}: cannot be read as a results store (SQLite: {problem})") from None
    if not {"runs", "results"} <= tables:
        conn.close()
        raise ValueError(f"{path}: not a results store (no runs/results tables)")
    return conn


def store_problem(exc: sqlite3.Error) -> str:
    """What a SQLite error met in the middle of a command means for the user, in one line."""
    text = str(exc)
    if "malformed" in text or "not a database" in text:
        return (
            f"the results store is corrupt (SQLite: {text}); "
            "check it with `sqlite3 FILE 'PRAGMA integrity_check'`, or use a new --db"
        )
    if "full" in text:
        return f"the disk is full (SQLite: {text}); free some space and run the command again: it resumes"
    if "readonly" in text or "read-only" in text:
        return f"the results store cannot be written (SQLite: {text}); use a --db you may write to"
    return f"the results store failed (SQLite: {text})"


def run_id_for(config: dict) -> str:
    """Stable id of a run: a hash of its configuration (same command -> same run)."""
    blob = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


class Store:
    """Runs and per-example results in one SQLite file."""

    def __init__(self, path: str | Path = "arena.db", read_only: bool = False):
        """Open (or create) the store at ``path``. ``read_only``: for a command that only reads, a
        store this process may not write (read-only media, another user's file) opens read-only
        instead of failing (a writable one opens as usual, so an older store gets its new columns)."""
        self.path = Path(path)
        if read_only and self.path.is_file() and not os.access(self.path, os.W_OK):
            self.conn = connect_read_only(self.path)
            self.conn.row_factory = sqlite3.Row
            return
        if not self.path.parent.exists():
            raise FileNotFoundError(f"--db {path}: folder {self.path.parent} does not exist")
        if not self.path.parent.is_dir():
            raise NotADirectoryError(f"--db {path}: {self.path.parent} is a file, not a folder")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        except sqlite3.OperationalError as exc:  # e.g. a folder of that name, or no write permission
            raise ValueError(f"--db {path}: cannot open or create it (SQLite: {exc})") from None
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
            for table, column, declaration in _ADDED_COLUMNS:  # a store from before they were added
                if column not in {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise ValueError(f"--db {path}: cannot be opened as a results store (SQLite: {exc})") from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_run(self, kind: str, defender: str, data: str, config: dict, attacker: str | None = None) -> str:
        """Create the run if new; return its id either way (resume = same id). Inside
        :func:`recording` (the ``arena`` command line) the run also records that command, for ``arena resume``."""
        full = {"kind": kind, "defender": defender, "attacker": attacker, "data": data, **config}
        run_id = run_id_for(full)
        self.conn.execute(
            "INSERT OR IGNORE INTO runs(run_id, kind, defender, attacker, data, config, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (run_id, kind, defender, attacker, data, json.dumps(full, sort_keys=True, default=str), time.time()),
        )
        if _RECORDING:  # started by the `arena` command line: remembered, sealed, for `arena resume`
            command = dict(_RECORDING[-1])
            if command.get("replayable", True):
                command["seal"] = seal(command, self.path)
            self.conn.execute("UPDATE runs SET command=? WHERE run_id=?", (json.dumps(command), run_id))
        return run_id

    def done_ids(self, run_id: str) -> set[str]:
        """Example ids that already have a result in this run."""
        return {row[0] for row in self.conn.execute("SELECT example_id FROM results WHERE run_id=?", (run_id,))}

    def seconds_per_result(self, run_id: str) -> float | None:
        """A run's mean model seconds per stored result (None before its first)."""
        count, seconds = self.conn.execute(
            "SELECT COUNT(*), SUM(seconds) FROM results WHERE run_id=?", (run_id,)
        ).fetchone()
        return seconds / count if count and seconds else None

    def add_results(self, run_id: str, results: Iterable[ExampleResult]) -> int:
        """Write results in one transaction; an example already stored is kept, not duplicated. Returns rows added."""
        rows = []
        now = time.time()
        for result in results:
            values = asdict(result)
            for key in _JSON_FIELDS:
                if values[key] is not None:
                    values[key] = json.dumps(values[key])
            rows.append((run_id, *(values[c] for c in _COLUMNS), now))
        if not rows:
            return 0
        placeholders = ",".join("?" * (len(_COLUMNS) + 2))
        with self.conn:
            self.conn.execute("BEGIN")
            before = self.conn.total_changes
            self.conn.executemany(
                f"INSERT OR IGNORE INTO results(run_id, {', '.join(_COLUMNS)}, created_at) VALUES ({placeholders})",
                rows,
            )
            return self.conn.total_changes - before

    def results(self, run_id: str) -> list[ExampleResult]:
        """A run's results in data order."""
        out = []
        for row in self.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM results WHERE run_id=? ORDER BY idx", (run_id,)
        ):
            values = dict(row)
            for key in _JSON_FIELDS:
                if values[key] is not None:
                    values[key] = json.loads(values[key])
            if values["extra"] is None:
                values["extra"] = {}
            out.append(ExampleResult(**values))
        return out

    def finish_run(self, run_id: str, summary: dict) -> None:
        """Record the run's summary and completion time."""
        self.conn.execute(
            "UPDATE runs SET finished_at=?, summary=? WHERE run_id=?", (time.time(), json.dumps(summary), run_id)
        )

    def find_run(self, prefix: str) -> str:
        """The id of the one run whose id starts with ``prefix`` (the full id, or enough of it to
        tell it apart), or a clear error."""
        return pick_run([row[0] for row in self.conn.execute("SELECT run_id FROM runs")], prefix, self.path)

    def run(self, run_id: str) -> dict | None:
        """A run's row as a dict (config, summary and command decoded), or None."""
        row = self.conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"]) if out["summary"] else None
        out["command"] = json.loads(out["command"]) if out["command"] else None
        return out

    def progress(self, kind: str | None = None) -> list[dict]:
        """Where each run stands, newest first (optionally of one kind): its id, kind, names, its
        data size ``n`` (None for tournaments), ``done`` results by ``status``, their stored model
        seconds, the newest result's time, whether the run finished, ``identity``: the settings its
        names leave out (``IDENTITY_KEYS``, e.g. ``{"precision": "bf16"}``), and ``at_once``: how many
        processes (``--workers``, shards) were working on it over its newest results; None: too few results."""
        tally: defaultdict[str, dict] = defaultdict(lambda: {"statuses": {}, "seconds": 0.0, "last_result_at": None})
        for run_id, status, count, seconds, last in self.conn.execute(
            "SELECT run_id, status, COUNT(*), SUM(seconds), MAX(created_at) FROM results GROUP BY run_id, status"
        ):
            entry = tally[run_id]
            entry["statuses"][status] = count
            entry["seconds"] += seconds or 0.0
            entry["last_result_at"] = max(entry["last_result_at"] or last, last)
        recent: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
        for run_id, created_at, seconds in self.conn.execute(
            "SELECT run_id, created_at, seconds FROM (SELECT run_id, created_at, seconds, ROW_NUMBER() OVER "
            "(PARTITION BY run_id ORDER BY created_at DESC) AS newest FROM results) WHERE newest <= ?",
            (_PACE_WINDOW,),
        ):
            recent[run_id].append((created_at, seconds or 0.0))
        out = []
        for run in self.runs(kind):
            entry = tally[run["run_id"]] | {"at_once": _processes_at_once(recent[run["run_id"]])}
            out.append(
                {
                    key: run[key]
                    for key in (
                        "run_id",
                        "kind",
                        "defender",
                        "attacker",
                        "data",
                        "created_at",
                        "finished_at",
                        "command",
                    )
                }
                | {
                    "n": None if run["kind"] == "tournament" else run["config"].get("n"),
                    "identity": identity_of(run["config"]),
                    "done": sum(entry["statuses"].values()),
                    **entry,
                }
            )
        return out

    def merge(self, other: str | Path, runs: Sequence[str] | None = None, texts: bool = True) -> dict[str, int]:
        """Copy another store's runs and results into this one (one run split over machines with
        ``arena match --shard``; ``runs``: only these runs, by id or a unique start of one): a result
        already here is kept, not duplicated (same run id, same configuration); a run finished there
        is marked finished here. ``texts=False`` copies results without their texts (original, pair
        and perturbed), for a store to share when the data may not be passed on; outcomes, queries,
        counts, probabilities and the changed words stay. Returns the counts added."""
        path = Path(other)
        if not path.is_file():
            raise FileNotFoundError(f"{other}: no such results store")
        if path.resolve() == self.path.resolve():
            raise ValueError(f"{other}: cannot merge a store into itself")
        if path.suffix == ".jsonl":  # a dump (:meth:`dump`): read through a scratch SQLite copy
            with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "dump.db") as scratch:
                scratch.load(path)
                scratch.close()
                return self.merge(scratch.path, runs, texts)
        source = connect_read_only(path)
        source.row_factory = sqlite3.Row
        try:
            stored = [dict(row) for row in source.execute("SELECT * FROM runs")]
            columns = [column if texts else _BLANK_TEXTS.get(column, column) for column in _COLUMNS]
            query, chosen = f"SELECT run_id, {', '.join(columns)}, created_at FROM results", []
            if runs is not None:  # only the chosen runs' results are read
                chosen = sorted({pick_run([run["run_id"] for run in stored], prefix, other) for prefix in runs})
                stored = [run for run in stored if run["run_id"] in chosen]
                query += f" WHERE run_id IN ({','.join('?' * len(chosen))})"
            results = [tuple(row) for row in source.execute(query, chosen)]
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{other}: cannot be read as a results store (SQLite: {exc})") from None
        finally:
            source.close()
        run_columns = (
            "run_id",
            "kind",
            "defender",
            "attacker",
            "data",
            "config",
            "created_at",
            "finished_at",
            "summary",
        )
        with self.conn:
            self.conn.execute("BEGIN")
            before = self.conn.total_changes
            self.conn.executemany(
                f"INSERT OR IGNORE INTO runs({', '.join(run_columns)}) VALUES ({','.join('?' * len(run_columns))})",
                [tuple(run[c] for c in run_columns) for run in stored],
            )
            added_runs = self.conn.total_changes - before
            self.conn.executemany(
                "UPDATE runs SET finished_at=?, summary=? WHERE run_id=? AND finished_at IS NULL",
                [
                    (run["finished_at"], run["summary"], run["run_id"])
                    for run in stored
                    if run["finished_at"] is not None
                ],
            )
            before = self.conn.total_changes
            self.conn.executemany(
                f"INSERT OR IGNORE INTO results(run_id, {', '.join(_COLUMNS)}, created_at) "
                f"VALUES ({','.join('?' * (len(_COLUMNS) + 2))})",
                results,
            )
            return {"runs": added_runs, "results": self.conn.total_changes - before}

    def dump(self, path: str | Path) -> None:
        """Write every run and result as JSON lines (``{"run": ...}`` then ``{"result": ...}``, the
        stored columns as they are): the text form of a store, to commit or share; ``arena merge``
        reads it back. Written to a temporary file first, so a dump is whole or absent."""
        path = Path(path)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in self.conn.execute("SELECT * FROM runs ORDER BY created_at, run_id"):
                handle.write(json.dumps({"run": dict(row)}, sort_keys=True) + "\n")
            for row in self.conn.execute("SELECT * FROM results ORDER BY run_id, idx"):
                handle.write(json.dumps({"result": dict(row)}, sort_keys=True) + "\n")
        os.replace(tmp, path)

    def load(self, path: str | Path) -> None:
        """Insert the runs and results of a :meth:`dump` (kept where already here)."""
        rows: dict[str, list[dict]] = {"run": [], "result": []}
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    ((kind, row),) = json.loads(line).items()
                    rows[kind].append(row)
                except (ValueError, KeyError, AttributeError):
                    raise ValueError(
                        f'{path}:{number}: not a line of a results dump ({{"run": ...}} or {{"result": ...}})'
                    ) from None
        for table, kind in (("runs", "run"), ("results", "result")):
            known = {column[1] for column in self.conn.execute(f"PRAGMA table_info({table})")}
            unknown = sorted({key for row in rows[kind] for key in row} - known)
            if unknown:
                raise ValueError(f"{path}: {kind} rows with unknown fields {unknown[:3]}; not a results dump")
        with self.conn:
            self.conn.execute("BEGIN")
            for table, kind in (("runs", "run"), ("results", "result")):
                for row in rows[kind]:
                    self.conn.execute(
                        f"INSERT OR IGNORE INTO {table}({', '.join(row)}) VALUES ({','.join('?' * len(row))})",
                        tuple(row.values()),
                    )

    def runs(self, kind: str | None = None) -> list[dict]:
        """All runs (optionally of one kind), newest first."""
        query = "SELECT run_id FROM runs" + (" WHERE kind=?" if kind else "") + " ORDER BY created_at DESC"
        return [self.run(row[0]) for row in self.conn.execute(query, (kind,) if kind else ())]
