"""Stochastic defenses under active TextFooler at several defense seeds, each against plain's attack.

FuSE and FIVE draw their alternatives or noise from a seed, so one attack measures one draw of the
defense. This attacks each ``--defenders`` entry at defense seeds 0 to ``--seeds``-1 on the first
``--n`` examples of ``--data`` and reports, per seed, clean accuracy, accuracy under attack, that
accuracy ÷ plain's on the same examples (with a 95 % paired bootstrap interval, 10,000 resamples
of the examples) and the queries the attacker needed; per defender, the range of those ratios and
the lowest interval end, i.e. whether a bar like "2x plain" holds at every seed, and the ratio
pooled over the seeds with an interval that resamples the seeds, then the examples, so that it
includes the spread the defense's randomness adds.

Runs are stored (``--db``, resumable) under the names ``arena match`` gives them for the same
``--data``, ``--n``, ``--synonyms``, ``--max-length`` and ``--precision``, typed the same way: a
seed attacked with ``arena match --classifier SPEC --defense-seed S --sample first ...`` is picked up, not
attacked again. So the attacks can run in several processes at once (``arena match`` per seed, or
this bench per defender) and a last run, with nothing left to attack, assembles the table.

    python bench/defense_seeds.py --data ../shared/data/textfooler/mr --n 300 \\
        --defenders 'five?embeddings=2&std=0.0646&samples=7,five+fact?embeddings=2&std=0.0646&samples=7' \\
        --seeds 4 --precision fp32 --db runs/firebert.db [--json]

Writes ``bench/results/defense_seeds_<data>.{md,json}`` (defenders of an earlier run on the same
data, settings and plain attack stay in it); with ``--json`` the last line is one
JSON object ``{"plain": {"clean", "under_attack", "queries"}, "defenders": {spec: {"seeds":
[{"seed", "clean", "under_attack", "x_plain", "x_plain_ci95", "queries"}, ...], "x_plain_range":
[low, high], "lowest_ci95_end": ..., "x_plain_pooled": ..., "x_plain_pooled_ci95": [low, high]}}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from firebert_table import RESULTS, SHARED, attack_key, attack_options, relative

from arena.attack import Attacker
from arena.data import LabelledData, load_data
from arena.match import run_match
from arena.metrics import attack_summary, ratio_over_seeds, ratio_record, ratio_text, ratio_under_attack
from arena.resources import PRECISIONS
from arena.store import ExampleResult, Store
from arena.zoo import STOCHASTIC, build_attacker, build_defender, data_name, is_stochastic


def seed_record(seed: int, results: list[ExampleResult], plain: list[ExampleResult]) -> dict:
    """One seed's row: its attack summary and its ratio to plain's accuracy under attack."""
    summary, ratio = attack_summary(results), ratio_record(ratio_under_attack(results, plain))
    return {
        "seed": seed,
        "clean": summary["clean_accuracy"],
        "under_attack": summary["accuracy_under_attack"],
        "x_plain": ratio["ratio"],
        "x_plain_ci95": ratio["ci95"],
        "queries": summary["avg_queries"],
    }


def spread(seeds: list[dict]) -> dict:
    """A defender's seeds in brief: the range of their ratios to plain and the lowest interval end
    (None where some ratio or end is unbounded)."""
    ratios, lows = [s["x_plain"] for s in seeds], [s["x_plain_ci95"][0] for s in seeds]
    return {
        "seeds": seeds,
        "x_plain_range": [min(ratios), max(ratios)] if None not in ratios else None,
        "lowest_ci95_end": min(lows) if None not in lows else None,
    }


def pooled(runs: list[list[ExampleResult]], plain: list[ExampleResult]) -> dict:
    """The ratio to plain pooled over a defender's seeds, with the interval that resamples the
    seeds, then the examples (:func:`arena.metrics.ratio_over_seeds`)."""
    record = ratio_record(ratio_over_seeds(runs, plain))
    return {"x_plain_pooled": record["ratio"], "x_plain_pooled_ci95": record["ci95"]}


def render(result: dict, title: str) -> str:
    """The markdown table: plain, then each defender's seeds and a line for its range."""
    plain = result["plain"]
    lines = [
        f"# {title}",
        "",
        "| defender | defense seed | clean | under attack | x plain (95% CI) | queries |",
        "|---|---:|---:|---:|---|---:|",
        f"| plain | - | {plain['clean']:.3f} | {plain['under_attack']:.3f} | 1.00x | {plain['queries']:.2f} |",
    ]
    for spec, entry in result["defenders"].items():
        for s in entry["seeds"]:
            lines.append(
                f"| `{spec}` | {s['seed']} | {s['clean']:.3f} | {s['under_attack']:.3f} | "
                f"{ratio_text(s['x_plain'], s['x_plain_ci95'], 'plain')} | {s['queries']:.2f} |"
            )
    lines.append("")
    for spec, entry in result["defenders"].items():
        low, high = entry["x_plain_range"] or (None, None)
        span = "unbounded" if low is None else f"{low:.2f}x-{high:.2f}x plain"
        end = "unbounded" if entry["lowest_ci95_end"] is None else f"{entry['lowest_ci95_end']:.2f}x"
        pooled = (
            (
                f"; pooled over the seeds {ratio_text(entry['x_plain_pooled'], entry['x_plain_pooled_ci95'], 'plain')} "
                "(seeds and examples resampled)"
            )
            if "x_plain_pooled" in entry
            else ""
        )
        lines.append(f"- `{spec}` over {len(entry['seeds'])} seeds: {span}; lowest 95% CI end {end}{pooled}")
    return "\n".join(lines) + "\n"


def merged(earlier: dict | None, fresh: dict) -> dict:
    """The results file after this run: the earlier file's other defenders are kept when it was made
    on the same data, settings and plain attack (their ratios pair with it); otherwise it is replaced."""
    same = earlier is not None and all(earlier.get(key) == fresh[key] for key in ("data", "settings", "plain"))
    return {**fresh, "defenders": {**earlier["defenders"], **fresh["defenders"]}} if same else fresh


def attack(spec: str, seed: int, args, data: LabelledData, store: Store, attacker: Attacker) -> list[ExampleResult]:
    """Run (or resume) one defender at one defense seed with the TextFooler ``attacker``, stored as
    ``arena match`` stores it; its stored results."""
    defender = build_defender(
        spec, "default", synonyms=args.synonyms, seed=seed, max_length=args.max_length, precision=args.precision
    )
    key = attack_key(spec, args.data, args.n, args, seed)
    return store.results(run_match(defender, attacker, data, store, **key, progress=not args.json)["run_id"])


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default=relative(SHARED / "textfooler" / "mr"), help="data file, typed as for `arena match`"
    )
    parser.add_argument("--n", type=int, default=300, help="attack the first N examples")
    parser.add_argument(
        "--defenders",
        required=True,
        help="comma-separated stochastic defenders (fuse, five, fuse+fact, five+fact, with ?settings; quote them)",
    )
    parser.add_argument("--seeds", type=int, default=4, help="defense seeds 0..K-1")
    parser.add_argument(
        "--synonyms", default=f"neighbors:{relative(SHARED / 'synonyms' / 'counterfitted_neighbors.json')}"
    )
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument(
        "--chunk-size", type=int, default=8, help="examples attacked in lockstep (not part of a run's identity)"
    )
    parser.add_argument(
        "--db", default="arena.db", help="results store (resumable; `arena match`'s default, shared with it)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    specs = [spec for spec in args.defenders.split(",") if spec]
    wrong = [spec for spec in specs if not is_stochastic(spec)]
    if wrong or not specs:
        parser.error(
            f"--defenders: {wrong or 'none given'}; each must be a stochastic defense: {', '.join(STOCHASTIC)}"
        )
    if args.seeds < 1 or args.n < 1:
        parser.error("--seeds and --n must be at least 1")
    data = load_data(args.data, n=args.n, sample="first")
    attacker = build_attacker("textfooler", attack_options(args))
    with Store(args.db) as store:
        plain = attack("plain", 0, args, data, store, attacker)
        summary = attack_summary(plain)
        result = {
            "data": data_name(args.data, args.n, sample="first"),
            "settings": {"synonyms": args.synonyms, "max_length": args.max_length, "precision": args.precision},
            "plain": {
                "clean": summary["clean_accuracy"],
                "under_attack": summary["accuracy_under_attack"],
                "queries": summary["avg_queries"],
            },
            "defenders": {},
        }
        for spec in specs:
            runs = [attack(spec, seed, args, data, store, attacker) for seed in range(args.seeds)]
            result["defenders"][spec] = {
                **spread([seed_record(seed, run, plain) for seed, run in enumerate(runs)]),
                **pooled(runs, plain),
            }
    out = RESULTS / f"defense_seeds_{Path(args.data).name}.json"
    RESULTS.mkdir(exist_ok=True)
    result = merged(json.loads(out.read_text()) if out.exists() else None, result)
    out.write_text(json.dumps(result, indent=2))
    text = render(result, f"Defense seeds under TextFooler, {result['data']} (`python bench/defense_seeds.py`)")
    out.with_suffix(".md").write_text(text)
    print(text)
    if args.json:
        print(json.dumps({key: result[key] for key in ("plain", "defenders")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
