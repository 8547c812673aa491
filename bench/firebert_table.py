"""FireBERT's tables on our default classifier: plain, FuSE, FIVE, FACT, FuSE(FACT), FIVE(FACT), and
the noise canary (a defense with no robustness, which only an adaptive attack sees through).

Per data set (the first N of ``../shared/data/textfooler/{mr_unseen,mr,imdb}``; ``mr_unseen`` is
the part of ``mr`` that is not in SST-2's training set, on which the default and FACT models were
trained, so it is the MR set by default):

- ``clean``: accuracy on the clean examples;
- ``cost_ratio``: inference seconds per example ÷ plain's, timed back to back in this process on
  the first ``--cost-n`` clean examples (batches of 32, after one warm-up batch; the fastest of
  ``--cost-repeats`` passes, each with FuSE's similarity cache empty; plain is timed before and
  after the other rows, the faster counting); ``ms_per_example`` gives the times themselves. A
  row timed while ``--keep-cost`` keeps plain's figures is still timed against plain timed in the
  same run (on the same machine), whose time it records as ``plain_ms_per_example``;
- ``premade``: accuracy on the pre-made adversarial set: TextFooler's successful adversarial
  examples against ``plain`` (true labels kept), as in the paper; with ``--defense-seeds K``,
  FuSE and FIVE rows also report ``clean_seeds`` and ``premade_seeds``, those two accuracies at
  defense seeds 0 (the row's own, the one attacked) to K-1, and the table shows their range;
- ``under_attack``: accuracy under an active TextFooler attack against that row's defender, and
  the ``queries`` the attacker needed (mean over attacked examples); ``-`` for rows left out of
  ``--attack-rows``. A row given there as ``row@K`` is attacked on the first K examples only
  (the run goes on from there next time), and ``row@stored`` on as many first examples as the
  store already holds for it (the table refreshed, nothing attacked); it then also reports
  ``attack_n`` (= K),
  ``plain_under_attack_same_n`` and ``plain_queries_same_n``: plain's accuracy under attack and
  queries on those same K examples. Every attacked row but plain also reports ``x_plain``, its
  accuracy under attack ÷ plain's on the same examples, and ``x_plain_ci95``, a 95 % paired
  bootstrap interval of that ratio (10,000 resamples of the examples; ``null`` for a ratio or bound
  the data leave open, when plain's kept count is or can be 0);
- ``under_adaptive_attack``: for randomized rows (``--adaptive-rows``, default those attacked), the
  accuracy under the adaptive TextFooler (``--eot 8 --verify 5``: each answer a mean of 8 draws, a
  success judged on 5 fresh draws of its final text), with ``adaptive_queries``, ``adaptive_n``,
  plain's accuracy under attack on those examples and ``x_plain_adaptive`` (+ ``_ci95``), and
  ``under_attack_adaptive_n``, the one-draw attack's accuracy on those same examples (seed 0). On FuSE
  and FIVE rows the adaptive attack runs at defense seeds 0 to ``--adaptive-seeds``-1 (default 3;
  the noise canary at seed 0 only, its attack already at plain's level): the accuracy and
  queries are means over the seeds (``under_adaptive_attack_seeds`` lists each seed's), and the
  ratio is pooled over them with an interval that resamples the seeds, then the examples, so it
  includes the spread the defense's randomness adds. For deterministic rows the same as
  ``under_attack``. The similarity threshold is TextFooler's default
  (0.80 on MiniLM), recorded in the settings.

Every run goes through a results store (``--db``), so an interrupted bench resumes. Runs are
named as ``arena match`` and ``arena eval`` name them for the same data path, ``--n``,
``--synonyms``, ``--max-length`` and ``--precision``, typed the same way (defense seed 0): a row
attacked with ``arena match --classifier SPEC --data DATA_DIR/mr --n 300 --sample first ...`` into the same store,
or by ``bench/defense_seeds.py``, is picked up, not attacked again, so long rows can run in
several processes or on other machines and a last run assembles the table; ``--workers N`` runs
each whole row's attack as N ``arena match --shard`` processes itself. (Stores made before
this naming, when the bench named runs its own way, do not resume under these names.) Timing needs a
quiet machine and the attack columns take hours: ``--keep-cost`` refreshes the other columns while
the rows already in the results file keep the cost timed there; ``--keep-rows`` (with
``--keep-cost``) re-runs only ``--rows`` and keeps the earlier table's other rows (checked: same
settings and the same plain attack, which their ratios pair with).

    python bench/firebert_table.py [--fact runs/fact] [--mr 300] [--imdb 200] [--workers 16] [--json]
        (FACT: the packaged model)
    python bench/firebert_table.py --from-results [--json]

Writes ``bench/results/firebert.{md,json}`` (``--results NAME``: ``NAME.{md,json}``; a data set skipped with
``--mr 0`` / ``--imdb 0`` keeps its earlier table there); with ``--json`` the last line is the JSON object
``{"mr": {"plain": {"clean", "premade", "under_attack", "queries", "cost_ratio"}, ...}, "imdb": {...}}``
(the results file also keeps, under ``settings``, what each data set was run with).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from arena.data import LabelledData, load_data
from arena.evaluate import evaluate
from arena.match import adversarial_examples, restore_texts
from arena.metrics import attack_summary, ratio_over_seeds, ratio_record, ratio_text, ratio_under_attack
from arena.resources import PRECISIONS
from arena.store import Store
from arena.zoo import AttackOptions, build_attacker, build_defender, eval_key, is_stochastic, match_key
from attackers.textfooler import DEFAULT_SIM_THRESHOLD

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
QUERY_DRIFT = 0.001  # --keep-rows: plain's mean queries may differ by this share from the earlier table's
ROWS = (
    "plain",
    "fuse",
    "five",
    "fact",
    "five+fact",
    "fuse+fact",
    "noise",
)  # FuSE(FACT), the costliest, then the canary
BAR_FACT_CLEAN, BAR_FACT_PREMADE, BAR_X_PLAIN, BAR_COST = 0.97, 0.60, 2.0, 15.0  # the bars (bar_checks)
BAR_CANARY = 0.05  # how far above plain a defense with no robustness may read under the adaptive attack


def relative(path: Path) -> str:
    """``path`` as typed from the working folder (how `arena match` users name the shared data)."""
    return os.path.relpath(path) if path.exists() else str(path)


def defender_spec(row: str, fact: str | None) -> str:
    """Registry spec of a table row, ``?settings`` kept; FACT rows use the folder ``fact``, or the
    packaged FACT model when it is None."""
    core, mark, settings = row.partition("?")
    if is_fact_row(core) and fact:
        return f"{core}:{fact}{mark}{settings}"
    return row


def is_fact_row(row: str) -> bool:
    """Whether a table row runs on the FACT model (fact, fuse+fact, five+fact, with any settings)."""
    return "fact" in row.partition("?")[0]


def fact_name(args) -> str:
    """The FACT model as the results file's settings name it: its folder, or ``packaged``."""
    return args.fact or "packaged"


def parse_attack_rows(entries: list[str]) -> dict[str, int | str | None]:
    """``row``, ``row@K`` or ``row@stored`` entries -> {row: K, "stored" or None (every example)}."""
    rows: dict[str, int | str | None] = {}
    for entry in filter(None, entries):
        row, mark, count = entry.partition("@")
        if mark and count != "stored" and not (count.isdigit() and int(count) > 0):
            raise ValueError(f"{entry!r}: K in 'row@K' must be a positive whole number or 'stored'")
        rows[row] = (count if count == "stored" else int(count)) if mark else None
    return rows


def inference_seconds(defender, texts: list, batch: int = 32, repeats: int = 3, before_pass=None) -> float:
    """Seconds per example of ``defender.predict_proba`` over ``texts``: the fastest of ``repeats``
    passes (after one warm-up batch), so that load from other processes inflates no row; each pass
    starts with FuSE's similarity cache empty, as every query of an attack is a new text, and
    after ``before_pass()`` when given."""
    defender.predict_proba(texts[:batch])
    fastest = float("inf")
    for _ in range(repeats):
        if hasattr(defender, "clear_cache"):  # FuSE: no similarity cached from an earlier pass
            defender.clear_cache()
        if before_pass is not None:
            before_pass()
        started = time.perf_counter()
        for start in range(0, len(texts), batch):
            defender.predict_proba(texts[start : start + batch])
        fastest = min(fastest, time.perf_counter() - started)
    return fastest / len(texts)


def attack_options(args, adaptive: bool = False) -> AttackOptions:
    """The TextFooler options of the bench's attacks (``--synonyms``, ``--chunk-size``): the attacker
    is built from them and the runs are keyed by them. The ``under_attack`` column is the
    non-adaptive attack (one draw per query, no check of the final text: ``--eot 1 --verify 1``), as
    the stored runs were made; ``adaptive``: the adaptive defaults against a randomized defender."""
    return AttackOptions(
        synonyms=args.synonyms, chunk_size=args.chunk_size, **({} if adaptive else {"eot": 1, "verify": 1})
    )


def attack_key(spec: str, path: str, n: int, args, seed: int = 0, adaptive: bool = False) -> dict:
    """How a TextFooler attack on ``spec`` is stored: as ``arena match --classifier SPEC --defense-seed
    SEED --data PATH --n N --sample first`` (with ``--eot 1 --verify 1`` unless ``adaptive``) with the
    bench's ``--synonyms`` and ``--max-length`` stores it (``run_match``'s keywords). The benches take
    the first N rows, as their stored runs did."""
    return match_key(
        spec,
        "textfooler",
        attack_options(args, adaptive),
        path,
        n=n,
        sample="first",
        defense_seed=seed,
        max_length=args.max_length,
    )


def match_argv(spec: str, path: str, n: int, args, adaptive: bool = False) -> list[str]:
    """The ``arena match`` command line that stores its attack as :func:`attack_key` names it (whose
    matchup ``--workers`` sends its workers)."""
    return [
        "match",
        "--classifier",
        spec,
        "--data",
        path,
        "--n",
        str(n),
        "--sample",
        "first",
        *([] if adaptive else ["--eot", "1", "--verify", "1"]),
        "--synonyms",
        args.synonyms,
        "--max-length",
        str(args.max_length),
        "--precision",
        args.precision,
        "--chunk-size",
        str(args.chunk_size),
        "--db",
        args.db,
    ]


def attack_row(
    defender,
    spec: str,
    attacker,
    data: LabelledData,
    path: str,
    n: int,
    args,
    store: Store,
    limit: int | str | None = None,
    adaptive: bool = False,
    seed: int = 0,
) -> dict:
    """The attack summary of ``spec`` at defense seed ``seed`` on the first ``limit`` (default all)
    examples; with ``--workers N`` a whole-data attack runs on N workers (as ``arena match --workers N``)."""
    from dataclasses import asdict

    from arena.cli import _matchup_template, build_parser
    from arena.executor import make_executor
    from arena.match import run_match
    from arena.matchup import Matchup

    workers = args.workers if limit in (None, n) else 1
    argv = match_argv(spec, path, n, args, adaptive) + (["--defense-seed", str(seed)] if seed else [])
    parsed = build_parser().parse_args([*argv, "--attacker", "textfooler"])
    matchup = Matchup(**{**asdict(_matchup_template(parsed)), "defender": spec, "attacker": "textfooler"})
    executor = make_executor(workers)
    try:
        return run_match(
            defender,
            attacker,
            data,
            store,
            **attack_key(spec, path, n, args, seed=seed, adaptive=adaptive),
            progress=not args.json,
            limit=limit,
            executor=executor,
            matchup=matchup,
        )
    finally:
        executor.close()


def adaptive_columns(
    spec: str,
    attacker,
    data: LabelledData,
    path: str,
    n: int,
    args,
    store: Store,
    count: int | str | None,
    plain_results: list,
    defense_options: dict,
    one_draw: list | None = None,
) -> dict:
    """The adaptive attack's columns of a randomized row (``--eot``/``--verify`` defaults) on its first
    ``count`` examples at defense seeds 0 to ``--adaptive-seeds``-1 (the other seeds on as many
    examples as seed 0's run holds): ``under_adaptive_attack`` and ``adaptive_queries`` (means over
    the seeds), ``under_adaptive_attack_seeds``, ``adaptive_n``, plain's accuracy under attack on
    those examples and the ratio to it pooled over the seeds, with the interval that resamples the
    seeds, then the examples (:func:`arena.metrics.ratio_over_seeds`)."""
    limit = count if count == "stored" else min(count or n, n)
    attacks, runs = [], []
    for seed in range(1 if spec.startswith("noise") else args.adaptive_seeds):
        defender = build_defender(spec, "default", seed=seed, **defense_options)
        attack = attack_row(defender, spec, attacker, data, path, n, args, store, limit=limit, adaptive=True, seed=seed)
        if seed == 0:
            limit = attack["n"]
        attacks.append(attack)
        runs.append(store.results(attack["run_id"]))
    ids = {ex.id for ex in data.examples[:limit]}
    record = ratio_record(ratio_over_seeds([[r for r in run if r.example_id in ids] for run in runs], plain_results))
    plain_same = attack_summary([r for r in plain_results if r.example_id in ids])
    accuracies = [attack["accuracy_under_attack"] for attack in attacks]
    same = (
        {
            "under_attack_adaptive_n": attack_summary([r for r in one_draw if r.example_id in ids])[
                "accuracy_under_attack"
            ]
        }
        if one_draw
        else {}
    )
    return {
        **same,
        "under_adaptive_attack": round(sum(accuracies) / len(accuracies), 4),
        "under_adaptive_attack_seeds": accuracies,
        "adaptive_queries": round(sum(a["avg_queries"] for a in attacks) / len(attacks), 2),
        "adaptive_n": limit,
        "plain_under_attack_adaptive_n": plain_same["accuracy_under_attack"],
        "x_plain_adaptive": record["ratio"],
        "x_plain_adaptive_ci95": record["ci95"],
    }


def eval_names(spec: str, seed: int, path: str, n: int, args) -> dict:
    """How a row's clean accuracy is stored: as ``arena eval --classifier SPEC --defense-seed SEED
    --data PATH --n N --sample first`` stores it (``evaluate``'s names; the pre-made set's data name adds
    ``#premade``)."""
    return eval_key(spec, path, n=n, sample="first", synonyms=args.synonyms, defense_seed=seed)


def clean_and_premade(
    defender, names: dict, data: LabelledData, premade: LabelledData, store: Store, progress: bool
) -> tuple[float, float | None]:
    """Accuracy of ``defender`` on the clean examples and on the pre-made set (None when it is empty),
    stored under ``names`` (:func:`eval_names`)."""
    clean = evaluate(defender, data, store, **names, progress=progress)
    if not len(premade):
        return clean["accuracy"], None
    return clean["accuracy"], evaluate(
        defender,
        premade,
        store,
        classifier_name=names["classifier_name"],
        data_name=f"{names['data_name']}#premade",
        progress=progress,
    )["accuracy"]


def run_dataset(name: str, n: int, args, store: Store, kept_cost: dict) -> dict:
    """All rows of one data set; a row in ``kept_cost`` (row -> earlier values) keeps its
    ``ms_per_example`` and ``cost_ratio`` instead of being timed again. Runs are stored as
    ``arena match`` / ``arena eval`` store them (defense seed 0 unless stated)."""
    path = str(Path(args.data_dir) / name)
    data = load_data(path, n=n, sample="first")
    attacker = build_attacker("textfooler", attack_options(args))
    model_options = {"max_length": args.max_length, "precision": args.precision}
    defense_options = {"synonyms": args.synonyms, **model_options}
    plain = build_defender("plain", "default", **model_options)
    made = attack_row(plain, "plain", attacker, data, path, n, args, store)
    # read once: the pre-made set and every row's comparison (texts remade if the store was merged --no-texts)
    plain_results = restore_texts(store.results(made["run_id"]), data, attacker.replayable_swaps)
    premade = LabelledData(adversarial_examples(plain_results), data.label_names, data.source + "#premade")

    def evaluated(defender, spec: str, seed: int = 0) -> tuple[float, float | None]:
        return clean_and_premade(defender, eval_names(spec, seed, path, n, args), data, premade, store, not args.json)

    timing_texts = [ex.input for ex in data.examples[: args.cost_n]]
    table, timed = {}, {}  # timed: row -> seconds per example, for the rows timed in this run
    for row in args.rows:
        spec = defender_spec(row, args.fact)
        defender = build_defender(spec, "default", **defense_options)
        clean, adversarial = evaluated(defender, spec)
        partial = {}
        if args.defense_seeds > 1 and getattr(defender, "stochastic", False):  # seed 0 is the row's own
            seeded = [
                evaluated(build_defender(spec, "default", seed=seed, **defense_options), spec, seed)
                for seed in range(1, args.defense_seeds)
            ]
            partial.update(
                clean_seeds=[clean] + [c for c, _ in seeded], premade_seeds=[adversarial] + [p for _, p in seeded]
            )
        if row == "plain":
            attack = made
        elif row in args.attack_rows:
            count = args.attack_rows[row]
            attack = attack_row(
                defender,
                spec,
                attacker,
                data,
                path,
                n,
                args,
                store,
                limit=count if count == "stored" else min(count or n, n),
            )
            if not attack["n"]:
                raise SystemExit(
                    f"--attack-rows {row}@stored: {args.db} holds no attack results for {row} on {name} yet"
                )
            ids = {ex.id for ex in data.examples[: attack["n"]]}
            if attack["n"] < n:  # attacked on the first examples only: plain on the same ones beside it
                same = attack_summary([r for r in plain_results if r.example_id in ids])
                partial = {
                    "attack_n": attack["n"],
                    "plain_under_attack_same_n": same["accuracy_under_attack"],
                    "plain_queries_same_n": same["avg_queries"],
                }
            versus = ratio_under_attack(
                [r for r in store.results(attack["run_id"]) if r.example_id in ids], plain_results
            )
            record = ratio_record(versus)
            partial.update(x_plain=record["ratio"], x_plain_ci95=record["ci95"])
        else:  # passive row: clean and pre-made accuracy only
            attack = dict.fromkeys(("accuracy_under_attack", "avg_queries", "avg_perturbed_words_pct"))
        if row in args.adaptive_rows and getattr(defender, "stochastic", False):
            one_draw = store.results(attack["run_id"]) if attack.get("run_id") else None
            partial.update(
                adaptive_columns(
                    spec,
                    attacker,
                    data,
                    path,
                    n,
                    args,
                    store,
                    args.adaptive_rows[row],
                    plain_results,
                    defense_options,
                    one_draw,
                )
            )
        elif row in args.adaptive_rows:  # deterministic: more draws change nothing, the adaptive attack is the attack
            partial.update(
                under_adaptive_attack=attack["accuracy_under_attack"], adaptive_queries=attack["avg_queries"]
            )
        table[row] = {
            "clean": clean,
            "premade": adversarial,
            "under_attack": attack["accuracy_under_attack"],
            "queries": attack["avg_queries"],
            "perturbed_pct": attack["avg_perturbed_words_pct"],
            **partial,
            "premade_n": len(premade),
        }
        if row in kept_cost:
            table[row].update(
                {
                    key: kept_cost[row][key]
                    for key in ("ms_per_example", "cost_ratio", "plain_ms_per_example")
                    if key in kept_cost[row]
                }
            )
        if row not in kept_cost or row == "plain":  # plain always: the base of the rows timed here
            timed[row] = inference_seconds(defender, timing_texts, repeats=args.cost_repeats)
    fresh = [row for row in timed if row != "plain"]
    if fresh:
        # plain is timed again after the other rows, on this machine, the faster pass counting: a
        # base inflated by a passing load would deflate every ratio (a FACT row, plain's
        # architecture, read 0.72x once)
        timed["plain"] = min(timed["plain"], inference_seconds(plain, timing_texts, repeats=args.cost_repeats))
    base = timed.pop("plain")
    if "plain" not in kept_cost:
        table["plain"].update(ms_per_example=round(1000 * base, 1), cost_ratio=1.0)
    for row in fresh:  # against a kept plain (another run, maybe another machine), the base is named
        table[row].update(
            ms_per_example=round(1000 * timed[row], 1),
            cost_ratio=round(timed[row] / base, 2),
            **({"plain_ms_per_example": round(1000 * base, 1)} if "plain" in kept_cost else {}),
        )
    return table


def cost_to_keep(result: dict, name: str, args) -> dict:
    """With ``--keep-cost``: the earlier rows of data set ``name`` that keep their timed cost
    (only when plain, their base, is among them and was timed the same way; FACT rows only when
    made with the same FACT model)."""
    if not args.keep_cost:
        return {}
    table, settings = result.get(name, {}), result.get("settings", {}).get(name, {})
    timing = {"cost_n": args.cost_n, "cost_repeats": args.cost_repeats, "precision": args.precision}
    if "plain" not in table or any(settings.get(key) != value for key, value in timing.items()):
        raise SystemExit(
            f"--keep-cost: bench/results/{args.results}.json has no {name} cost timed with {timing}; "
            "time it once without --keep-cost"
        )
    same_fact = settings.get("fact") == fact_name(args)
    return {
        row: values
        for row, values in table.items()
        if "ms_per_example" in values and (same_fact or not is_fact_row(row))
    }


def keep_rows(earlier: dict, fresh: dict, earlier_settings: dict, settings: dict) -> dict:
    """With ``--keep-rows``: the earlier table of a data set with the rows run now replaced or added.
    Kept rows must have been made the same way (same settings, and plain's attack the same, since
    their ratios pair with it: the same accuracy under attack and pre-made set, and queries within
    ``QUERY_DRIFT``, as float-level changes in the code can flip a near-tie in the similarity check
    and cost a review a few queries more or less); FACT rows made with another FACT model are dropped."""
    same = ("n", "max_length", "precision")
    if any(earlier_settings.get(key) != settings[key] for key in same) or resolved_source(
        earlier_settings.get("synonyms", "")
    ) != resolved_source(settings["synonyms"]):
        raise SystemExit(
            f"--keep-rows: the earlier table was run with {earlier_settings}, not {settings}; run every row"
        )
    before, now = earlier["plain"], fresh["plain"]
    if (
        any(before.get(key) != now[key] for key in ("under_attack", "premade_n"))
        or abs(before.get("queries", 0) - now["queries"]) > QUERY_DRIFT * now["queries"]
    ):
        raise SystemExit(
            "--keep-rows: plain's attack differs from the earlier table's, so its ratios would not pair; run every row"
        )
    same_fact = earlier_settings.get("fact") == settings["fact"]
    kept = {
        row: fresh.get(row, values)
        for row, values in earlier.items()
        if row in fresh or same_fact or not is_fact_row(row)
    }  # in the earlier order
    return {**kept, **fresh}


def resolved_source(synonyms: str) -> str:
    """A synonym source with its file path made absolute: the same table typed relative or absolute
    compares equal."""
    kind, colon, path = synonyms.partition(":")
    return f"{kind}:{Path(path).expanduser().resolve()}" if colon and path else synonyms


def searched_five(name: str, defense: str) -> str | None:
    """The setting ``bench/five_search.py`` picked for ``defense`` (five or five+fact) on held-out
    examples of data set ``name`` (its results file's ``best``), or None when none was searched."""
    path = RESULTS / f"five_search_{name}{'_fact' if is_fact_row(defense) else ''}.json"
    return json.loads(path.read_text()).get("best") if path.exists() else None


def counted_row(table: dict, name: str, defense: str) -> str:
    """The row a bar counts for ``defense``: for FIVE rows the setting searched on the data set's
    held-out examples when the table has it (the paper picks FIVE's settings per data set that
    way), else the row of the defaults."""
    tuned = searched_five(name, defense) if defense.startswith("five") else None
    return tuned if tuned in table else defense


def bar_checks(table: dict, name: str) -> list[tuple[str, str, str, bool | None]]:
    """The issue's bars on one data set's table: (bar, row counted, what was measured, met), met
    None where the row or its column is missing."""
    plain, checks = table["plain"], []
    counted = {
        defense: counted_row(table, name, defense) for defense in ("fuse", "five", "fuse+fact", "five+fact", "fact")
    }
    rows = {defense: table.get(row, {}) for defense, row in counted.items()}

    def check(bar: str, defense: str, value: float | None, shown, ok) -> None:
        """One bar: ``shown(value)`` and ``ok(value)`` only for a measured value."""
        checks.append(
            (
                bar,
                counted[defense],
                "not measured" if value is None else shown(value),
                None if value is None else ok(value),
            )
        )

    fact = rows["fact"]
    share = None if fact.get("clean") is None else fact["clean"] / plain["clean"]
    check(
        f"FACT clean accuracy >= {BAR_FACT_CLEAN:.0%} of plain's",
        "fact",
        share,
        lambda x: f"{x:.1%} of plain's",
        lambda x: x >= BAR_FACT_CLEAN,
    )
    check(
        f"FACT accuracy on pre-made adversarials >= {BAR_FACT_PREMADE}",
        "fact",
        fact.get("premade"),
        lambda x: f"{x:.3f}",
        lambda x: x >= BAR_FACT_PREMADE,
    )
    for defense, label in (("five", "FIVE"), ("five+fact", "FIVE(FACT)")):
        row = rows[defense]
        first = f" (first {row['attack_n']})" if row.get("attack_n") else ""
        versus = row.get("plain_queries_same_n", plain["queries"])
        check(
            f"{label} under attack >= {BAR_X_PLAIN:g}x plain's",
            defense,
            row.get("x_plain"),
            lambda x, row=row, first=first: ratio_text(x, row["x_plain_ci95"], "plain") + first,
            lambda x: x >= BAR_X_PLAIN,
        )
        check(
            f"the attacker needs more queries against {label}",
            defense,
            row.get("queries"),
            lambda x, versus=versus, first=first: f"{x} vs plain's {versus}{first}",
            lambda x, versus=versus: x > versus,
        )
    for defense, label in (
        ("fuse", "FuSE"),
        ("five", "FIVE"),
        ("fuse+fact", "FuSE(FACT)"),
        ("five+fact", "FIVE(FACT)"),
    ):
        check(
            f"{label} inference cost <= {BAR_COST:g}x plain's",
            defense,
            rows[defense].get("cost_ratio"),
            lambda x: f"{x}x",
            lambda x: x <= BAR_COST,
        )
    for row, label in (
        ("noise", "the noise canary"),
        ("fuse", "FuSE"),
        ("five", "FIVE"),
        ("fuse+fact", "FuSE(FACT)"),
        ("five+fact", "FIVE(FACT)"),
    ):
        v = table.get(row, {})
        if v.get("adaptive_n"):  # the one-draw attack on the same examples, else on the row's own
            one_draw = v.get("under_attack_adaptive_n", v.get("under_attack"))
            checks.append(
                (
                    f"{label}: adaptive attack <= one draw",
                    row,
                    f"{v['under_adaptive_attack']:.3f} vs {one_draw:.3f} (first {v['adaptive_n']})",
                    v["under_adaptive_attack"] <= one_draw,
                )
            )
    canary = table.get("noise", {})
    if canary.get("adaptive_n"):
        bound = canary["plain_under_attack_adaptive_n"] + BAR_CANARY
        checks.append(
            (
                f"the canary under adaptive attack <= plain's + {BAR_CANARY}",
                "noise",
                f"{canary['under_adaptive_attack']:.3f} vs {bound:.3f}",
                canary["under_adaptive_attack"] <= bound,
            )
        )
    return checks


def _fmt(value) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) and value <= 1 else str(value))


def render(result: dict) -> str:
    """Markdown tables, one per data set."""
    lines = []
    for name, table in result.items():
        if not isinstance(table, dict) or "plain" not in table:
            continue
        lines += [
            f"### {name} (premade set: {table['plain']['premade_n']} adversarial examples made against plain)",
            "",
            "| defender | clean acc | premade acc | acc under TextFooler | queries | perturbed % | cost ratio "
            "| acc under adaptive TextFooler | adaptive queries |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in [row for row in ROWS if row in table] + [
            row for row in table if row not in ROWS
        ]:  # the defaults first
            v = table[row]
            cells = [
                _fmt(v.get(k))
                for k in (
                    "clean",
                    "premade",
                    "under_attack",
                    "queries",
                    "perturbed_pct",
                    "cost_ratio",
                    "under_adaptive_attack",
                    "adaptive_queries",
                )
            ]
            if v.get("adaptive_n"):
                seeds = v.get("under_adaptive_attack_seeds", [v["under_adaptive_attack"]])
                spread = (
                    f"mean of {len(seeds)} defense seeds, {_fmt(min(seeds))}-{_fmt(max(seeds))}; "
                    if len(seeds) > 1
                    else ""
                )
                one_draw = (
                    f"one draw there {_fmt(v['under_attack_adaptive_n'])}; " if "under_attack_adaptive_n" in v else ""
                )
                cells[6] += (
                    f" (first {v['adaptive_n']}; {spread}{one_draw}"
                    f"plain there {_fmt(v['plain_under_attack_adaptive_n'])}; "
                    + ratio_text(v["x_plain_adaptive"], v["x_plain_adaptive_ci95"], "plain")
                    + (", seeds and examples resampled" if len(seeds) > 1 else "")
                    + ")"
                )
            notes = []
            if v.get("attack_n"):
                notes.append(f"first {v['attack_n']}; plain there {_fmt(v['plain_under_attack_same_n'])}")
                cells[3] += f" (plain there {_fmt(v['plain_queries_same_n'])})"
            if "x_plain_ci95" in v:
                notes.append(ratio_text(v["x_plain"], v["x_plain_ci95"], "plain"))
            if notes:
                cells[2] += f" ({'; '.join(notes)})"
            for cell, key in ((0, "clean_seeds"), (1, "premade_seeds")):
                if v.get(key) and None not in v[key]:
                    cells[cell] += f" ({_fmt(min(v[key]))}-{_fmt(max(v[key]))} over {len(v[key])} seeds)"
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Bars on {name} "
            f"(FIVE rows: the setting `bench/five_search.py` picked on held-out {name} examples, where it ran):",
            "",
            "| bar | row | measured | met |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {bar} | {row} | {measured} | {'-' if met is None else 'yes' if met else 'no'} |"
            for bar, row, measured, met in bar_checks(table, name)
        ]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Command-line entry point: the options, the run and the table this module's docstring describes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mr",
        type=int,
        default=0,
        help="first N of textfooler/mr (half of it is in SST-2's training set: "
        "`arena overlap`; the earlier tables used 300)",
    )
    parser.add_argument(
        "--mr-unseen",
        type=int,
        default=421,
        help="first N of textfooler/mr_unseen, the MR sentences clean against sst2/train.tsv",
    )
    parser.add_argument("--imdb", type=int, default=200)
    parser.add_argument(
        "--fact",
        help="FACT-tuned classifier folder (from `arena train defense fact`; default: the packaged FACT model)",
    )
    parser.add_argument(
        "--rows",
        default=",".join(ROWS),
        help=f"comma-separated rows to run (plain always runs): {','.join(ROWS)}; "
        "FuSE/FIVE rows may carry settings, e.g. 'five?std=0.1' (quote it)",
    )
    parser.add_argument(
        "--attack-rows",
        help="rows attacked actively (default: all; plain always is, on every example); the "
        "others report clean and pre-made accuracy only (for long texts on a CPU, where FuSE/FIVE attacks take "
        "hours); 'row@K' attacks that row on the first K examples only; 'row@stored' takes as many first examples as "
        "the store already holds for it (refreshes the table, attacks nothing)",
    )
    parser.add_argument(
        "--adaptive-rows",
        help="randomized rows also attacked adaptively (--eot 8 --verify 5; default: every "
        "randomized row of --attack-rows), 'row@K' on the first K examples; deterministic rows repeat their "
        "attack there (more draws change nothing)",
    )
    parser.add_argument(
        "--adaptive-seeds",
        type=int,
        default=3,
        help="FuSE and FIVE rows: defense seeds 0..K-1 each attacked "
        "adaptively on the row's examples; the adaptive columns are their means and the ratio to plain is pooled "
        "over them (the noise canary: seed 0)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=32,
        help="examples attacked in lockstep; smaller keeps more of an "
        "interrupted attack against a costly defender (not part of the run's identity: resumes either way)",
    )
    parser.add_argument(
        "--data-dir",
        default=relative(SHARED / "textfooler"),
        help="folder of the mr and imdb data (runs are named by the path as typed, as `arena match --data` names them)",
    )
    parser.add_argument(
        "--synonyms", default=f"neighbors:{relative(SHARED / 'synonyms' / 'counterfitted_neighbors.json')}"
    )
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="classifier precision (bf16: 1.6-1.8x faster measured on a CPU with AVX512-BF16, ~6x slower without)",
    )
    parser.add_argument(
        "--defense-seeds",
        type=int,
        default=1,
        help="FuSE and FIVE rows: clean and pre-made accuracy also at "
        "defense seeds 1..K-1, reported as clean_seeds / premade_seeds (seed 0, the attacked one, first) and "
        "their range in the table: how much a fresh draw of the defense moves those columns",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="attack each whole row with N processes (`arena match --workers N`: "
        "processes claiming examples of one run, OMP_NUM_THREADS = cores/N each unless set); "
        "the timing stays in this process",
    )
    parser.add_argument(
        "--db",
        default="arena.db",
        help="results store (resumable; `arena match`'s default, shared with it and `arena eval`)",
    )
    parser.add_argument("--cost-n", type=int, default=100, help="clean examples timed per row for cost_ratio")
    parser.add_argument("--cost-repeats", type=int, default=3, help="timed passes per row (the fastest counts)")
    parser.add_argument(
        "--keep-cost",
        action="store_true",
        help="rows already in the results file keep their "
        "timed cost there (refresh the accuracy columns while other work loads the machine; new rows are timed)",
    )
    parser.add_argument(
        "--keep-rows",
        action="store_true",
        help="rows of the earlier table that are not in --rows stay as "
        "they are (checked: same settings and the same plain attack; FACT rows of another --fact are dropped)",
    )
    parser.add_argument(
        "--from-results", action="store_true", help="reprint from the results file (bench/results/NAME.json)"
    )
    parser.add_argument("--results", default="firebert", help="results name: bench/results/NAME.{json,md}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.rows = ["plain"] + [row for row in args.rows.split(",") if row and row != "plain"]
    try:
        args.attack_rows = parse_attack_rows(args.rows if args.attack_rows is None else args.attack_rows.split(","))
        args.adaptive_rows = (
            parse_attack_rows(args.adaptive_rows.split(","))
            if args.adaptive_rows is not None
            else {row: count for row, count in args.attack_rows.items() if is_stochastic(row)}
        )
    except ValueError as error:
        parser.error(f"--attack-rows/--adaptive-rows: {error}")
    unknown = sorted({row for row in args.rows + sorted(args.attack_rows) if row.partition("?")[0] not in ROWS})
    if unknown:
        parser.error(f"--rows/--attack-rows: unknown {unknown}; known: {', '.join(ROWS)}")
    if args.adaptive_seeds < 1:
        parser.error(f"--adaptive-seeds {args.adaptive_seeds}: needs at least 1")
    if args.defense_seeds < 1:
        parser.error(f"--defense-seeds {args.defense_seeds}: needs at least 1 (seed 0, the attacked one)")
    if args.keep_rows and not args.keep_cost:
        parser.error(
            "--keep-rows needs --keep-cost "
            "(kept rows' cost ratios are relative to the plain timing they were made with)"
        )
    if args.fact and not args.from_results and not Path(args.fact).expanduser().is_dir():
        parser.error(f"--fact {args.fact}: no such folder (make one with `arena train defense fact`)")
    out_json = RESULTS / f"{args.results}.json"
    if args.from_results:
        result = json.loads(out_json.read_text())
    else:
        # a data set not run this time (--mr 0 / --imdb 0) keeps its earlier table
        result = json.loads(out_json.read_text()) if out_json.exists() else {}
        with Store(args.db) as store:
            tables = {
                name: run_dataset(name, n, args, store, cost_to_keep(result, name, args))
                for name, n in (("mr", args.mr), ("mr_unseen", args.mr_unseen), ("imdb", args.imdb))
                if n > 0
            }
        for name, table in tables.items():
            settings = {
                "n": getattr(args, name),
                "sim_threshold": DEFAULT_SIM_THRESHOLD,
                "fact": fact_name(args),
                "synonyms": args.synonyms,
                "max_length": args.max_length,
                "precision": args.precision,
                "cost_n": args.cost_n,
                "cost_repeats": args.cost_repeats,
            }
            if args.keep_rows and name in result:
                table = keep_rows(result[name], table, result.get("settings", {}).get(name, {}), settings)
            result[name] = table
            result.setdefault("settings", {})[name] = settings
        RESULTS.mkdir(exist_ok=True)
        out_json.write_text(json.dumps(result, indent=2))
        out_json.with_suffix(".md").write_text(
            "# FireBERT table (`python bench/firebert_table.py`)\n\n" + render(result)
        )
    print(render(result))
    if args.json:  # the data sets only; the settings each was run with stay in the results file
        print(json.dumps({name: table for name, table in result.items() if name != "settings"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
