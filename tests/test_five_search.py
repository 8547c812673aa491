"""bench/five_search.py: the settings it draws, the held-out slice and how trials rank."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import five_search  # noqa: E402


def test_draw_settings_starts_with_the_anchors_and_is_seeded():
    drawn = five_search.draw_settings(12, seed=0)
    assert drawn[:2] == five_search.ANCHORS and len(set(drawn)) == 12
    assert drawn == five_search.draw_settings(12, seed=0) and drawn[2:] != five_search.draw_settings(12, seed=1)[2:]
    assert five_search.draw_settings(1, seed=0) == five_search.ANCHORS[:1]
    for setting in drawn[2:]:
        values = dict(pair.split("=") for pair in setting.split("&"))
        assert 1 <= int(values["embeddings"]) <= 3 and 4 <= int(values["samples"]) <= 12
        assert 0.02 <= float(values["std"]) <= 1.0


def test_held_out_slices_after_skip_and_refuses_a_short_file(tmp_path):
    path = tmp_path / "mr"
    path.write_text("".join(f"{i % 2} review number {i} here\n" for i in range(10)))
    data = five_search.held_out(path, skip=6, n=3)
    assert [ex.text for ex in data.examples] == [f"review number {i} here" for i in (6, 7, 8)]
    with pytest.raises(SystemExit, match="fewer than --skip 6 \\+ --n 5"):
        five_search.held_out(path, skip=6, n=5)


def test_ranked_puts_eligible_trials_first_then_accuracy_then_queries():
    trials = [
        {"spec": "a", "eligible": False, "under_attack": 0.9, "queries": 30.0},
        {"spec": "b", "eligible": True, "under_attack": 0.4, "queries": 30.0},
        {"spec": "c", "eligible": True, "under_attack": 0.5, "queries": 30.0},
        {"spec": "d", "eligible": True, "under_attack": 0.4, "queries": 35.0},
    ]
    assert [t["spec"] for t in five_search.ranked(trials)] == ["c", "d", "b", "a"]


def test_trial_record_marks_a_trial_that_loses_too_much_clean_accuracy():
    summary = {"clean_accuracy": 0.80, "accuracy_under_attack": 0.5, "avg_queries": 33.0}
    versus = {"ratio": 2.0, "low": 1.5, "high": float("inf")}
    kept = five_search.trial_record("five?std=0.1", summary, versus, plain_clean=0.82, min_clean=0.97)
    assert kept["eligible"] and kept["x_plain"] == 2.0 and kept["x_plain_ci95"] == [1.5, None]
    assert not five_search.trial_record("five", summary, versus, plain_clean=0.83, min_clean=0.97)["eligible"]


def test_attack_order_is_the_shards_round_robin_or_the_chosen_trials_in_order():
    assert five_search.attack_order(14, shard=1, shards=4, only="") == [1, 5, 9, 13]
    assert five_search.attack_order(14, shard=0, shards=1, only="11,3,11") == [11, 3]
    for bad in ("14", "3,x", "3,,4", "-1"):
        with pytest.raises(SystemExit, match="below --trials 14"):
            five_search.attack_order(14, shard=0, shards=1, only=bad)


def test_render_names_the_defense_and_the_best_eligible_trial():
    trial = {
        "spec": "five+fact?std=0.1",
        "clean": 0.8,
        "under_attack": 0.4,
        "x_plain": 2.0,
        "x_plain_ci95": [1.5, 2.5],
        "queries": 30.0,
        "eligible": True,
    }
    result = {
        "defense": "five+fact",
        "plain": {"clean": 0.82, "under_attack": 0.2, "queries": 28.0},
        "trials": [trial],
        "best": trial["spec"],
    }
    table = five_search.render(result, "title")
    assert "| FIVE(FACT) settings |" in table and "| `five+fact?std=0.1` | 0.800 | 0.400 | 2.00x" in table
    assert table.rstrip().endswith("Best eligible: `five+fact?std=0.1`")
    assert five_search.render({**result, "best": None}, "title").rstrip().endswith("No eligible trial.")
