"""Adversarial training compared at equal budget: TextAttack's procedure, FACT and ``arena harden``.

Every row starts from the default classifier (MiniLM + LoRA, trained on SST-2 train) and trains
on SST-2 train only; every model is evaluated on ``mr_unseen`` and SST-2 test (both clean against
SST-2 train, checked by ``arena overlap`` inside ``arena harden``):

- ``plain``: the default classifier;
- ``textattack_adv``: TextAttack's adversarial training (``textattack train --attack``: each epoch,
  attack a sample of the training set with its TextFooler recipe and train on the clean data plus
  the successes), reproduced with the arena's pieces: TextAttack's own recipe through the adapter
  (``textattack:textfooler``) and our LoRA recipe, so that only the attack differs from
  ``harden_tf``. TextAttack's ``Trainer`` trains every weight of a model with its own loop; run
  as is it would not be the same recipe or budget;
- ``fact``: the packaged FACT model (co-tuned on SWITCH copies, trained separately), and
  ``fact_budget``: FACT's SWITCH co-tuning from the default classifier at this bench's budget;
- ``harden_tf``: ``arena harden --attackers textfooler``; ``harden_tf_rl``: with the RL attacker
  (``bench/rl_attacker.py``'s CORY policy) too.

Equal budget: every trained row runs ``--rounds`` rounds of ``--round-examples`` examples, one
epoch each (the same gradient steps); ``fact_budget`` trains on as many clean examples at once.
Columns: clean accuracy and accuracy under TextFooler, TextAttack's PWWS (an attack none of them
trained on) and the RL attacker, on the first ``--eval-n`` examples of each evaluation set, and
training seconds.

    python bench/harden.py [--rounds 3] [--attack-n 300] [--round-examples 600] [--eval-n 200] [--json]
    python bench/harden.py --from-results [--json]

Writes ``bench/results/harden.{json,md}``, ``harden_curve.png`` and ``harden_curve.json`` (the
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


def harden_row(args, name: str) -> tuple[str, float]:
    """Run (or resume) one ``arena harden`` row; its final model folder and training seconds."""
    from arena.harden import HardenConfig, harden

    attackers = HARDENED[name].replace("RL", f"rl:{args.rl}")
    cfg = HardenConfig(
        out=str(Path(args.runs) / name),
        train=str(SHARED / "sst2" / "train.tsv"),
        eval=str(EVALS["mr_unseen"]),
        eval_n=args.eval_n,
        attackers=attackers,
        rounds=args.rounds,
        attack_n=args.attack_n,
        round_examples=args.round_examples,
    )
    curve = harden(cfg, progress=not args.json)
    return curve[-1]["model"], sum(entry["seconds"] for entry in curve)


def fact_budget(args) -> tuple[str, float]:
    """FACT's SWITCH co-tuning from the default classifier on rounds x round-examples clean examples."""
    import random

    from arena.classifier import DEFAULT_CLASSIFIER_DIR
    from arena.data import LabelledData
    from arena.harden import fact_fine_tune, training_pool
    from defenses.train import TrainConfig, is_trained

    out = Path(args.runs) / "fact_budget" / "model"
    if is_trained(out):
        return str(out), json.loads((out / "bench_seconds.json").read_text())["seconds"]
    start = time.perf_counter()
    pool = training_pool(str(SHARED / "sst2" / "train.tsv"), str(DEFAULT_CLASSIFIER_DIR))
    chosen = random.Random(0).sample(pool.examples, args.rounds * args.round_examples)
    config = TrainConfig(lr=2e-4, init=str(DEFAULT_CLASSIFIER_DIR))
    fact_fine_tune(
        LabelledData(chosen, pool.label_names, "sst2 train sample"), out, config, "counterfitted", None, not args.json
    )
    seconds = round(time.perf_counter() - start, 1)
    (out / "bench_seconds.json").write_text(json.dumps({"seconds": seconds}))
    return str(out), seconds


def evaluate(args, models: dict[str, str]) -> dict:
    """Clean accuracy and accuracy under each evaluation attacker of every model on both sets."""
    from arena.matchup import Matchup
    from arena.metrics import accuracy, attack_summary
    from arena.store import Store
    from arena.tournament import play

    db = str(Path(args.runs) / "eval.db")
    attackers = {"under_textfooler": "textfooler", "under_pwws": "textattack:pwws", "under_rl": f"rl:{args.rl}"}
    out: dict = {}
    for set_name, path in EVALS.items():
        for row, spec in models.items():
            base = Matchup(db=db, defender=spec, attacker=None, data=str(path), n=args.eval_n, seed=0)
            runs = {"clean": play(base, progress=not args.json)}
            for column, attacker in attackers.items():
                runs[column] = play(replace(base, attacker=attacker), progress=not args.json)
            with Store(db) as store:
                out.setdefault(set_name, {})[row] = {
                    "clean": round(accuracy(store.results(runs["clean"])), 4),
                    **{
                        c: attack_summary(store.results(r))["accuracy_under_attack"]
                        for c, r in runs.items()
                        if c != "clean"
                    },
                }
    return out


def render(result: dict) -> str:
    """Markdown tables, one per evaluation set."""
    lines = []
    for set_name in EVALS:
        lines += [
            f"### {set_name}",
            "",
            "| row | clean | under TextFooler | under PWWS | under RL attacker | train s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row, r in result.get(set_name, {}).items():
            seconds = result.get("train_seconds", {}).get(row, "-")
            lines.append(
                f"| {row} | {r['clean']} | {r['under_textfooler']} | {r['under_pwws']} | {r['under_rl']} | {seconds} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Command-line entry point: the options, the runs and the tables this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attack-n", type=int, default=300, help="training examples attacked per round")
    parser.add_argument("--round-examples", type=int, default=600, help="fine-tuning examples per round (the budget)")
    parser.add_argument("--eval-n", type=int, default=200, help="examples of each evaluation set")
    parser.add_argument("--rl", default=str(ROOT / "runs" / "rl_attacker" / "policy"), help="the RL attacker's policy")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "harden_bench"), help="folder of the rows' runs")
    parser.add_argument("--results", default=str(RESULTS), help="folder the result files go to")
    parser.add_argument("--from-results", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = Path(args.results)
    path = results / "harden.json"
    if args.from_results:
        result = json.loads(path.read_text())
    else:
        from arena.classifier import DEFAULT_CLASSIFIER_DIR

        models, seconds = {"plain": "default", "fact": "fact"}, {"plain": 0.0}
        for name in HARDENED:
            models[name], seconds[name] = harden_row(args, name)
        models["fact_budget"], seconds["fact_budget"] = fact_budget(args)
        result = {
            **evaluate(args, models),
            "train_seconds": seconds,
            "models": models,
            "settings": {k: getattr(args, k) for k in ("rounds", "attack_n", "round_examples", "eval_n")}
            | {"start": str(DEFAULT_CLASSIFIER_DIR)},
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
