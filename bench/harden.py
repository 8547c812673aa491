"""Adversarial training compared at equal budget: TextAttack's procedure, FACT and ``arena harden``.

Every row starts from the default classifier (MiniLM + LoRA, trained on SST-2 train) and trains
on SST-2 train only; every model is evaluated on ``mr_unseen`` and SST-2 test (both clean against
SST-2 train, checked by ``arena overlap`` inside ``arena harden``):

- ``plain``: the default classifier;
- ``textattack_adv``: TextAttack's adversarial training (``textattack train --attack``: each epoch,
  attack a sample of the training set with its TextFooler recipe and train on the clean data plus
  the successes), reproduced with the arena's pieces: TextAttack's own recipe through the adapter
  (``textattack:textfooler``) and our LoRA recipe, so that it differs from ``harden_tf`` only in
  the attack and, where the tuning chose them, FACT's SWITCH copies (an arena harden feature that
  TextAttack's procedure lacks). TextAttack's ``Trainer`` trains every weight of a model with its
  own loop; run as is it would not be the same recipe or budget;
- ``fact``: the packaged FACT model (co-tuned on SWITCH copies, trained separately), and
  ``fact_budget``: FACT's SWITCH co-tuning from the default classifier at this bench's budget;
- ``harden_tf``: ``arena harden --attackers textfooler``; ``harden_tf_rl``: with the RL attacker
  (``bench/rl_attacker.py``'s CORY policy) too.

Equal budget: every trained row runs ``--rounds`` rounds of ``--round-examples`` examples,
``--epochs`` passes each at ``--lr`` (the same gradient steps; these, ``--switch`` and the attack
pool ``--attack-min-words`` chosen on SST-2 dev by ``bench/harden_tune.py``); ``fact_budget`` trains
on as many clean examples at once. Each trained row runs once per seed of ``--seeds`` (its samples
and its training); ``plain`` and ``fact`` are deterministic and run once.

Columns: clean accuracy, accuracy under TextFooler and under the RL attacker on ``--eval-n``
examples, and under TextAttack's PWWS (an attack none of them trained on) on ``--pwws-n`` (on
SST-2 test only clean and TextFooler unless ``--full-sst2``); training seconds (attacks plus
fine-tuning) and gradient steps; a trained row's figures are the mean over its seeds with a 95 %
interval (bootstrap over seeds, then examples). The RL attacker draws ``--rl-samples``
continuations per example, in training and evaluation alike. Then each harden row's accuracy under
TextFooler and under the RL attacker minus every other row's, paired on the same examples (and
seeds), with a 95 % bootstrap interval.
The harden rows' figures on ``mr_unseen`` are their last round's evaluation (the same sample, read
from their store), and ``plain`` is round 0 of ``harden_tf_rl``.

    python bench/harden.py [--rounds 3] [--attack-n 500] [--round-examples 1000] [--seeds 0,1,2] [--json]
    python bench/harden.py --rows harden_tf,textattack_adv --threads 1   # part of the rows, in parallel
    python bench/harden.py --from-results [--json]

Writes ``runs/harden_bench/rows/ROW[_seedS].json`` as each row's run finishes and, once every row has,
``bench/results/harden.{json,md}``, ``harden_curve.png`` and ``harden_curve.json`` (the
``harden_tf`` rounds at seed 0); with ``--json`` the last line is ``{"mr_unseen": {"plain": {"clean",
"under_textfooler", ...}, ...}, "sst2_test": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
EVALS = {"mr_unseen": SHARED / "textfooler" / "mr_unseen", "sst2_test": SHARED / "sst2" / "test.tsv"}
HARDENED = {"textattack_adv": "textattack:textfooler", "harden_tf": "textfooler", "harden_tf_rl": "textfooler,RL"}
ROWS = ("plain", "textattack_adv", "fact", "fact_budget", "harden_tf", "harden_tf_rl")
SEEDED = ("fact_budget", *HARDENED)  # the trained rows, one run per seed
COLUMNS = ("clean", "under_textfooler", "under_pwws", "under_rl")
PAIRED = {"under_textfooler": "TextFooler", "under_rl": "the RL attacker"}  # columns with paired differences


def run_name(name: str, seed: int) -> str:
    """The folder and row-file name of one row's run at ``seed`` (seed 0: the row's name)."""
    return f"{name}_seed{seed}" if seed else name


def harden_config(args, name: str, seed: int = 0):
    """The ``arena harden`` settings of one row at ``seed`` (``plain``: those of ``harden_tf_rl``
    at seed 0, whose round 0 evaluates the default classifier under both training attackers)."""
    from arena.harden import HardenConfig

    name = "harden_tf_rl" if name == "plain" else name
    return HardenConfig(
        out=str(Path(args.runs) / run_name(name, seed)),
        train=str(SHARED / "sst2" / "train.tsv"),
        eval=str(EVALS["mr_unseen"]),
        eval_n=args.eval_n,
        attackers=HARDENED[name].replace("RL", f"rl:{args.rl}"),
        rounds=args.rounds,
        attack_n=args.attack_n,
        attack_min_words=args.attack_min_words,
        round_examples=args.round_examples,
        lr=args.lr,
        epochs=args.epochs,
        switch=args.switch and name != "textattack_adv",
        seed=seed,
        attack_options={"rl_samples": args.rl_samples},
    )


def harden_row(args, name: str, seed: int) -> dict:
    """Run (or resume) one ``arena harden`` row at ``seed``; its training seconds and gradient steps."""
    from arena.harden import harden

    curve = harden(harden_config(args, name, seed), progress=not args.json)
    rounds = [entry for entry in curve if entry["round"]]
    return {
        "seconds": round(sum(e.get("attack_seconds", 0) + e["fine_tune"].get("seconds", 0) for e in rounds), 1),
        "steps": sum(e["fine_tune"]["steps"] for e in rounds),
    }


def fact_budget(args, seed: int) -> dict:
    """FACT's SWITCH co-tuning from the default classifier on rounds x round-examples clean examples
    (sampled and trained at ``seed``)."""
    import random

    from arena.classifier import DEFAULT_CLASSIFIER_DIR
    from arena.data import LabelledData
    from arena.harden import fact_fine_tune, training_pool
    from defenses.train import TrainConfig, is_trained

    out = Path(args.runs) / run_name("fact_budget", seed) / "model"
    if is_trained(out):
        return json.loads((out / "bench_budget.json").read_text())
    start = time.perf_counter()
    pool = training_pool(str(SHARED / "sst2" / "train.tsv"), str(DEFAULT_CLASSIFIER_DIR))
    chosen = random.Random(seed).sample(pool.examples, args.rounds * args.round_examples)
    config = TrainConfig(lr=args.lr, epochs=args.epochs, seed=seed, init=str(DEFAULT_CLASSIFIER_DIR))
    summary = fact_fine_tune(
        LabelledData(chosen, pool.label_names, "sst2 train sample"), out, config, "counterfitted", None, not args.json
    )
    budget = {"seconds": round(time.perf_counter() - start, 1), "steps": summary["steps"]}
    (out / "bench_budget.json").write_text(json.dumps(budget))
    return budget


def row_model(args, name: str, seed: int) -> str:
    """The classifier spec a row's run at ``seed`` is evaluated as."""
    from arena.harden import model_spec

    if name in HARDENED:
        return model_spec(harden_config(args, name, seed), args.rounds)
    folder = Path(args.runs) / run_name("fact_budget", seed) / "model"
    return {"plain": "default", "fact": "fact", "fact_budget": str(folder)}[name]


def evaluate_row(args, name: str, seed: int) -> dict:
    """Clean accuracy and accuracy under each evaluation attacker of one row's model on both sets,
    with the runs' ids and store: the harden rows and ``plain`` in their harden store (so their
    rounds' evaluations are reused)."""
    from arena.harden import matchup
    from arena.metrics import accuracy, attack_summary
    from arena.store import Store

    if name in HARDENED or name == "plain":
        cfg = harden_config(args, name, seed)
    else:
        cfg = replace(harden_config(args, "harden_tf"), out=str(Path(args.runs) / f"eval_{run_name(name, seed)}"))
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    k = args.rounds if name in HARDENED else 0
    if not k:
        cfg = replace(cfg, classifier=row_model(args, name, seed))
    attackers = {
        "under_textfooler": ("textfooler", args.eval_n),
        "under_pwws": ("textattack:pwws", args.pwws_n),
        "under_rl": (f"rl:{args.rl}", args.eval_n),
    }
    figures: dict = {}
    run_ids: dict = {}
    for set_name, path in EVALS.items():
        columns = (
            attackers
            if set_name == "mr_unseen" or args.full_sst2
            else {"under_textfooler": attackers["under_textfooler"]}
        )
        runs = {"clean": play(matchup(cfg, k, None, str(path), args.eval_n, 0), not args.json)}
        for column, (attacker, n) in columns.items():
            runs[column] = play(matchup(cfg, k, attacker, str(path), n, 0), not args.json)
        with Store(Path(cfg.out) / "arena.db") as store:
            figures[set_name] = {
                c: round(accuracy(store.results(r)), 4)
                if c == "clean"
                else attack_summary(store.results(r))["accuracy_under_attack"]
                for c, r in runs.items()
            }
        run_ids[set_name] = runs
    return {"eval": figures, "runs": run_ids, "db": str(Path(cfg.out) / "arena.db")}


def play(m, progress: bool) -> str:
    """Run (or resume) one matchup."""
    from arena.tournament import play as play_matchup

    return play_matchup(m, progress=progress)


def run_row(args, name: str, seed: int) -> dict:
    """Train (or resume) one row at ``seed`` and evaluate it; written to ``RUNS/rows/ROW[_seedS].json``."""
    path = Path(args.runs) / "rows" / f"{run_name(name, seed)}.json"
    row = json.loads(path.read_text()) if path.exists() else {}
    if "runs" in row:  # rows written before the run ids were kept are evaluated again (from the store)
        return row
    if name in HARDENED:
        budget = harden_row(args, name, seed)
    else:
        budget = fact_budget(args, seed) if name == "fact_budget" else {}
    row = {"model": row_model(args, name, seed), **budget, **evaluate_row(args, name, seed)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, indent=1))
    return row


def outcomes(done: dict) -> dict:
    """Every run's per-example outcomes, read once from the stores: ``{(row, set, column): [{example
    id: 1.0 when classified correctly, clean or after the attack, else 0.0}, one per seed]}``."""
    from arena.store import Store

    table: dict = {}
    for name, runs in done.items():
        for run in runs:
            with Store(run["db"]) as store:
                for set_name, columns in run["runs"].items():
                    for column, run_id in columns.items():
                        correct = {
                            r.example_id: float(
                                r.original_pred == r.label if column == "clean" else r.status == "failed"
                            )
                            for r in store.results(run_id)
                        }
                        table.setdefault((name, set_name, column), []).append(correct)
    return table


def stacked(per_run: list[dict], ids: list[str] | None = None):
    """Outcomes as a ``(seeds, examples)`` array over ``ids`` (default: those every run has), and the ids."""
    import numpy as np

    ids = ids if ids is not None else sorted(set.intersection(*(set(p) for p in per_run)))
    return ids, np.array([[p[i] for i in ids] for p in per_run])


def figures(done: dict, table: dict) -> tuple[dict, dict]:
    """Each row's accuracy per evaluation set and column (the mean over its seeds) and, for rows of
    several seeds, its 95 % interval (bootstrap over seeds, then examples)."""
    from arena.metrics import seed_item_interval

    means: dict = {}
    intervals: dict = {}
    for set_name in EVALS:
        for name, runs in done.items():
            for column in COLUMNS:
                if column not in runs[0]["runs"][set_name]:
                    continue
                values = stacked(table[name, set_name, column])[1]
                means.setdefault(set_name, {}).setdefault(name, {})[column] = round(float(values.mean()), 4)
                if len(runs) > 1:
                    ci = seed_item_interval(values)
                    intervals.setdefault(set_name, {}).setdefault(name, {})[column] = {
                        "low": round(ci["low"], 4),
                        "high": round(ci["high"], 4),
                        "seeds": ci["seeds"],
                    }
    return means, intervals


def differences(done: dict, table: dict) -> dict:
    """Each harden row's accuracy under TextFooler and under the RL attacker minus every other
    row's, paired on the same examples (and on the seed, where both rows have several), with a 95 %
    bootstrap interval over seeds, then examples (a difference holds when it excludes 0)."""
    from arena.metrics import seed_item_interval

    out: dict = {}
    for set_name in EVALS:
        for column in PAIRED:
            if column not in done["plain"][0]["runs"][set_name]:
                continue
            for row in ("harden_tf", "harden_tf_rl"):
                for other in ROWS:
                    if other == row:
                        continue
                    ids, mine = stacked(table[row, set_name, column])
                    _, theirs = stacked(table[other, set_name, column], ids)
                    if len(mine) != len(theirs) and 1 not in (len(mine), len(theirs)):
                        raise ValueError(f"{row} has {len(mine)} seeds and {other} {len(theirs)}: pair them by seed")
                    ci = seed_item_interval(mine - theirs)
                    out.setdefault(set_name, {}).setdefault(column, {})[f"{row} - {other}"] = {
                        "n": ci["n"],
                        "seeds": ci["seeds"],
                        "difference": round(ci["mean"], 4),
                        "low": round(ci["low"], 4),
                        "high": round(ci["high"], 4),
                    }
    return out


def render(result: dict) -> str:
    """Markdown tables, one per evaluation set."""
    s = result["settings"]
    lines = []
    for set_name in EVALS:
        lines += [
            f"### {set_name}",
            "",
            f"| row | clean (n={s['eval_n']}) | under TextFooler (n={s['eval_n']}) | under PWWS (n={s['pwws_n']}) "
            f"| under RL attacker (n={s['eval_n']}) | train s (mean) | steps | seeds |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row, r in result.get(set_name, {}).items():
            ci = result.get("intervals", {}).get(set_name, {}).get(row, {})
            cells = [
                f"{r[c]:.2f} ({ci[c]['low']:.2f}–{ci[c]['high']:.2f})" if c in ci else r.get(c, "-") for c in COLUMNS
            ]
            budget = result["budget"].get(row, {})
            cells += [budget.get("seconds", "-"), budget.get("steps", "-"), budget.get("seeds", 1)]
            lines.append(f"| {row} | " + " | ".join(str(c) for c in cells) + " |")
        lines += ["", "Trained rows: the mean over their seeds, with a 95 % interval over seeds, then examples.", ""]
        for column, pairs in result.get("differences", {}).get(set_name, {}).items():
            lines += [f"Accuracy under {PAIRED[column]}, paired differences (95 % bootstrap interval):", ""]
            lines += ["| difference | n | seeds | value | 95 % CI |", "|---|---:|---:|---:|---|"]
            for pair, d in pairs.items():
                lines.append(
                    f"| {pair} | {d['n']} | {d.get('seeds', 1)} | {d['difference']:+.3f} "
                    f"| {d['low']:+.3f} to {d['high']:+.3f} |"
                )
            lines.append("")
    return "\n".join(lines)


def tuned() -> dict:
    """The learning rate, epochs, SWITCH and attack pool ``bench/harden_tune.py`` chose (``arena
    harden``'s defaults where it has not chosen)."""
    from arena.harden import HardenConfig

    defaults = HardenConfig.__dataclass_fields__
    path = RESULTS / "harden_tune.json"
    chosen = json.loads(path.read_text())["chosen"] if path.exists() else {}
    return {key: chosen.get(key, defaults[key].default) for key in ("lr", "epochs", "switch", "attack_min_words")}


def budget(runs: list[dict]) -> dict:
    """A row's training seconds (the mean over its seeds), gradient steps and seeds."""
    if "steps" not in runs[0]:
        return {}
    seconds = sum(run["seconds"] for run in runs) / len(runs)
    return {"seconds": round(seconds, 1), "steps": runs[0]["steps"], "seeds": len(runs)}


def relative(path) -> str:
    """A path as the results record it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main() -> int:
    """Command-line entry point: the options, the runs and the tables this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attack-n", type=int, default=500, help="training examples attacked per round")
    parser.add_argument("--round-examples", type=int, default=1000, help="fine-tuning examples per round (the budget)")
    chosen = tuned()
    parser.add_argument("--lr", type=float, default=chosen["lr"], help="fine-tuning learning rate (tuned)")
    parser.add_argument("--epochs", type=float, default=chosen["epochs"], help="passes over each round's data (tuned)")
    parser.add_argument(
        "--switch",
        action=argparse.BooleanOptionalAction,
        default=chosen["switch"],
        help="FACT's SWITCH copies in the arena harden rows' fine-tuning (tuned; never in textattack_adv's)",
    )
    parser.add_argument(
        "--attack-min-words",
        type=int,
        default=chosen["attack_min_words"],
        help="attack only training examples of at least this many words (tuned)",
    )
    parser.add_argument("--eval-n", type=int, default=100, help="examples of each evaluation set")
    parser.add_argument("--pwws-n", type=int, default=100, help="examples of each evaluation set attacked by PWWS")
    parser.add_argument("--full-sst2", action="store_true", help="PWWS and the RL attacker on SST-2 test too")
    parser.add_argument("--rl-samples", type=int, default=4, help="the RL attacker's samples per example")
    parser.add_argument("--rl", default=str(ROOT / "runs" / "rl_attacker" / "policy"), help="the RL attacker's policy")
    parser.add_argument(
        "--seeds", default="0,1,2", help="comma-separated seeds of the trained rows (sampling and training)"
    )
    parser.add_argument(
        "--one-seed", default="", help="comma-separated trained rows run at the first of --seeds only (a shorter bench)"
    )
    parser.add_argument("--runs", default=str(ROOT / "runs" / "harden_bench"), help="folder of the rows' runs")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows to run (of {', '.join(ROWS)})")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--results", default=str(RESULTS), help="folder the result files go to")
    parser.add_argument("--from-results", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = Path(args.results)
    path = results / "harden.json"
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    one_seed = {r.strip() for r in args.one_seed.split(",") if r.strip()}
    if unknown := sorted(set(rows) - set(ROWS)):
        parser.exit(2, f"harden bench: unknown rows {unknown} (rows: {', '.join(ROWS)})\n")
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        parser.exit(2, f"harden bench: --seeds {args.seeds!r}: comma-separated whole numbers, e.g. 0,1,2\n")
    if not seeds:
        parser.exit(2, "harden bench: --seeds names no seed\n")
    if unknown := sorted(one_seed - set(SEEDED)):
        parser.exit(2, f"harden bench: --one-seed {unknown}: not trained rows (those: {', '.join(SEEDED)})\n")
    if args.from_results:
        result = json.loads(path.read_text())
    else:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        done = {
            name: [
                run_row(args, name, seed)
                for seed in ([0] if name not in SEEDED else seeds[:1] if name in one_seed else seeds)
            ]
            for name in rows
        }
        if set(done) != set(ROWS):
            print(f"rows done: {', '.join(done)}; run the rest, then all rows to write the tables")
            return 0
        from arena.classifier import DEFAULT_CLASSIFIER_DIR

        table = outcomes(done)
        means, intervals = figures(done, table)
        result = {
            **means,
            "intervals": intervals,
            "differences": differences(done, table),
            "budget": {name: budget(done[name]) for name in ROWS},
            "models": {name: [relative(run["model"]) for run in done[name]] for name in ROWS},
            "settings": {
                k: getattr(args, k)
                for k in (
                    "rounds",
                    "attack_n",
                    "attack_min_words",
                    "round_examples",
                    "lr",
                    "epochs",
                    "switch",
                    "eval_n",
                    "pwws_n",
                    "rl_samples",
                    "seeds",
                    "one_seed",
                )
            }
            | {"start": relative(DEFAULT_CLASSIFIER_DIR), "rl": relative(args.rl)},
        }
        results.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
        (results / "harden.md").write_text(
            "# Adversarial training at equal budget (`python bench/harden.py`)\n\n" + render(result)
        )
        shutil.copy(Path(args.runs) / "harden_tf" / "curve.png", results / "harden_curve.png")
        shutil.copy(Path(args.runs) / "harden_tf" / "curve.json", results / "harden_curve.json")
    print(render(result))
    if args.json:
        print(json.dumps({k: result[k] for k in EVALS if k in result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
