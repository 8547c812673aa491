"""bench/worker_balance.py: the replay of fixed shards against claimed chunks."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "worker_balance", Path(__file__).resolve().parents[1] / "bench" / "worker_balance.py"
)
balance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(balance)


def test_claims_give_the_long_example_a_worker_of_its_own():
    seconds = [10.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # ideal on 2 workers: 7.5 s each
    assert balance.shards_over_ideal(seconds, 2) == pytest.approx(12 / 7.5)  # 10 + 1 + 1 on worker 0
    assert balance.claims_over_ideal(seconds, 2, chunk=1) == pytest.approx(10 / 7.5)  # worker 1 takes every short one
    assert balance.claims_over_ideal(seconds, 2, chunk=32) == pytest.approx(
        10 / 7.5
    )  # claims of 1/(4N) of 6 free: one at a time
    assert balance.claims_over_ideal([1.0] * 8, 2, chunk=4) == pytest.approx(1.0)
