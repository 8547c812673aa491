"""A robustness report card for any classifier (``arena score``).

From a tournament of one defender (the user's classifier) against the chosen attackers:

- clean accuracy, accuracy under each attacker, queries and similarity per attacker;
- a robustness curve: accuracy under TextFooler as the allowed share of perturbed words grows
  from 0 to 30 %. TextFooler's greedy path does not depend on the budget, so the curve comes
  from one unbounded run: an example counts as robust at budget b when the attack failed or
  needed more than b of its words (at b = 0: clean accuracy);
- the five most instructive adversarial examples: successful attacks with the fewest changed
  words, then the highest similarity, changed words marked.

Writes ``report.md`` and ``report.png`` (curve + accuracy per attacker) to the output folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from arena.match import mark_changes
from arena.store import ExampleResult

BUDGETS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30)


def robustness_curve(results: list[ExampleResult], budgets: Sequence[float] = BUDGETS) -> list[tuple[float, float]]:
    """(budget, accuracy) pairs from one unbounded TextFooler run's per-example results."""
    if not results:
        return []
    curve = []
    for b in budgets:
        robust = sum(
            r.status == "failed"
            or (r.status == "succeeded" and (b == 0 or r.words_changed / max(1, r.words_total) > b))
            for r in results
        )  # at b = 0 no word may change: the clean prediction stands
        curve.append((b, round(robust / len(results), 4)))
    return curve


def instructive_examples(results: list[ExampleResult], k: int = 5) -> list[ExampleResult]:
    """Successful attacks with the fewest changed words, then the highest similarity."""
    wins = [r for r in results if r.status == "succeeded" and r.perturbed_text]
    return sorted(wins, key=lambda r: (r.words_changed or 0, -(r.similarity or 0)))[:k]


def render_report(
    name: str, board: dict, curve: list[tuple[float, float]], examples: list[ExampleResult], labels: list[str]
) -> str:
    """The report card as markdown."""
    row = board["defenders"][next(iter(board["defenders"]))]
    lines = [
        f"# Robustness report card: `{name}`",
        "",
        f"Data: `{board['data']}` (tournament {board['tournament']})",
        "",
        f"- clean accuracy: **{row['clean_accuracy']:.3f}**",
        f"- worst case under attack: **{row['worst_case']:.3f}** ({row['worst_attacker']})",
        "",
        "| attacker | accuracy under attack | attack success rate | queries | similarity |",
        "|---|---:|---:|---:|---:|",
    ]
    for a, stats in board["attackers"].items():
        lines.append(
            f"| {a} | {row['under_attack'][a]:.3f} | {stats['attack_success_rate']} | "
            f"{stats['avg_queries']} | {stats['avg_similarity']} |"
        )
    if curve:
        lines += [
            "",
            "Robustness curve (TextFooler, accuracy vs allowed share of perturbed words):",
            "",
            "| " + " | ".join(f"{b:.0%}" for b, _ in curve) + " |",
            "|" + "---:|" * len(curve),
            "| " + " | ".join(f"{acc:.3f}" for _, acc in curve) + " |",
        ]
    if examples:
        lines += ["", "Most instructive adversarial examples (fewest changed words):", ""]
        for r in examples:
            changed = r.extra.get("changed", [])
            original = r.original_segment
            lines += [
                f"- {labels[r.label]} -> {labels[r.perturbed_pred]} "
                f"({r.words_changed} word(s), similarity {r.similarity:.3f}, {r.queries} queries)",
                f"  - original: {mark_changes(original, changed, 'original', '**', '**')}",
                f"  - adversarial: {mark_changes(r.perturbed_text, changed, 'perturbed', '**', '**')}",
            ]
    return "\n".join(lines) + "\n"


def report_png(board: dict, curve: list[tuple[float, float]], path: str | Path) -> None:
    """Robustness curve and accuracy per attacker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = board["defenders"][next(iter(board["defenders"]))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    if curve:
        ax1.plot([100 * b for b, _ in curve], [a for _, a in curve], "o-")
    ax1.set(
        xlabel="allowed perturbed words (%)", ylabel="accuracy under TextFooler", ylim=(0, 1), title="robustness curve"
    )
    names = ["clean"] + list(row["under_attack"])
    ax2.bar(
        names, [row["clean_accuracy"]] + [row["under_attack"][a] or 0 for a in row["under_attack"]], color="tab:blue"
    )
    ax2.set(ylim=(0, 1), title="accuracy")
    ax2.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(
    out: str | Path,
    name: str,
    board: dict,
    textfooler_results: list[ExampleResult],
    all_results: list[ExampleResult],
    labels: list[str],
) -> Path:
    """Write ``report.md`` and ``report.png`` under ``out``; returns the markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curve = robustness_curve(textfooler_results)
    (out / "report.md").write_text(render_report(name, board, curve, instructive_examples(all_results), labels))
    report_png(board, curve, out / "report.png")
    return out / "report.md"
