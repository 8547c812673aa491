"""The one executor: serial, a local process pool and a local Ray give the same per-example results."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import pytest

from arena.executor import SerialExecutor, WorkerFailed, make_executor


def _square(x: int) -> int:
    return x * x


def _fail(x: int) -> int:
    raise ValueError(f"bad item {x}")


def test_make_executor_picks_the_backend_and_checks_its_arguments():
    assert isinstance(make_executor(1), SerialExecutor)
    assert sorted(SerialExecutor().map(_square, [1, 2, 3])) == [(0, 1), (1, 4), (2, 9)]
    with pytest.raises(ValueError, match="at least 1"):
        make_executor(0)
    with pytest.raises(ValueError, match="backend must be one of"):
        make_executor(2, backend="threads")


@pytest.mark.slow
def test_process_pool_returns_every_result_and_names_a_failure():
    executor = make_executor(2, backend="process")
    try:
        assert sorted(executor.map(_square, list(range(6)))) == [(i, i * i) for i in range(6)]
        with pytest.raises(WorkerFailed, match="a worker failed: bad item"):
            list(executor.map(_fail, [1, 2]))
    finally:
        executor.close()


def _attack(tmp_path: Path, name: str, executor) -> dict:
    """Per-example outcome of the toy TextFooler match on ``executor``."""
    from test_cli import _toy_match

    from arena.cli import _attack_options, _match_key, _matchup_template, build_parser, load_classifier_from_args
    from arena.data import load_data
    from arena.match import run_match
    from arena.matchup import Matchup
    from arena.store import Store
    from arena.zoo import build_attacker

    args = build_parser().parse_args(["match", *_toy_match(tmp_path), "--db", str(tmp_path / f"{name}.db")])
    defender = load_classifier_from_args(args, args.classifier)
    attacker = build_attacker(args.attacker, _attack_options(args))
    matchup = Matchup(**{**asdict(_matchup_template(args)), "defender": args.classifier, "attacker": args.attacker})
    with Store(args.db) as store:
        summary = run_match(
            defender,
            attacker,
            load_data(args.data),
            store,
            **_match_key(args, args.classifier),
            progress=False,
            executor=executor,
            matchup=matchup,
        )
        results = store.results(summary["run_id"])
    return {
        r.example_id: (
            r.status,
            r.perturbed_text,
            r.perturbed_proba,
            r.queries,
            r.words_changed,
            r.extra.get("changed"),
        )
        for r in results
    }


@pytest.mark.slow
def test_serial_two_local_workers_and_two_ray_workers_give_identical_results(tmp_path, monkeypatch):
    tests = str(Path(__file__).parent)  # the workers import test_classifier from here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))
    serial = _attack(tmp_path, "serial", SerialExecutor())
    assert len(serial) == 6 and any(status == "succeeded" for status, *_ in serial.values())
    for backend in ("process", "ray"):
        executor = make_executor(2, backend=backend)
        try:
            assert _attack(tmp_path, backend, executor) == serial, backend
        finally:
            executor.close()
