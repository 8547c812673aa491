"""bench/defense_seeds.py: per-seed rows, their spread, the table, and the runs it shares with `arena match`."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import defense_seeds  # noqa: E402

from arena.store import ExampleResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(statuses: str, queries: int = 30) -> list[ExampleResult]:
    """Results from a string: f = failed (kept), s = succeeded, k = skipped (wrong when clean)."""
    names = {"f": "failed", "s": "succeeded", "k": "skipped"}
    return [
        ExampleResult(
            idx=i,
            example_id=f"ex{i}",
            label=1,
            original_text="t",
            status=names[c],
            queries=None if c == "k" else queries,
            words_changed=1,
            words_total=5,
        )
        for i, c in enumerate(statuses)
    ]


def test_seed_record_pairs_with_plain_on_the_same_examples():
    plain = run("fsssssssfk")  # keeps 2 of 10
    record = defense_seeds.seed_record(3, run("ffffsssssk", queries=40), plain)
    assert record["seed"] == 3 and record["clean"] == 0.9 and record["under_attack"] == 0.4
    assert record["x_plain"] == 2.0 and record["queries"] == 40.0
    low, high = record["x_plain_ci95"]
    assert low <= 2.0 and high is None  # plain's 2 kept of 10 resample to 0 often: the ratio is unbounded above


def test_spread_reports_the_range_and_the_lowest_interval_end():
    seeds = [{"x_plain": 2.1, "x_plain_ci95": [1.8, 2.6]}, {"x_plain": 2.4, "x_plain_ci95": [1.7, 3.0]}]
    assert defense_seeds.spread(seeds)["x_plain_range"] == [2.1, 2.4]
    assert defense_seeds.spread(seeds)["lowest_ci95_end"] == 1.7
    unbounded = defense_seeds.spread(seeds + [{"x_plain": None, "x_plain_ci95": [3.0, None]}])
    assert unbounded["x_plain_range"] is None and unbounded["lowest_ci95_end"] == 1.7


def test_merged_keeps_other_defenders_only_when_plain_and_settings_match():
    fresh = {
        "data": "mr?n=300",
        "settings": {"precision": "fp32"},
        "plain": {"under_attack": 0.2},
        "defenders": {"five": 1},
    }
    earlier = {**fresh, "defenders": {"five": 0, "fuse": 2}}
    assert defense_seeds.merged(earlier, fresh)["defenders"] == {"five": 1, "fuse": 2}
    for changed in ({"plain": {"under_attack": 0.3}}, {"settings": {"precision": "bf16"}}, {"data": "mr?n=100"}):
        assert defense_seeds.merged({**earlier, **changed}, fresh) == fresh
    assert defense_seeds.merged(None, fresh) == fresh


def test_render_lists_every_seed_and_a_range_line():
    plain = run("fsssssssfk")
    seeds = [
        defense_seeds.seed_record(s, run(statuses), plain) for s, statuses in enumerate(("ffffsssssk", "fffsssssss"))
    ]
    runs = [run(statuses) for statuses in ("ffffsssssk", "fffsssssss")]
    entry = {**defense_seeds.spread(seeds), **defense_seeds.pooled(runs, plain)}
    assert entry["x_plain_pooled"] == 1.75  # (4 + 3) / 2 kept against plain's 2
    text = defense_seeds.render(
        {"plain": {"clean": 0.9, "under_attack": 0.2, "queries": 30.0}, "defenders": {"five?std=0.1": entry}}, "title"
    )
    assert "| `five?std=0.1` | 0 | 0.900 | 0.400 | 2.00x plain" in text
    assert "| `five?std=0.1` | 1 | 1.000 | 0.300 | 1.50x plain" in text
    assert "- `five?std=0.1` over 2 seeds: 1.50x-2.00x plain; lowest 95% CI end" in text
    assert "pooled over the seeds 1.75x plain, 95% CI" in text


@pytest.mark.slow
def test_a_deterministic_defender_is_refused_before_anything_loads():
    out = subprocess.run(
        [sys.executable, "bench/defense_seeds.py", "--defenders", "five,fact"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and "['fact']" in out.stderr and "stochastic defense" in out.stderr
