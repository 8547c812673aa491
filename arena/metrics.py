"""Metrics computed from per-example results."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arena.results import ExampleResult
from arena.words import added_text


def accuracy(results: Sequence[ExampleResult]) -> float:
    """Share of examples whose original prediction equals the label."""
    if not results:
        return 0.0
    return sum(r.original_pred == r.label for r in results) / len(results)


def per_class_accuracy(results: Sequence[ExampleResult], label_names: Sequence[str]) -> dict[str, float | None]:
    """Accuracy (recall) per true class; None for a class with no examples."""
    out: dict[str, float | None] = {}
    for label, name in enumerate(label_names):
        group = [r for r in results if r.label == label]
        out[name] = sum(r.original_pred == label for r in group) / len(group) if group else None
    return out


def examples_per_second(results: Sequence[ExampleResult]) -> float | None:
    """Examples per second of model time, from the per-example seconds stored with each result."""
    seconds = sum(r.seconds or 0.0 for r in results)
    return len(results) / seconds if seconds > 0 else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def attack_summary(results: Sequence[ExampleResult]) -> dict:
    """TextAttack-style attack summary.

    clean accuracy = (succeeded + failed) / n; accuracy under attack = failed / n; attack
    success rate = succeeded / (succeeded + failed); perturbed-word % and similarity averaged
    over successful attacks; queries averaged over attacked (not skipped) examples.
    """
    succeeded = [r for r in results if r.status == "succeeded"]
    failed = [r for r in results if r.status == "failed"]
    attacked = succeeded + failed
    n = len(results)
    eps = examples_per_second(results)
    return {
        "n": n,
        "succeeded": len(succeeded),
        "failed": len(failed),
        "skipped": n - len(attacked),
        "clean_accuracy": round(len(attacked) / n, 4) if n else None,
        "accuracy_under_attack": round(len(failed) / n, 4) if n else None,
        "attack_success_rate": round(len(succeeded) / len(attacked), 4) if attacked else None,
        "avg_perturbed_words_pct": _round(_mean([100.0 * r.words_changed / max(1, r.words_total) for r in succeeded])),
        "avg_words_per_input": _round(_mean([float(r.words_total) for r in results if r.words_total is not None])),
        "avg_queries": _round(_mean([float(r.queries) for r in attacked if r.queries is not None])),
        "avg_similarity": _round(_mean([r.similarity for r in succeeded if r.similarity is not None]), 4),
        "examples_per_second": _round(eps, 3),
        **_rl_fields(succeeded, attacked),
    }


def ratio_under_attack(
    results: Sequence[ExampleResult],
    baseline: Sequence[ExampleResult],
    *,
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> dict:
    """Accuracy under attack of ``results`` ÷ the baseline's, on the examples both runs attacked,
    with a paired bootstrap interval (examples resampled together, so both runs see the same draw).

    Returns ``{"n", "ratio", "low", "high"}``; a ratio is ``inf`` where the baseline keeps no
    example and the other run keeps some (so a ``high`` of ``inf`` says the baseline's count is too
    small to bound the ratio), and 1 where neither keeps any.
    """
    out = ratio_over_seeds([results], baseline, level=level, resamples=resamples, seed=seed)
    return {key: out[key] for key in ("n", "ratio", "low", "high")}


def ratio_over_seeds(
    runs: Sequence[Sequence[ExampleResult]],
    baseline: Sequence[ExampleResult],
    *,
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> dict:
    """:func:`ratio_under_attack` for a randomized defender attacked at several defense seeds (one
    run each): its kept count is the mean over the seeds, and the interval resamples the seeds, then
    the examples (the same examples for every seed and the baseline), so it includes the spread the
    defense's randomness adds. Returns ``{"n", "seeds", "ratio", "low", "high", "per_seed"}``, the
    examples being those every run and the baseline attacked."""
    if not 0 < level < 1 or resamples < 1:
        raise ValueError(f"need 0 < level < 1 and resamples >= 1 (got {level}, {resamples})")
    if not runs:
        raise ValueError("no runs to compare")
    base = {r.example_id: r.status == "failed" for r in baseline}
    kept_by_run = [{r.example_id: r.status == "failed" for r in run} for run in runs]
    ids = [i for i in base if all(i in kept for kept in kept_by_run)]
    if not ids:
        raise ValueError("the runs share no example")
    kept = np.array([[run[i] for i in ids] for run in kept_by_run], dtype=float)  # (seeds, examples)
    base_kept = np.array([base[i] for i in ids], dtype=float)
    rng = np.random.default_rng(seed)
    examples = rng.integers(len(ids), size=(resamples, len(ids)))
    seeds = rng.integers(len(runs), size=(resamples, len(runs)))
    per_seed_sums = kept[:, examples].sum(axis=2)  # (seeds, resamples): each seed's kept count on each resample
    low, high = _interval(
        _ratio(np.take_along_axis(per_seed_sums.T, seeds, axis=1).mean(axis=1), base_kept[examples].sum(axis=1)), level
    )
    return {
        "n": len(ids),
        "seeds": len(runs),
        "ratio": float(_ratio(kept.sum(axis=1).mean(), base_kept.sum())),
        "low": low,
        "high": high,
        "per_seed": [float(_ratio(row.sum(), base_kept.sum())) for row in kept],
    }


def difference_under_attack(
    results: Sequence[ExampleResult],
    other: Sequence[ExampleResult],
    *,
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> dict:
    """Accuracy under attack of ``results`` minus ``other``'s on the examples both attacked, with a
    paired bootstrap interval: ``{"n", "difference", "low", "high"}``; the difference is significant
    when the interval excludes 0."""
    theirs = {r.example_id: r.status == "failed" for r in other}
    pairs = np.array(
        [(r.status == "failed", theirs[r.example_id]) for r in results if r.example_id in theirs], dtype=float
    )
    if not len(pairs):
        raise ValueError("the two runs share no example")
    gaps = pairs[:, 0] - pairs[:, 1]
    low, high = _interval(
        gaps[np.random.default_rng(seed).integers(len(gaps), size=(resamples, len(gaps)))].mean(axis=1), level
    )
    return {"n": len(gaps), "difference": float(gaps.mean()), "low": low, "high": high}


def seed_item_interval(values: np.ndarray, *, level: float = 0.95, resamples: int = 10_000, seed: int = 0) -> dict:
    """Mean of a ``(seeds, items)`` array with a bootstrap interval that resamples the seeds, then
    the items (the same items for every seed, so a paired difference of two such arrays keeps its
    pairing): ``{"mean", "low", "high", "seeds", "n"}``."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or not values.size:
        raise ValueError(f"seed_item_interval needs a non-empty (seeds, items) array (got shape {values.shape})")
    rng = np.random.default_rng(seed)
    n_seeds, n_items = values.shape
    seeds = rng.integers(n_seeds, size=(resamples, n_seeds))
    items = rng.integers(n_items, size=(resamples, n_items))
    per_seed = np.stack([values[:, row].mean(axis=1) for row in items])  # (resamples, seeds)
    low, high = _interval(np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1), level)
    return {"mean": float(values.mean()), "low": low, "high": high, "seeds": n_seeds, "n": n_items}


def _interval(resampled: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of a statistic's bootstrap resamples."""
    ordered, tail = np.sort(resampled), (1 - level) / 2
    return (
        float(ordered[int(np.floor(tail * len(ordered)))]),
        float(ordered[min(len(ordered) - 1, int(np.ceil((1 - tail) * len(ordered))) - 1)]),
    )


def ratio_record(versus: dict) -> dict:
    """A :func:`ratio_under_attack` result as a JSON file keeps it: ``{"ratio", "ci95": [low, high]}``,
    rounded to 2 digits, ``None`` for an unbounded (infinite) value."""
    finite = lambda value: None if value == float("inf") else round(value, 2)  # noqa: E731
    return {"ratio": finite(versus["ratio"]), "ci95": [finite(versus["low"]), finite(versus["high"])]}


def ratio_text(ratio: float | None, ci95: Sequence[float | None], baseline: str) -> str:
    """A stored ratio as tables show it, e.g. ``1.81x plain, 95% CI 1.50-2.24`` (None reads ``inf``)."""
    times = lambda value: "inf" if value is None else f"{value:.2f}"  # noqa: E731
    return f"{times(ratio)}x {baseline}, 95% CI {times(ci95[0])}-{times(ci95[1])}"


def _ratio(kept: np.ndarray, base_kept: np.ndarray) -> np.ndarray:
    """kept / base_kept, inf where only the base is 0, 1 where both are."""
    return np.where(base_kept > 0, kept / np.maximum(base_kept, 1), np.where(kept > 0, np.inf, 1.0))


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the texts' words (0 when there are none)."""
    grams = [tuple(words[i : i + n]) for words in (t.split() for t in texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(texts: Sequence[str], max_n: int = 4, limit: int = 500) -> float | None:
    """Mean BLEU (word n-grams up to ``max_n``, NLTK's smoothing 1) of each text against all the
    others as references: 1 when the texts repeat one another, near 0 when they share nothing; the
    first ``limit`` texts; None for fewer than two."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    tokens = [t.split() for t in texts if t.split()][:limit]
    if len(tokens) < 2:
        return None
    weights, smooth = (1 / max_n,) * max_n, SmoothingFunction().method1
    return float(
        np.mean(
            [
                sentence_bleu(tokens[:i] + tokens[i + 1 :], hyp, weights=weights, smoothing_function=smooth)
                for i, hyp in enumerate(tokens)
            ]
        )
    )


def diversity(texts: Sequence[str]) -> dict:
    """distinct-1, distinct-2 and self-BLEU of ``texts`` (the diversity measures of RL red teaming)."""
    return {
        "distinct_1": _round(distinct_n(texts, 1), 4),
        "distinct_2": _round(distinct_n(texts, 2), 4),
        "self_bleu": _round(self_bleu(texts), 4),
    }


def _rl_fields(succeeded: list[ExampleResult], attacked: list[ExampleResult]) -> dict:
    """RL policies' extras: attackers' tokens added and, with an evaluation judge, its agreement (the
    share of successes it still labels correctly); generators' reward-hacking gap and both target
    probabilities."""
    if any("gap" in r.extra for r in attacked):  # a generator policy: reward hacking against this defender
        return {
            "reward_hacking_gap": _round(_mean([r.extra["gap"] for r in attacked]), 4),
            "defender_target_p": _round(_mean([r.extra["defender_p"] for r in attacked]), 4),
            "judge_target_p": _round(_mean([r.extra["judge_p"] for r in attacked]), 4),
        }
    if not any("judge_keeps" in r.extra for r in attacked):
        return {}
    out = {
        "avg_added_tokens": _round(_mean([float(r.extra.get("added_tokens", 0)) for r in attacked])),
        **diversity([added_text(r.original_text, r.perturbed_text or "") for r in succeeded]),
    }
    keeps = [r.extra["eval_judge_keeps"] for r in succeeded if "eval_judge_keeps" in r.extra]
    if keeps:  # the selecting judge's own agreement is never reported: it chose the texts
        out["eval_judge_agreement"] = _round(_mean([float(k) for k in keeps]), 4)
    return out


def _round(value: float | None, digits: int = 2) -> float | None:
    return round(value, digits) if value is not None else None
