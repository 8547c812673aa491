"""Where a defense's inference time goes: seconds per example, split into the gradient pass
(SWITCH/FIVE word importance), the similarity check (SWITCH's MiniLM filter) and the rest
(scoring the group's alternatives or noisy copies, sampling, combining), each also as a multiple
of plain's seconds per example; for FuSE also the share of checked candidates that the
similarity check rejected (what the check's cost buys).

The first ``--n`` examples of ``--data``, timed as ``bench/firebert_table.py`` times them (batches
of 32 after one warm-up batch, similarity cache emptied: every candidate is embedded, as in a real
attack), one pass each (plain: the fastest of three).

    python bench/defense_cost.py --data ../shared/data/textfooler/imdb --n 32 \\
        --defenders 'fuse?use_similarity=true,fuse,five' [--precision fp32] [--json]

With ``--json`` the last line is one JSON object
``{"data", "n", "plain": {"seconds_per_example"}, "<defender>": {"seconds_per_example", "cost_ratio",
"gradient_x", "similarity_x", "rest_x", "checked", "rejected_pct"}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

from firebert_table import SHARED, inference_seconds

import defenses.five
import defenses.fuse
from arena.data import load_data
from arena.resources import PRECISIONS
from arena.similarity import SentenceSimilarity
from arena.zoo import build_defender
from defenses.switch import Switch

SPENT: dict[str, float] = defaultdict(float)
CHECKED = {"checked": 0, "rejected": 0}


def _timed(key: str, function):
    """``function`` with its wall time added to ``SPENT[key]``."""

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[key] += time.perf_counter() - started

    return wrapper


def _counted(similarities):
    """SWITCH's ``_similarities`` that also counts the candidates it checks and those it rejects."""

    def wrapper(self, groups):
        out = similarities(self, groups)
        CHECKED["checked"] += sum(len(sims) for sims in out)
        CHECKED["rejected"] += sum(int((sims <= 0).sum()) for sims in out)
        return out

    return wrapper


def _instrument() -> None:
    """Time the gradient pass (as FuSE and FIVE call it) and every similarity embedding; count
    SWITCH's checked and rejected candidates."""
    for module in (defenses.fuse, defenses.five):
        module.gradient_importance = _timed("gradient", module.gradient_importance)
    SentenceSimilarity.embed = _timed("similarity", SentenceSimilarity.embed)
    Switch._similarities = _counted(Switch._similarities)


def _reset_counters() -> None:
    SPENT.clear()
    CHECKED.update(checked=0, rejected=0)


def seconds_per_example(defender, texts: list) -> float:
    """One timed pass over ``texts`` (the table bench's timing), counters covering that pass only."""
    return inference_seconds(defender, texts, repeats=1, before_pass=_reset_counters)


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SHARED / "textfooler" / "imdb"))
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument(
        "--defenders", default="fuse?use_similarity=true,fuse,five", help="comma-separated defender specs"
    )
    parser.add_argument("--synonyms", default=f"neighbors:{SHARED / 'synonyms' / 'counterfitted_neighbors.json'}")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    texts = [ex.input for ex in load_data(args.data, n=args.n, sample="first").examples]
    options = {"max_length": args.max_length, "precision": args.precision}
    _instrument()
    # plain's one timed pass is short (MR: about a second), so it gets the table bench's three, the fastest counting
    plain = inference_seconds(build_defender("plain", "default", **options), texts, repeats=3)
    result = {"data": args.data, "n": len(texts), "plain": {"seconds_per_example": round(plain, 4)}}
    print(f"{len(texts)} examples of {args.data}; plain {plain * 1000:.1f} ms per example\n")
    print(
        "| defender | ms/example | x plain | gradient pass | similarity | rest | checked | rejected % |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for spec in filter(None, args.defenders.split(",")):
        total = seconds_per_example(build_defender(spec, "default", synonyms=args.synonyms, **options), texts)
        parts = {key: SPENT[key] / len(texts) / plain for key in ("gradient", "similarity")}
        parts["rest"] = total / plain - sum(parts.values())
        checked = CHECKED["checked"]
        rejected = round(100 * CHECKED["rejected"] / checked, 2) if checked else None
        result[spec] = {
            "seconds_per_example": round(total, 4),
            "cost_ratio": round(total / plain, 2),
            **{f"{key}_x": round(value, 2) for key, value in parts.items()},
            "checked": checked,
            "rejected_pct": rejected,
        }
        print(
            f"| {spec} | {total * 1000:.1f} | {total / plain:.2f} | "
            + " | ".join(f"{v:.2f}" for v in parts.values())
            + f" | {checked} | {'-' if rejected is None else rejected} |"
        )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
