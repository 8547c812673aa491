"""RL fine-tuning table: PPO, CORY, PPO++, AggreVaTeD, D2LOLS and the untrained policy.

Same policy LM (default ``smollm2``, LoRA r=16), prompts (first 2-8 words of
``../shared/data/textfooler/imdb`` reviews, 64 held out), reward (the ``default`` classifier's
positive class, log-odds fed to PPO), judge (VADER), iteration budget and seeds for every
algorithm. Each (algorithm, seed) is one ``arena train policy`` run under ``--runs`` (resumable);
the table reports held-out metrics after the last iteration, means over seeds:

- ``reward``: the reward model's P(positive) on held-out prompts (8 new tokens each);
- ``kl``: summed per-token KL to the reference (training batches, mean of the last 5 iterations);
- ``judge``: VADER's P(positive) on the same held-out texts; ``gap`` = reward - judge;
- ``ppl``: perplexity of the held-out responses under the reference LM;
- ``sec_per_iter``: wall seconds per training iteration.

    python bench/rl_table.py [--algos ppo,cory,...] [--seeds 0,1] [--iterations 60] [--json]
    python bench/rl_table.py --from-results [--json]

``--algos``/``--seeds`` run a subset and merge it into ``bench/results/rl.json``, so the table can
be built over several sittings. Also writes ``bench/results/rl.md`` and ``bench/results/rl_curves.png``
(held-out reward and training KL per iteration, mean over seeds). With ``--json`` the last line is
``{"untrained": {...}, "ppo": {"reward", "kl", "judge", "gap", "ppl", "sec_per_iter"}, "cory": ..., ...}``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policies.train import ALGOS, PolicyRunConfig, train_policy  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"


def run_config(args, algo: str, seed: int) -> PolicyRunConfig:
    """The shared settings of every bench run."""
    return PolicyRunConfig(out=str(Path(args.runs) / f"{algo}_s{seed}"), algo=algo, policy=args.policy, data=args.data, heldout=64,
                           iterations=args.iterations, batch=args.batch, seed=seed, min_tokens=4, max_tokens=args.max_tokens,
                           eval_every=10, checkpoint_every=5, tau=round(0.4 * args.iterations),  # D2LOLS: the authors' 20 of 50
                           ppo={"learning_rate": args.lr, "init_kl_coef": args.kl_coef, "mini_batch_size": 8, "score_norm": "normalize"})


def curves(run_dir: Path) -> dict[str, list]:
    """Held-out reward and training KL per iteration of one run."""
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {"heldout": [[r["iteration"], r["reward"]] for r in rows if r["split"] == "heldout"],
            "kl": [[r["iteration"], r["kl"]] for r in rows if r["split"] == "train"]}


def table(results: dict) -> dict:
    """Means over seeds per algorithm, plus the untrained policy (iteration-0 held-out metrics)."""
    out: dict[str, dict] = {}
    untrained = [s["untrained"] for runs in results["runs"].values() for s in runs.values()]
    if untrained:
        out["untrained"] = {k: round(float(np.mean([u[k] for u in untrained])), 4) for k in ("reward", "judge", "gap", "ppl")}
        out["untrained"].update(kl=0.0, sec_per_iter=None)
    for algo in ALGOS:
        runs = list(results["runs"].get(algo, {}).values())
        if not runs:
            continue
        row = {k: float(np.mean([r["final"][k] for r in runs])) for k in ("reward", "judge", "gap", "ppl")}
        row["kl"] = float(np.mean([r["kl"] for r in runs]))
        row["sec_per_iter"] = float(np.mean([r["sec_per_iter"] for r in runs]))
        out[algo] = {k: round(v, 4) for k, v in row.items()}
        out[algo]["seeds"] = len(runs)
    return out


def render(summary: dict, settings: dict) -> str:
    """Markdown table."""
    lines = [f"policy {settings.get('policy')}, {settings.get('iterations')} iterations x batch {settings.get('batch')}, "
             f"responses 4-{settings.get('max_tokens')} tokens, reward `default` P(positive) (log-odds to PPO), judge VADER; "
             "held-out metrics, means over seeds", "",
             "| algorithm | seeds | reward | KL | judge | gap | ppl | s/iter |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in summary.items():
        cells = [row.get("seeds", "-")] + ["-" if row.get(k) is None else f"{row[k]:.3f}" if k != "ppl" else f"{row[k]:.1f}"
                                           for k in ("reward", "kl", "judge", "gap", "ppl", "sec_per_iter")]
        lines.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    """Held-out reward and training KL per iteration, mean over seeds, one line per algorithm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for algo, runs in results["curves"].items():
        for key, ax in (("heldout", ax1), ("kl", ax2)):
            series = [dict((i, v) for i, v in run[key]) for run in runs.values()]
            steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
            ax.plot(steps, [np.mean([s[i] for s in series]) for i in steps], label=algo, marker="o" if key == "heldout" else None)
    ax1.set_title("held-out reward (P positive)")
    ax2.set_title("KL to reference (train)")
    for ax in (ax1, ax2):
        ax.set_xlabel("iteration")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=12)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--policy", default="smollm2")
    parser.add_argument("--data", default=str(SHARED / "textfooler" / "imdb"))
    parser.add_argument("--runs", default=str(ROOT / "runs" / "rl_bench"), help="folder of the per-run outputs (resumable)")
    parser.add_argument("--from-results", action="store_true", help="reprint from bench/results/rl.json")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = RESULTS / "rl.json"
    results = json.loads(path.read_text()) if path.exists() else {"runs": {}, "curves": {}, "settings": {}}
    if not args.from_results:
        algos = [a for a in args.algos.split(",") if a]
        if not set(algos) <= set(ALGOS):
            parser.error(f"--algos: choose from {', '.join(ALGOS)}")
        settings = {"policy": args.policy, "iterations": args.iterations, "batch": args.batch, "max_tokens": args.max_tokens,
                    "lr": args.lr, "kl_coef": args.kl_coef, "data": Path(args.data).name, "lora_r": 16, "reward_kind": "logit"}
        if results["settings"] and results["settings"] != settings:
            print(f"note: {path} was made with {results['settings']}; these runs use {settings} — starting a fresh table", file=sys.stderr)
            results = {"runs": {}, "curves": {}, "settings": {}}
        results["settings"] = settings
        for algo in algos:
            for seed in (int(s) for s in args.seeds.split(",") if s):
                cfg = run_config(args, algo, seed)
                summary = train_policy(cfg, progress=not args.json)
                results["runs"].setdefault(algo, {})[str(seed)] = summary
                results["curves"].setdefault(algo, {})[str(seed)] = curves(Path(cfg.out))
                results["table"] = table(results)
                RESULTS.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(results, indent=1))  # merged after every run
        (RESULTS / "rl.md").write_text("# RL fine-tuning table (`python bench/rl_table.py`)\n\n" + render(results["table"], settings))
        plot(results, RESULTS / "rl_curves.png")
    summary = results.get("table") or table(results)
    print(render(summary, results.get("settings", {})))
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
