"""Time-boxed random search of FIVE's settings on held-out data, as the paper tunes them.

The paper picks each defense's settings by random search on validation data (its IMDB and MNLI
bests are FIVE's defaults). This does the same for another data set: it draws ``--trials``
settings (std log-uniform, embeddings, samples; trial 0 is the paper's IMDB setting, trial 1
the std 0.1 that SST-2 picked),
attacks each with TextFooler on a held-out slice (``--skip`` examples in, ``--n`` long, so a
table's first examples stay unseen) and ranks them by accuracy under attack among those that keep
at least ``--min-clean`` of plain's clean accuracy on the slice. Every attack goes through a
results store (``--db``): a crashed search resumes, ``--shard i/m`` splits the trials over
processes (one per core; shard 0 attacks plain first, the others need it
done), ``--only 11,3`` attacks just those trials, in that order (to spend a short time box on
the likeliest settings first), and a run with nothing left to attack reprints the whole table. New
trials start only within ``--minutes`` of the first (the time box; the rest wait for the next run;
``--minutes 0`` attacks nothing and reprints the trials finished so far).

    python bench/five_search.py --data ../shared/data/textfooler/mr --skip 300 --n 150 \\
        --trials 14 [--minutes 55] [--defense five+fact] [--shard 0/2 | --only 11,3] [--json]

Writes ``bench/results/five_search_<data>.{md,json}``; with ``--json`` the last line is one JSON
object ``{"plain": {...}, "trials": [{"spec", "clean", "under_attack", "x_plain", "queries",
"eligible"}, ...], "best": spec or null}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from firebert_table import RESULTS, SHARED

from arena.data import LabelledData, load_data
from arena.match import run_match
from arena.metrics import ratio_record, ratio_text, ratio_under_attack
from arena.store import Store
from arena.zoo import AttackOptions, build_attacker, build_defender

ANCHORS = [
    "embeddings=1&std=2.29&samples=10",  # FIVE's defaults, the paper's IMDB best
    "embeddings=1&std=0.1&samples=10",
]  # the best of four tried on SST-2 (docs/firebert.md)
DEFENSES = {"five": "FIVE", "five+fact": "FIVE(FACT)"}  # --defense choices and their table labels


def draw_settings(trials: int, seed: int) -> list[str]:
    """``trials`` FIVE settings strings, the two anchors first, the rest drawn from ``seed``: std
    log-uniform in [0.02, 1], 1-3 embeddings, 4-12 samples (the cost bar allows about 14), logit
    averaging (the paper's; a vote gives TextFooler flat scores to rank words by, which hides the
    model from a score-based attack rather than hardening it)."""
    rng = np.random.default_rng(seed)
    drawn = ANCHORS[:trials]
    while len(drawn) < trials:
        std = float(np.exp(rng.uniform(np.log(0.02), np.log(1.0))))
        setting = f"embeddings={rng.integers(1, 4)}&std={std:.3g}&samples={rng.integers(4, 13)}"
        if setting not in drawn:
            drawn.append(setting)
    return drawn


def attack_order(trials: int, shard: int, shards: int, only: str) -> list[int]:
    """The trial numbers one process attacks, in order: ``only`` (comma-separated numbers below
    ``trials``) when given, else every ``shards``-th from ``shard``."""
    if not only:
        return list(range(shard, trials, shards))
    parts = only.split(",")
    if not all(part.strip().isdigit() and int(part) < trials for part in parts):
        raise SystemExit(f"--only {only!r}: expected comma-separated trial numbers below --trials {trials}")
    return list(dict.fromkeys(int(part) for part in parts))


def held_out(path: Path, skip: int, n: int) -> LabelledData:
    """Examples ``skip`` to ``skip + n`` of a data file (the first ``skip`` left for the test table)."""
    data = load_data(str(path))
    if skip + n > len(data):
        raise SystemExit(f"{path}: {len(data)} examples, fewer than --skip {skip} + --n {n}")
    return LabelledData(data.examples[skip : skip + n], data.label_names, f"{data.source}[{skip}:{skip + n}]")


def trial_record(spec: str, summary: dict, versus: dict, plain_clean: float, min_clean: float) -> dict:
    """One trial's row: its attack summary, the ratio to plain, and whether it keeps enough clean accuracy."""
    ratio = ratio_record(versus)
    return {
        "spec": spec,
        "clean": summary["clean_accuracy"],
        "under_attack": summary["accuracy_under_attack"],
        "x_plain": ratio["ratio"],
        "x_plain_ci95": ratio["ci95"],
        "queries": summary["avg_queries"],
        "eligible": summary["clean_accuracy"] >= min_clean * plain_clean,
    }


def ranked(trials: list[dict]) -> list[dict]:
    """Trials best first: eligible ones before the rest, then by accuracy under attack, then by
    the queries the attacker needed."""
    return sorted(trials, key=lambda t: (not t["eligible"], -t["under_attack"], -t["queries"]))


def render(result: dict, title: str) -> str:
    """The markdown table: plain, then the trials best first (ineligible ones last)."""
    plain = result["plain"]
    lines = [
        f"# {title}",
        "",
        f"| {DEFENSES[result['defense']]} settings | clean | under attack | x plain | queries | clean >= bar |",
        "|---|---:|---:|---:|---:|---|",
        f"| plain | {plain['clean']:.3f} | {plain['under_attack']:.3f} | 1.00x | {plain['queries']:.2f} | |",
    ]
    for trial in result["trials"]:
        lines.append(
            f"| `{trial['spec']}` | {trial['clean']:.3f} | {trial['under_attack']:.3f} | "
            f"{ratio_text(trial['x_plain'], trial['x_plain_ci95'], 'plain')} | {trial['queries']:.2f} | "
            f"{'yes' if trial['eligible'] else 'no'} |"
        )
    lines += ["", f"Best eligible: `{result['best']}`" if result["best"] else "No eligible trial."]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SHARED / "textfooler" / "mr"))
    parser.add_argument("--skip", type=int, default=300, help="examples left out at the start (the test table's)")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--defense", default="five", choices=list(DEFENSES))
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="seed of the settings drawn")
    parser.add_argument(
        "--min-clean", type=float, default=0.97, help="share of plain's clean accuracy a trial must keep"
    )
    parser.add_argument(
        "--minutes", type=float, default=float("inf"), help="start no new trial after this many minutes"
    )
    parser.add_argument("--shard", default="0/1", help="i/m: attack trials i, i+m, ... only")
    parser.add_argument("--only", default="", help="comma-separated trial numbers: attack these, in this order")
    parser.add_argument("--db", default="runs/five_search.db")
    parser.add_argument("--synonyms", default=f"neighbors:{SHARED / 'synonyms' / 'counterfitted_neighbors.json'}")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--chunk-size", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    index, _, count = args.shard.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise SystemExit(f"--shard {args.shard!r}: expected i/m with 0 <= i < m")
    shard, shards = int(index), int(count)
    if args.trials < 1:
        raise SystemExit("--trials must be at least 1")

    data = held_out(Path(args.data), args.skip, args.n)
    data_name = f"{Path(args.data).name}[{args.skip}:{args.skip + args.n}]"
    options = AttackOptions(synonyms=args.synonyms, chunk_size=args.chunk_size)
    attacker = build_attacker("textfooler", options)
    config = {"attack": options.identity(), "max_length": args.max_length, "precision": args.precision}
    model_options = {"max_length": args.max_length, "precision": args.precision}
    started = time.monotonic()
    with Store(args.db) as store:

        def attack(defender, name: str, limit=None) -> dict:
            return run_match(
                defender,
                attacker,
                data,
                store,
                defender_name=name,
                attacker_name="textfooler",
                data_name=data_name,
                config=config,
                progress=not args.json,
                limit=limit,
            )

        plain_run = attack(
            build_defender("plain", "default", **model_options),
            "plain[default]",
            limit=None if shard == 0 else "stored",
        )
        if plain_run["n"] < len(data):
            raise SystemExit(
                f"--shard {args.shard}: plain's attack on {data_name} is not in {args.db} yet; "
                "shard 0 makes it, start the others once it has"
            )
        plain_results = store.results(plain_run["run_id"])
        settings = draw_settings(args.trials, args.seed)
        mine = attack_order(args.trials, shard, shards, args.only)
        trials = []
        for number in mine + [n for n in range(args.trials) if n not in mine]:
            spec = f"{args.defense}?{settings[number]}"
            defender = build_defender(spec, "default", synonyms=args.synonyms, **model_options)
            in_box = number in mine and time.monotonic() - started < 60 * args.minutes
            summary = attack(defender, spec, limit=None if in_box else "stored")
            if summary["n"] < len(data):  # another process's, not finished yet
                continue
            versus = ratio_under_attack(store.results(summary["run_id"]), plain_results)
            trials.append(trial_record(spec, summary, versus, plain_run["clean_accuracy"], args.min_clean))
    trials = ranked(trials)
    result = {
        "data": data_name,
        "defense": args.defense,
        "trials_drawn": args.trials,
        "seed": args.seed,
        "plain": {
            "clean": plain_run["clean_accuracy"],
            "under_attack": plain_run["accuracy_under_attack"],
            "queries": plain_run["avg_queries"],
        },
        "trials": trials,
        "best": trials[0]["spec"] if trials and trials[0]["eligible"] else None,
    }
    stem = RESULTS / f"five_search_{Path(args.data).name}{'_fact' if 'fact' in args.defense else ''}"
    table = render(
        result,
        f"{args.defense} settings searched on {data_name} under TextFooler "
        f"({len(trials)} of {args.trials} trials done, seed {args.seed})",
    )
    stem.with_suffix(".md").write_text(table)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(table)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
