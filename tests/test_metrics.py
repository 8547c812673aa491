"""Accuracy-under-attack ratio with its paired bootstrap interval."""

import math

import numpy as np
import pytest

from arena.metrics import ratio_over_seeds, ratio_under_attack
from arena.store import ExampleResult


def run(kept: list[bool], start: int = 0) -> list[ExampleResult]:
    """Attack results on examples start.. : kept -> attack failed (the defender held), else succeeded."""
    return [
        ExampleResult(
            idx=i, example_id=f"ex{start + i}", label=1, original_text="t", status="failed" if k else "succeeded"
        )
        for i, k in enumerate(kept)
    ]


def test_ratio_and_interval_around_it():
    defended, plain = run([True] * 20 + [False] * 20), run([True] * 10 + [False] * 30)
    out = ratio_under_attack(defended, plain)
    assert out["n"] == 40 and out["ratio"] == 2.0
    assert 1.0 < out["low"] < 2.0 < out["high"]
    assert ratio_under_attack(plain, plain) == {"n": 40, "ratio": 1.0, "low": 1.0, "high": 1.0}


def test_the_bootstrap_is_paired():
    # the defender keeps every example plain keeps, and more: in every paired resample it keeps at
    # least as many, so the interval cannot go under 1 (resampling the runs apart would)
    defended = run([True] * 6 + [False] * 34)
    plain = run([True] * 5 + [False] * 35)
    assert ratio_under_attack(defended, plain)["low"] >= 1.0


def test_only_shared_examples_count_and_zero_baselines():
    defended = run([True, True, False, False])
    plain = run([True] * 5, start=2)  # shares ex2, ex3 only: kept 0 vs 2 (ex0, ex1 would make it more)
    assert ratio_under_attack(defended, plain) == {"n": 2, "ratio": 0.0, "low": 0.0, "high": 0.0}
    out = ratio_under_attack(run([True, False] * 10), run([False] * 20))
    assert math.isinf(out["ratio"]) and math.isinf(out["high"])
    with pytest.raises(ValueError, match="share no example"):
        ratio_under_attack(defended, run([True], start=10))


def test_the_interval_over_seeds_includes_the_defenses_randomness():
    plain = run([True] * 10 + [False] * 30)
    alike = [run([True] * 20 + [False] * 20)] * 3  # three seeds that agree: the examples' interval alone
    apart = [run([True] * 12 + [False] * 28), run([True] * 20 + [False] * 20), run([True] * 28 + [False] * 12)]
    same, spread = ratio_over_seeds(alike, plain), ratio_over_seeds(apart, plain)
    assert same["ratio"] == spread["ratio"] == 2.0 and spread["per_seed"] == [1.2, 2.0, 2.8] and spread["seeds"] == 3
    assert spread["low"] < same["low"] and spread["high"] > same["high"]  # seeds that disagree widen it
    single = ratio_over_seeds(alike[:1], plain)
    assert {key: single[key] for key in ("n", "ratio", "low", "high")} == ratio_under_attack(alike[0], plain)


def test_seed_item_interval_covers_the_mean_and_narrows_with_items():
    from arena.metrics import seed_item_interval

    rng = np.random.default_rng(0)
    small = seed_item_interval(rng.normal(1.0, 1.0, size=(3, 20)))
    large = seed_item_interval(rng.normal(1.0, 1.0, size=(3, 2000)))
    assert small["low"] < small["mean"] < small["high"] and (small["seeds"], small["n"]) == (3, 20)
    assert large["high"] - large["low"] < small["high"] - small["low"] and large["low"] < 1.0 < large["high"]
    assert seed_item_interval(np.ones((2, 5)))["low"] == 1.0
    with pytest.raises(ValueError, match="seeds, items"):
        seed_item_interval(np.ones(4))


def test_self_bleu_and_diversity_of_repeated_and_varied_texts():
    from arena.metrics import diversity, self_bleu

    assert self_bleu(["so bad but fun"] * 3) == pytest.approx(1.0)
    assert self_bleu(["so bad", "plot twist ahead", "never again friends"]) < 0.2
    assert self_bleu(["only one"]) is None
    varied = diversity(["so bad", "plot twist ahead"])
    assert varied["distinct_1"] == 1.0 and varied["distinct_2"] == 1.0 and varied["self_bleu"] < 0.2
