"""Tournaments: every defender against every attacker on one data set, through the results store.

A tournament is a list of *matchups*, each a plain, picklable :class:`Matchup` (defender spec,
attacker spec or None for the clean evaluation, data spec, options). :func:`play` runs one
matchup into the store (resumable like any ``arena eval``/``arena match`` run) and returns its
run id; a match's examples may be attacked on several workers or a Ray cluster
(:mod:`arena.executor`), and this process writes every result to the one SQLite store. The
tournament itself is recorded as a run of kind ``tournament`` whose summary lists its matchups'
run ids; :func:`leaderboard` recomputes every number from the per-example results those runs hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from arena.matchup import Matchup
from arena.metrics import (
    accuracy,
    attack_summary,
    difference_under_attack,
    ratio_record,
    ratio_text,
    ratio_under_attack,
)
from arena.store import Store
from arena.zoo import check_attacker, check_defender, data_name, eval_key, match_key

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def play(m: Matchup, progress: bool = False, executor=None) -> str:
    """Run (or resume) one matchup into ``m.db``; returns its run id (``progress``: a progress bar
    over the examples on stderr; ``executor``: where a match's examples are attacked, see
    :func:`arena.match.run_match`)."""
    from arena.data import load_data
    from arena.evaluate import evaluate
    from arena.match import run_match
    from arena.matchup import defender_of, options_of
    from arena.zoo import build_attacker

    data = load_data(m.data, n=m.n, seed=m.seed, sample=m.sample, **m.data_options)
    defender = defender_of(m)
    with Store(m.db) as store:
        if m.attacker is None:
            key = eval_key(
                m.defender,
                m.data,
                n=m.n,
                data_seed=m.seed,
                sample=m.sample,
                base=m.base,
                synonyms=m.synonyms,
                defense_seed=m.defense_seed,
            )
            return evaluate(defender, data, store, **key, progress=progress)["run_id"]
        options = options_of(m)
        key = match_key(
            m.defender,
            m.attacker,
            options,
            m.data,
            n=m.n,
            data_seed=m.seed,
            sample=m.sample,
            base=m.base,
            defense_seed=m.defense_seed,
            max_length=m.max_length,
            stochastic=getattr(defender, "stochastic", False),
        )
        return run_match(
            defender,
            build_attacker(m.attacker, options),
            data,
            store,
            **key,
            query_budget=m.query_budget,
            progress=progress,
            executor=executor,
            matchup=m,
        )["run_id"]


def run_tournament(
    defenders: Sequence[str],
    attackers: Sequence[str],
    template: Matchup,
    executor=None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Play every defender's clean evaluation and every defender x attacker match, in turn, each
    announced to ``progress`` and shown with a progress bar when ``progress`` is given; a match's
    examples are attacked on ``executor``'s workers (:mod:`arena.executor`); record the tournament
    in the store; returns its id."""
    if not defenders or not attackers:
        raise ValueError("a tournament needs at least one defender and one attacker")
    for defender in defenders:  # every name before the first match, not hours into the tournament
        check_defender(defender, template.base)
    for attacker in attackers:
        check_attacker(attacker)
    matchups = [
        Matchup(**{**asdict(template), "defender": d, "attacker": a}) for d in defenders for a in (None, *attackers)
    ]
    run_ids = []
    for m in matchups:
        if progress:
            progress(f"{m.attacker or 'clean'} vs {m.defender}")
        run_ids.append(play(m, progress=progress is not None, executor=executor))
    table = {"clean": {}, "matches": {}}
    for m, run_id in zip(matchups, run_ids):
        if m.attacker is None:
            table["clean"][m.defender] = run_id
        else:
            table["matches"].setdefault(m.defender, {})[m.attacker] = run_id
    config = {**asdict(template), "defenders": list(defenders), "attackers": list(attackers)}
    for setting in ("db", "http_timeout"):  # where results go and how long to wait: not what was measured
        config.pop(setting)
    with Store(template.db) as store:
        tid = store.start_run(
            "tournament",
            ",".join(defenders),
            data_name(template.data, template.n, template.seed, template.sample),
            config,
            attacker=",".join(attackers),
        )
        store.finish_run(tid, table)
    return tid


def leaderboard(store: Store, tournament_id: str | None = None, baseline: str | None = None) -> dict:
    """The leaderboard of a tournament (default: the newest), from the per-example results.

    Per defender: clean accuracy, accuracy under each attacker, the worst case; with a
    ``baseline`` (one of the tournament's defenders, e.g. ``plain``) also, per attacker, its
    accuracy under attack ÷ the baseline's on the same examples with a 95 % paired bootstrap
    interval (``x_baseline``). Per attacker: success rate, queries and similarity, averaged over
    defenders (and per defender).
    """
    runs = store.runs("tournament")
    if not runs:
        raise ValueError(f"{store.path} holds no tournament: run `arena tournament` first")
    run = next((r for r in runs if r["run_id"] == tournament_id), None) if tournament_id else runs[0]
    if run is None:
        raise ValueError(
            f"no tournament {tournament_id!r} in {store.path}; known: {', '.join(r['run_id'] for r in runs)}"
        )
    table = run["summary"]
    defenders, attackers = run["config"]["defenders"], run["config"]["attackers"]
    if baseline is not None and baseline not in defenders:
        raise ValueError(
            f"baseline {baseline!r} is not a defender of tournament {run['run_id']}; "
            f"its defenders: {', '.join(defenders)}"
        )
    results = {d: {a: store.results(table["matches"][d][a]) for a in attackers} for d in defenders}  # read once
    summaries = {d: {a: attack_summary(results[d][a]) for a in attackers} for d in defenders}
    board = {"tournament": run["run_id"], "data": run["data"], "defenders": {}, "attackers": {}}
    if baseline is not None:
        board["baseline"] = baseline
    for d in defenders:
        under = {a: summaries[d][a]["accuracy_under_attack"] for a in attackers}
        worst = min(attackers, key=lambda a: under[a])
        board["defenders"][d] = {
            "clean_accuracy": round(accuracy(store.results(table["clean"][d])), 4),
            "under_attack": under,
            "worst_case": under[worst],
            "worst_attacker": worst,
        }
        if baseline is not None and d != baseline:
            board["defenders"][d]["x_baseline"] = {
                a: ratio_record(ratio_under_attack(results[d][a], results[baseline][a])) for a in attackers
            }
    worst_results = {d: results[d][board["defenders"][d]["worst_attacker"]] for d in defenders}
    for d in (
        defenders
    ):  # ahead only when significantly ahead: a defender that draws at random cannot rank above plain by luck
        board["defenders"][d]["rank"] = 1 + sum(
            difference_under_attack(worst_results[o], worst_results[d])["low"] > 0 for o in defenders if o != d
        )

    def mean(a: str, key: str) -> float | None:
        values = [summaries[d][a][key] for d in defenders if summaries[d][a][key] is not None]
        return round(float(np.mean(values)), 4) if values else None

    for a in attackers:
        board["attackers"][a] = {
            "attack_success_rate": mean(a, "attack_success_rate"),
            "avg_queries": mean(a, "avg_queries"),
            "avg_similarity": mean(a, "avg_similarity"),
            "per_defender": {d: summaries[d][a]["attack_success_rate"] for d in defenders},
        }
    return board


def ranking(board: dict) -> list[tuple[str, dict]]:
    """The defenders in leaderboard order: by rank (1 + how many are significantly ahead in
    worst-case accuracy under attack, on the same examples), a tie listed by clean accuracy."""
    return sorted(board["defenders"].items(), key=lambda kv: (kv[1]["rank"], -(kv[1]["clean_accuracy"] or 0)))


def render_leaderboard(board: dict) -> str:
    """Markdown: defenders ranked by worst-case accuracy under attack (ahead only when significantly
    so; ties share a rank), then the attackers."""
    attackers = list(board["attackers"])
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [
        f"## Leaderboard (tournament {board['tournament']}, data {board['data']})",
        "",
        "Ranked by worst-case accuracy under attack; "
        "a defender ranks ahead of another only when its worst case is higher "
        "with a 95 % paired bootstrap interval of the difference above 0 "
        "(ties share a rank, listed by clean accuracy).",
        "",
        "| rank | defender | clean | " + " | ".join(attackers) + " | worst case |",
        "|---:|---|---:|" + "---:|" * len(attackers) + "---:|",
    ]
    ranked = ranking(board)
    for d, row in ranked:
        lines.append(
            f"| {row['rank']} | {d} | {fmt(row['clean_accuracy'])} | "
            + " | ".join(fmt(row["under_attack"][a]) for a in attackers)
            + f" | {fmt(row['worst_case'])} ({row['worst_attacker']}) |"
        )
    if "baseline" in board:
        base = board["baseline"]
        lines += [
            "",
            f"Accuracy under attack ÷ {base}'s, on the same examples (95 % paired bootstrap interval):",
            "",
            "| defender | " + " | ".join(attackers) + " |",
            "|---|" + "---:|" * len(attackers),
        ]
        for d, row in ranked:
            if "x_baseline" in row:
                lines.append(
                    f"| {d} | "
                    + " | ".join(
                        ratio_text(row["x_baseline"][a]["ratio"], row["x_baseline"][a]["ci95"], base) for a in attackers
                    )
                    + " |"
                )
    lines += ["", "| attacker | success rate | queries | similarity |", "|---|---:|---:|---:|"]
    for a, row in sorted(board["attackers"].items(), key=lambda kv: -(kv[1]["attack_success_rate"] or 0)):
        lines.append(
            f"| {a} | {fmt(row['attack_success_rate'])} | {row['avg_queries']} | {fmt(row['avg_similarity'])} |"
        )
    return "\n".join(lines) + "\n"


def heatmap_figure(board: dict) -> Figure:
    """Accuracy under attack, defenders x attackers (clean accuracy as the first column), as a matplotlib
    Figure (no pyplot: nothing global, safe to build in a server thread)."""
    from matplotlib.figure import Figure

    defenders, attackers = list(board["defenders"]), list(board["attackers"])
    grid = np.array(
        [
            [board["defenders"][d]["clean_accuracy"]]
            + [board["defenders"][d]["under_attack"][a] or 0.0 for a in attackers]
            for d in defenders
        ]
    )
    fig = Figure(figsize=(1.6 + 1.4 * (len(attackers) + 1), 1.2 + 0.55 * len(defenders)))
    ax = fig.subplots()
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(attackers) + 1), ["clean"] + attackers, rotation=20, ha="right")
    ax.set_yticks(range(len(defenders)), defenders)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=9)
    fig.colorbar(image, ax=ax, label="accuracy")
    ax.set_title("accuracy (clean, under attack)")
    fig.tight_layout()
    return fig


def heatmap_png(board: dict, path: str | Path) -> None:
    """:func:`heatmap_figure` saved as a PNG."""
    heatmap_figure(board).savefig(path, dpi=90)
