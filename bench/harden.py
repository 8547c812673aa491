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
``--epochs`` passes each at ``--lr`` (the same gradient steps; these and ``--switch`` chosen on
SST-2 dev by ``bench/harden_tune.py``); ``fact_budget`` trains on as many clean examples at once.

Columns: clean accuracy, accuracy under TextFooler and under the RL attacker on ``--eval-n``
examples, and under TextAttack's PWWS (an attack none of them trained on) on ``--pwws-n`` (on
SST-2 test only clean and TextFooler unless ``--full-sst2``); training seconds (attacks plus
fine-tuning) and gradient steps. The RL attacker draws ``--rl-samples`` continuations per example,
in training and evaluation alike. Then each harden row's accuracy under TextFooler and under the
RL attacker minus every other row's, paired on the same examples, with a 95 % bootstrap interval.
The harden rows' figures on ``mr_unseen`` are their last round's evaluation (the same sample, read
from their store), and ``plain`` is round 0 of ``harden_tf_rl``.

    python bench/harden.py [--rounds 3] [--attack-n 200] [--round-examples 400] [--eval-n 100] [--json]
    python bench/harden.py --rows harden_tf,textattack_adv --threads 1   # part of the rows, in parallel
    python bench/harden.py --from-results [--json]

Writes ``runs/harden_bench/rows/ROW.json`` as each row finishes and, once every row has,
``bench/results/harden.{json,md}``, ``harden_curve.png`` and ``harden_curve.json`` (the
``harden_tf`` rounds); with ``--json`` the last line is ``{"mr_unseen": {"plain": {"clean",
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
COLUMNS = ("clean", "under_textfooler", "under_pwws", "under_rl")
PAIRED = {"under_textfooler": "TextFooler", "under_rl": "the RL attacker"}  # columns with paired differences


def harden_config(args, name: str):
    """The ``arena harden`` settings of one row (``plain``: those of ``harden_tf_rl``, whose round 0
    evaluates the default classifier under both training attackers)."""
    from arena.harden import HardenConfig

    name = "harden_tf_rl" if name == "plain" else name
    return HardenConfig(
        out=str(Path(args.runs) / name),
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
        attack_options={"rl_samples": args.rl_samples},
    )


def harden_row(args, name: str) -> dict:
    """Run (or resume) one ``arena harden`` row; its training seconds and gradient steps."""
    from arena.harden import harden

    curve = harden(harden_config(args, name), progress=not args.json)
    rounds = [entry for entry in curve if entry["round"]]
    return {
        "seconds": round(sum(e.get("attack_seconds", 0) + e["fine_tune"].get("seconds", 0) for e in rounds), 1),
        "steps": sum(e["fine_tune"]["steps"] for e in rounds),
    }


def fact_budget(args) -> dict:
    """FACT's SWITCH co-tuning from the default classifier on rounds x round-examples clean examples."""
    import random

    from arena.classifier import DEFAULT_CLASSIFIER_DIR
    from arena.data import LabelledData
    from arena.harden import fact_fine_tune, training_pool
    from defenses.train import TrainConfig, is_trained

    out = Path(args.runs) / "fact_budget" / "model"
    if is_trained(out):
        return json.loads((out / "bench_budget.json").read_text())
    start = time.perf_counter()
    pool = training_pool(str(SHARED / "sst2" / "train.tsv"), str(DEFAULT_CLASSIFIER_DIR))
    chosen = random.Random(0).sample(pool.examples, args.rounds * args.round_examples)
    config = TrainConfig(lr=args.lr, epochs=args.epochs, init=str(DEFAULT_CLASSIFIER_DIR))
    summary = fact_fine_tune(
        LabelledData(chosen, pool.label_names, "sst2 train sample"), out, config, "counterfitted", None, not args.json
    )
    budget = {"seconds": round(time.perf_counter() - start, 1), "steps": summary["steps"]}
    (out / "bench_budget.json").write_text(json.dumps(budget))
    return budget


def row_model(args, name: str) -> str:
    """The classifier spec a row is evaluated as."""
    from arena.harden import model_spec

    if name in HARDENED:
        return model_spec(harden_config(args, name), args.rounds)
    return {"plain": "default", "fact": "fact", "fact_budget": str(Path(args.runs) / "fact_budget" / "model")}[name]


def evaluate_row(args, name: str) -> dict:
    """Clean accuracy and accuracy under each evaluation attacker of one row's model on both sets,
    with the runs' ids and store: the harden rows and ``plain`` in their harden store (so their
    rounds' evaluations are reused)."""
    from arena.harden import matchup
    from arena.metrics import accuracy, attack_summary
    from arena.store import Store

    if name in HARDENED or name == "plain":
        cfg = harden_config(args, name)
    else:
        cfg = replace(harden_config(args, "harden_tf"), out=str(Path(args.runs) / f"eval_{name}"))
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    k = args.rounds if name in HARDENED else 0
    if not k:
        cfg = replace(cfg, classifier=row_model(args, name))
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


def run_row(args, name: str) -> dict:
    """Train (or resume) one row and evaluate it; written to ``RUNS/rows/ROW.json``."""
    path = Path(args.runs) / "rows" / f"{name}.json"
    row = json.loads(path.read_text()) if path.exists() else {}
    if "runs" in row:  # rows written before the run ids were kept are evaluated again (from the store)
        return row
    budget = harden_row(args, name) if name in HARDENED else fact_budget(args) if name == "fact_budget" else {}
    row = {"model": row_model(args, name), **budget, **evaluate_row(args, name)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, indent=1))
    return row


def differences(done: dict) -> dict:
    """Each harden row's accuracy under TextFooler and under the RL attacker minus every other
    row's, paired on the same examples, with a 95 % bootstrap interval (a difference holds when it
    excludes 0)."""
    from arena.metrics import difference_under_attack
    from arena.store import Store

    def results(row: str, set_name: str, column: str):
        with Store(done[row]["db"]) as store:
            return store.results(done[row]["runs"][set_name][column])

    out: dict = {}
    for set_name in EVALS:
        for column in PAIRED:
            if column not in done["plain"]["runs"][set_name]:
                continue
            for row in ("harden_tf", "harden_tf_rl"):
                for other in ROWS:
                    if other != row:
                        d = difference_under_attack(results(row, set_name, column), results(other, set_name, column))
                        out.setdefault(set_name, {}).setdefault(column, {})[f"{row} - {other}"] = {
                            k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()
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
            f"| under RL attacker (n={s['eval_n']}) | train s | steps |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row, r in result.get(set_name, {}).items():
            cells = [r.get(c, "-") for c in COLUMNS]
            budget = result["budget"].get(row, {})
            cells += [budget.get("seconds", "-"), budget.get("steps", "-")]
            lines.append(f"| {row} | " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
        for column, pairs in result.get("differences", {}).get(set_name, {}).items():
            lines += [f"Accuracy under {PAIRED[column]}, paired differences (95 % bootstrap interval):", ""]
            lines += ["| difference | n | value | 95 % CI |", "|---|---:|---:|---|"]
            for pair, d in pairs.items():
                lines.append(f"| {pair} | {d['n']} | {d['difference']:+.3f} | {d['low']:+.3f} to {d['high']:+.3f} |")
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
    parser.add_argument("--attack-n", type=int, default=200, help="training examples attacked per round")
    parser.add_argument("--round-examples", type=int, default=400, help="fine-tuning examples per round (the budget)")
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
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        parser.exit(2, f"harden bench: unknown rows {unknown} (rows: {', '.join(ROWS)})\n")
    if args.from_results:
        result = json.loads(path.read_text())
    else:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        done = {name: run_row(args, name) for name in rows}
        if set(done) != set(ROWS):
            print(f"rows done: {', '.join(done)}; run the rest, then all rows to write the tables")
            return 0
        from arena.classifier import DEFAULT_CLASSIFIER_DIR

        result = {
            **{s: {name: done[name]["eval"][s] for name in ROWS} for s in EVALS},
            "differences": differences(done),
            "budget": {name: {k: done[name][k] for k in ("seconds", "steps") if k in done[name]} for name in ROWS},
            "models": {name: relative(done[name]["model"]) for name in ROWS},
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
