"""Train an RL attacker with CORY against ``plain`` and judge it with classifiers it never saw.

Training (``arena train policy --task attacker --algo cory``): SmolLM2-135M (LoRA r=16) appends
``--min-tokens``..``--max-tokens`` tokens to SST-2 training sentences that the ``default``
classifier and the judge get right; reward = P_plain(wrong) x P_judge(true) x MiniLM similarity.
The judge of training and of best-of-N selection (``--judge``, default ``ngram``: TF-IDF + logistic
regression, no tokenizer, encoder or weights shared with the MiniLM defender) never reports the
results. With ``--novelty W`` a second attacker is trained with the curiosity bonus
(:class:`policies.tasks.AttackReward`), measured against the one without.

Evaluation (``arena match --attacker rl:DIR``, ``--samples`` continuations per example, best by
the training reward) on the first ``--n`` sentences of ``../shared/data/textfooler/mr_unseen``
(clean against SST-2 train) against ``plain`` and the packaged ``fact``, the untrained LM the same
way (``untrained_plain``: what RL adds over best-of-k sampling) and TextFooler against ``plain``.
Per row:

- ``attack_success_rate`` (the defender's label changed), ``eval_judge_agreement``: the share of
  successes ``--eval-judge`` (default ``vader``, a lexicon model) still labels correctly, and
  ``fact_agreement``: the same by the FACT model (a second classifier that took no part; not for
  the row where FACT is the defender); ``valid_success_rate``: successes the evaluation judge
  agrees with, over the attacked examples;
- ``distinct_1``, ``distinct_2``, ``self_bleu`` of the successful added texts;
- for the trained attackers against ``plain``: ``lift`` and ``lift_ci``, the success rate minus the
  untrained LM's on the same sentences (paired bootstrap over sentences, 95 %), and the same for
  valid successes (``valid_lift``, ``valid_lift_ci``).

Every successful text of the attacker rows goes to ``bench/results/rl_attacker_examples.jsonl``
(original, added text, the defender's and every judge's probability of the true label).

    python bench/rl_attacker.py [--iterations 12] [--novelty 1.0] [--json]
    python bench/rl_attacker.py --from-results [--show K] [--json]

Writes ``bench/results/rl_attacker.json`` (``{"judge", "eval_judge", "plain": {...}, "untrained_plain":
{...}, ..., "training": {...}, "settings": {...}}``); with ``--json`` the last line is that object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "rl_attacker.json"
EXAMPLES = RESULTS.with_name("rl_attacker_examples.jsonl")
KEYS = (
    "n",
    "succeeded",
    "failed",
    "skipped",
    "clean_accuracy",
    "accuracy_under_attack",
    "attack_success_rate",
    "eval_judge_agreement",
    "avg_added_tokens",
    "avg_queries",
    "avg_similarity",
)
SECOND_JUDGE = "fact"  # the FACT model: a second classifier that took no part in training or selection
ATTACKER_ROWS = ("plain", "novelty_plain", "fact", "untrained_plain")


def train(args, out: str, novelty: float) -> dict:
    """Train (or resume) a CORY attacker; returns the run summary plus this sitting's wall seconds."""
    from arena.zoo import build_defender
    from policies.train import PolicyRunConfig, train_policy

    cfg = PolicyRunConfig(
        out=out,
        algo="cory",
        task="attacker",
        policy="smollm2",
        reward="plain",
        judge=args.judge,
        data=str(SHARED / "sst2" / "train.tsv"),
        data_n=args.train_texts,
        heldout=64,
        iterations=args.iterations,
        batch=args.batch,
        min_tokens=args.min_tokens,
        max_tokens=args.max_tokens,
        eval_every=10,
        checkpoint_every=3,
        seed=args.seed,
        novelty=novelty,
        ppo={"learning_rate": args.lr, "init_kl_coef": args.kl_coef, "mini_batch_size": 8, "score_norm": "normalize"},
    )
    start = time.perf_counter()
    summary = train_policy(cfg, progress=not args.json, build=build_defender)
    summary["wall_seconds_this_sitting"] = round(time.perf_counter() - start, 1)
    return summary


def untrained_policy(out: str) -> str:
    """The same LM before any RL (SmolLM2-135M as shipped) saved beside the run, with the trained
    policy's task file: the baseline that shows what training adds over best-of-k sampling."""
    import shutil

    from policies.lm import POLICY_FILE, TASK_FILE, PolicyLM

    folder = Path(out) / "untrained"
    if not (folder / POLICY_FILE).exists():
        PolicyLM.from_pretrained("smollm2", lora_r=0, frozen=True, device="cpu").save(folder)
        shutil.copy(Path(out) / "policy" / TASK_FILE, folder / TASK_FILE)
    return str(folder)


def plays(args, novelty: bool, extra: bool) -> list[tuple[str, str, str]]:
    """(row, defender, attacker) of the matchups: the trained and the untrained attacker against
    ``plain`` first; with ``novelty`` the novelty attacker's row; with ``extra`` the trained one
    against ``fact`` and TextFooler against ``plain``."""
    trained = f"rl:{Path(args.out) / 'policy'}"
    out = [("plain", "plain", trained), ("untrained_plain", "plain", f"rl:{untrained_policy(args.out)}")]
    if novelty:
        out.append(("novelty_plain", "plain", f"rl:{Path(args.out + '_novelty') / 'policy'}"))
    if extra:
        out += [("fact", "fact", trained), ("textfooler_plain", "plain", "textfooler")]
    return out


def evaluate(args, novelty: bool, extra: bool) -> tuple[dict, list[dict]]:
    """Matches on mr_unseen through a resumable store; rows and the successful examples."""
    from arena.classifier import load_classifier
    from arena.data import load_data
    from arena.match import run_match
    from arena.store import Store
    from arena.zoo import AttackOptions, build_attacker, build_defender, match_config

    data = load_data(str(SHARED / "textfooler" / "mr_unseen"), n=args.n, sample="first")
    options = AttackOptions(
        synonyms=f"neighbors:{SHARED / 'synonyms' / 'counterfitted_neighbors.json'}",
        rl_samples=args.samples,
        eval_judge=args.eval_judge,
    )
    judges = {
        "judge": load_classifier(args.judge),
        "eval_judge": load_classifier(args.eval_judge),
        SECOND_JUDGE: build_defender(SECOND_JUDGE),
    }
    rows, results, examples = {}, {}, []
    with Store(args.db) as store:
        for name, spec, attacker_spec in plays(args, novelty, extra):
            defender = build_defender(spec, "default")
            summary = run_match(
                defender,
                build_attacker(attacker_spec, options),
                data,
                store,
                defender_name=spec,
                attacker_name=attacker_spec,
                data_name=f"mr_unseen?n={args.n}",
                config=match_config(attacker_spec, options, 256),
                progress=not args.json,
            )
            rows[name] = {k: summary.get(k) for k in KEYS}
            results[name] = {r.example_id: r for r in store.results(summary["run_id"])}
            if name in ATTACKER_ROWS:
                rows[name].update(judged(name, spec, defender.labels, results[name], judges, examples))
    for name in ("plain", "novelty_plain"):
        if name in results:
            rows[name].update(lift(results[name], results["untrained_plain"], rows))
    return rows, examples


def judged(name: str, defender: str, labels: list[str], results: dict, judges: dict, examples: list[dict]) -> dict:
    """Judges' verdicts and diversity of one attacker row's successes (labels in the defender's
    order ``labels``); appends them to ``examples``."""
    from arena.metrics import diversity
    from arena.words import added_text
    from policies.tasks import label_map

    wins = [r for r in results.values() if r.status == "succeeded"]
    attacked = [r for r in results.values() if r.status != "skipped"]
    if not wins:
        return {"valid_success_rate": 0.0, **diversity([])}
    texts, p_true, keeps = [r.perturbed_text for r in wins], {}, {}
    for key, judge in judges.items():
        probs, truth = judge.predict_proba(texts), label_map(labels, judge.labels)[[r.label for r in wins]]
        p_true[key], keeps[key] = probs[np.arange(len(wins)), truth], probs[np.arange(len(wins)), truth] >= probs.max(1)
    for i, r in enumerate(wins):
        examples.append(
            {
                "row": name,
                "defender": defender,
                "example_id": r.example_id,
                "label": r.label,
                "original": r.original_text,
                "added": added_text(r.original_text, r.perturbed_text),
                "defender_p_true": round(r.perturbed_proba[r.label], 4),
                **{f"{key}_p_true": round(float(p[i]), 4) for key, p in p_true.items()},
            }
        )
    out = {
        "valid_success_rate": round(float(keeps["eval_judge"].sum()) / len(attacked), 4),
        **diversity([added_text(r.original_text, r.perturbed_text) for r in wins]),
    }
    if defender != SECOND_JUDGE:
        out[f"{SECOND_JUDGE}_agreement"] = round(float(keeps[SECOND_JUDGE].mean()), 4)
    return out


def lift(trained: dict, untrained: dict, rows: dict) -> dict:
    """Success (and valid success) over the untrained LM's on the sentences both attacked, paired."""
    from arena.metrics import seed_item_interval

    shared = [
        i for i, r in trained.items() if r.status != "skipped" and i in untrained and untrained[i].status != "skipped"
    ]
    out = {}
    for key, won in (
        ("lift", lambda r: r.status == "succeeded"),
        ("valid_lift", lambda r: r.status == "succeeded" and r.extra.get("eval_judge_keeps", False)),
    ):
        gaps = np.array([[float(won(trained[i])) - float(won(untrained[i])) for i in shared]])
        ci = seed_item_interval(gaps)
        out[key], out[f"{key}_ci"] = round(ci["mean"], 4), [round(ci["low"], 4), round(ci["high"], 4)]
    return out


def render(result: dict) -> str:
    """Markdown table of the rows."""
    lines = [
        f"judge (training and selection) `{result['judge']}`; "
        f"reported by `{result['eval_judge']}` and `{SECOND_JUDGE}`",
        "",
        "| matchup | success | valid success | eval-judge agr. | fact agr. | lift over untrained (95% CI) "
        "| distinct-2 | self-BLEU | similarity |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("plain", "novelty_plain", "fact", "untrained_plain", "textfooler_plain"):
        if name in result:
            r = result[name]
            gain = f"{r['lift']:+.3f} ({r['lift_ci'][0]:+.3f}–{r['lift_ci'][1]:+.3f})" if "lift" in r else "-"
            lines.append(
                f"| {name} | {r['attack_success_rate']} | {r.get('valid_success_rate', '-')} | "
                f"{r.get('eval_judge_agreement', '-')} | "
                f"{r.get(SECOND_JUDGE + '_agreement', '-')} | {gain} | {r.get('distinct_2', '-')} | "
                f"{r.get('self_bleu', '-')} | "
                f"{r['avg_similarity']} |"
            )
    return "\n".join(lines)


def show(k: int) -> str:
    """The first ``k`` published successes of each attacker row."""
    rows = [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]
    out = []
    for name in ATTACKER_ROWS:
        for ex in [e for e in rows if e["row"] == name][:k]:
            out.append(
                f"[{name}] {ex['original']} [[{ex['added']}]]  "
                f"(defender {ex['defender_p_true']}, judge {ex['judge_p_true']}, "
                f"eval judge {ex['eval_judge_p_true']}, {SECOND_JUDGE} {ex[SECOND_JUDGE + '_p_true']})"
            )
    return "\n".join(out)


def publish(args, training: dict, novelty: bool, extra: bool = True) -> dict:
    """Evaluate (finished matches come back from the store) and write the results and examples."""
    rows, examples = evaluate(args, novelty, extra)
    result = {
        "judge": args.judge,
        "eval_judge": args.eval_judge,
        "second_eval_judge": SECOND_JUDGE,
        **rows,
        "training": training,
        "settings": {
            k: getattr(args, k)
            for k in (
                "iterations",
                "batch",
                "min_tokens",
                "max_tokens",
                "lr",
                "kl_coef",
                "train_texts",
                "novelty",
                "seed",
                "n",
                "samples",
            )
        }
        | {"data": "mr_unseen"},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    EXAMPLES.write_text("".join(json.dumps(e) + "\n" for e in examples))
    return result


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--min-tokens", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--train-texts", type=int, default=3000, help="SST-2 training sentences to draw prompts from")
    parser.add_argument("--judge", default="ngram", help="judge of the reward and of best-of-N selection")
    parser.add_argument(
        "--eval-judge",
        default="vader",
        help="the classifier that reports label preservation: one that took no part in training or selection",
    )
    parser.add_argument(
        "--novelty", type=float, default=1.0, help="also train an attacker with this novelty weight (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=200, help="mr_unseen sentences to attack")
    parser.add_argument("--samples", type=int, default=8, help="continuations per example at attack time")
    parser.add_argument("--out", default=str(ROOT / "runs" / "rl_attacker"))
    parser.add_argument("--db", default=str(ROOT / "runs" / "rl_attacker.db"))
    parser.add_argument("--threads", type=int, help="torch threads of this process")
    parser.add_argument("--from-results", action="store_true")
    parser.add_argument("--show", type=int, default=0, metavar="K", help="print K published successes per attacker row")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.judge == args.eval_judge:
        parser.error(
            "--eval-judge must differ from --judge: "
            "the judge that selects the attacks cannot report their label preservation"
        )
    if args.from_results:
        result = json.loads(RESULTS.read_text())
    else:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        training = {"plain": train(args, args.out, 0.0)}
        result = publish(args, training, novelty=False, extra=False)  # the trained and untrained rows first
        result = publish(args, training, novelty=False)
        if args.novelty:
            training["novelty_plain"] = train(args, args.out + "_novelty", args.novelty)
            result = publish(args, training, novelty=True)
    print(render(result))
    if args.show:
        print(show(args.show))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
