"""Train an RL attacker with CORY against ``plain`` and evaluate it in the arena.

Training (``arena train policy --task attacker --algo cory``): SmolLM2-135M (LoRA r=16) appends
``--min-tokens``..``--max-tokens`` tokens to SST-2 training sentences that the ``default``
classifier and the judge get right; reward = P_plain(wrong) x P_judge(true) x MiniLM similarity.
The judge is ``ngram`` (TF-IDF uni/bigrams + logistic regression, packaged): a linear model over
surface words sharing no tokenizer, encoder or weights with the MiniLM defender, so text that
flips the defender but not the judge has not simply gained words of the other sentiment.

Evaluation (``arena match --attacker rl:DIR``, ``--rl-samples`` continuations per example, best
by reward) on the first ``--n`` examples of ``../shared/data/textfooler/mr`` against ``plain``,
``five`` and ``fact:PATH`` (when ``--fact`` is given), plus the untrained LM the same way
(``untrained_plain``: what RL adds over best-of-k sampling) and TextFooler against ``plain``.

    python bench/rl_attacker.py [--iterations 15] [--fact runs/fact] [--json]
    python bench/rl_attacker.py --json --from-results

Label preservation is reported by ``--eval-judge`` (default ``vader``), which took no part in
training or selection; the results file made before that reports the selecting judge's agreement,
which the table no longer shows.

Writes ``bench/results/rl_attacker.json``: ``{"plain": {"attack_success_rate", "eval_judge_agreement",
...}, "five": {...}, "fact": {...}, "untrained_plain": {...}, "textfooler_plain": {...},
"training": {...}}``; with ``--json`` the last line is that object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "rl_attacker.json"
KEYS = ("n", "succeeded", "failed", "skipped", "clean_accuracy", "accuracy_under_attack", "attack_success_rate", "eval_judge_agreement",
        "avg_added_tokens", "avg_perturbed_words_pct", "avg_queries", "avg_similarity")


def train(args) -> dict:
    """Train (or resume) the CORY attacker; returns the run summary plus wall seconds."""
    from policies.train import PolicyRunConfig, train_policy

    cfg = PolicyRunConfig(out=args.out, algo="cory", task="attacker", policy="smollm2", reward="plain", judge=args.judge,
                          data=str(SHARED / "sst2" / "train.tsv"), data_n=args.train_texts, heldout=64, iterations=args.iterations,
                          batch=args.batch, min_tokens=args.min_tokens, max_tokens=args.max_tokens, eval_every=10, checkpoint_every=5,
                          seed=args.seed, ppo={"learning_rate": args.lr, "init_kl_coef": args.kl_coef, "mini_batch_size": 8,
                                               "score_norm": "normalize"})
    start = time.perf_counter()
    summary = train_policy(cfg, progress=not args.json)
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


def evaluate(args) -> dict:
    """Matches of the trained policy (and TextFooler) on MR, through a resumable store."""
    from arena.data import load_data
    from arena.match import run_match
    from arena.store import Store
    from arena.zoo import AttackOptions, build_attacker, build_defender, match_config

    data = load_data(str(SHARED / "textfooler" / "mr"), n=args.n, sample="first")
    options = AttackOptions(synonyms=f"neighbors:{SHARED / 'synonyms' / 'counterfitted_neighbors.json'}", rl_samples=args.samples,
                            eval_judge=args.eval_judge)
    rl = f"rl:{Path(args.out) / 'policy'}"
    defenders = {"plain": "plain", "five": "five"} | ({"fact": f"fact:{args.fact}"} if args.fact else {})
    plays = ([(name, spec, rl) for name, spec in defenders.items()] + [("untrained_plain", "plain", f"rl:{untrained_policy(args.out)}")]
             + [("textfooler_plain", "plain", "textfooler")])
    out = {}
    with Store(args.db) as store:
        for name, spec, attacker_spec in plays:
            defender = build_defender(spec, "default")
            summary = run_match(defender, build_attacker(attacker_spec, options), data, store, defender_name=spec, attacker_name=attacker_spec,
                                data_name=f"mr?n={args.n}", config=match_config(attacker_spec, options, 256), progress=not args.json)
            out[name] = {k: summary.get(k) for k in KEYS}
    return out


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--min-tokens", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--train-texts", type=int, default=3000, help="SST-2 training sentences to draw prompts from")
    parser.add_argument("--judge", default="ngram", help="judge classifier of the reward and of best-of-N selection")
    parser.add_argument("--eval-judge", default="vader", help="the classifier that reports label preservation of the successes: "
                        "one that took no part in training or selection")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=200, help="MR examples to attack")
    parser.add_argument("--samples", type=int, default=8, help="continuations per example at attack time")
    parser.add_argument("--fact", help="FACT-tuned classifier folder for the fact row")
    parser.add_argument("--out", default=str(ROOT / "runs" / "rl_attacker"))
    parser.add_argument("--db", default=str(ROOT / "runs" / "rl_attacker.db"))
    parser.add_argument("--from-results", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.from_results:
        result = json.loads(RESULTS.read_text())
    else:
        training = train(args)
        result = {**evaluate(args), "training": training,
                  "settings": {k: getattr(args, k) for k in ("iterations", "batch", "min_tokens", "max_tokens", "lr", "kl_coef", "train_texts", "judge", "eval_judge",
                                                              "seed", "n", "samples")}}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=1))
    print("| matchup | success rate | eval-judge agreement | acc. under attack | queries | similarity |\n|---|---:|---:|---:|---:|---:|")
    for name in ("plain", "five", "fact", "untrained_plain", "textfooler_plain"):
        if name in result:
            r = result[name]
            print(f"| {name} | {r['attack_success_rate']} | {r.get('eval_judge_agreement', '-')} | {r['accuracy_under_attack']} | {r['avg_queries']} | {r['avg_similarity']} |")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
