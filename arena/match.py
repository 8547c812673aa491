"""One matchup (a defender against an attacker on a data set) as a resumable run in the store."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, replace

from arena.attack import FAILED, SKIPPED, SUCCEEDED, Attacker
from arena.classifier import Classifier, run_identity
from arena.data import Example, LabelledData, align_labels
from arena.matchup import Matchup, defender_of, options_of
from arena.metrics import attack_summary
from arena.progress import RunBar
from arena.scorer import Scorer
from arena.store import ExampleResult, Store
from arena.words import WordView

_BUILT: dict[str, tuple[Classifier, Attacker]] = {}  # per worker process: the players of the matchups it attacked


def attack_chunk(job: tuple[Matchup, dict, list[tuple[int, Example]]]) -> list[ExampleResult]:
    """A worker's task: attack the examples of ``job`` = (matchup, run config, [(idx, example)])
    with the matchup's players (built once per process) through a fresh Scorer, each success
    verified as in :func:`run_match`; the results go back to the process that writes the store."""
    from arena.zoo import build_attacker

    m, config, items = job
    key = json.dumps(asdict(m), sort_keys=True, default=str)
    if key not in _BUILT:
        _BUILT[key] = (defender_of(m), build_attacker(m.attacker, options_of(m)))
    defender, attacker = _BUILT[key]
    scorer = Scorer(defender, cache_size=100_000, query_budget=m.query_budget, eot=config.get("eot", 1))
    return list(verified(attacker.attack(items, scorer), scorer, config.get("verify", 1)))


def task_size(free: int, most: int, workers: int) -> int:
    """How many of ``free`` examples the next task of a parallel match takes: up to ``most`` and at
    most a (4 x ``workers``)-th of them, at least one (so the last tasks are short and no worker
    waits long on another)."""
    return min(most, max(1, math.ceil(free / (4 * workers))))


def chunks(todo: Sequence[tuple[int, Example]], attacker: Attacker, workers: int) -> list[list[tuple[int, Example]]]:
    """The tasks of a parallel match, in data order: for an attacker whose results do not depend
    on which examples share a call (``independent_examples``), :func:`task_size` examples each, up
    to its ``chunk_size``; otherwise its own ``chunk_size`` chunks, the calls a single process makes."""
    most = getattr(attacker, "chunk_size", 1) or 1
    out, start = [], 0
    while start < len(todo):
        size = task_size(len(todo) - start, most, workers) if getattr(attacker, "independent_examples", False) else most
        out.append(list(todo[start : start + size]))
        start += size
    return out


def start_match(
    defender: Classifier,
    data: LabelledData,
    store: Store,
    *,
    defender_name: str,
    attacker_name: str,
    data_name: str,
    config: dict | None = None,
    query_budget: int | None = None,
) -> str:
    """The id of the match run these settings name (what :func:`run_match` resumes), created in
    the store if new."""
    data = align_labels(data, defender.labels)
    run_config = {
        "fingerprint": data.fingerprint,
        "n": len(data),
        "query_budget": query_budget,
        **(config or {}),
        **run_identity(defender),
    }
    return store.start_run("match", defender_name, data_name, run_config, attacker=attacker_name)


def run_match(
    defender: Classifier,
    attacker: Attacker,
    data: LabelledData,
    store: Store,
    *,
    defender_name: str,
    attacker_name: str,
    data_name: str,
    config: dict | None = None,
    cache: bool = True,
    query_budget: int | None = None,
    progress: bool = True,
    limit: int | str | None = None,
    shard: tuple[int, int] | None = None,
    executor=None,
    matchup: Matchup | None = None,
) -> dict:
    """Attack every example not yet done in this run, writing each result as soon as it is final.

    ``config`` holds whatever else defines the run (attacker options...); the same defender,
    attacker, data and config resume the same run. Returns the summary over all its results.
    ``limit`` attacks only the first ``limit`` examples: the run keeps the whole data set's
    identity (a later call goes on from there), the summary covers those examples, and the run is
    not marked finished. ``limit="stored"``: as many first examples as the store already holds
    results for, one after another from the first (nothing new is attacked).

    ``shard=(k, n)`` attacks only the examples at positions ``k, k + n, k + 2n...``: n processes
    (or machines, their stores joined with :meth:`arena.store.Store.merge`) share one run, each
    example's result the same as in a single process. The summary covers every result stored so
    far, from all shards; the run is marked finished once all its examples have one.

    ``executor`` (:mod:`arena.executor`) with more than one worker: the examples go to its workers
    in chunks (:func:`chunks`), each attacked by the players ``matchup`` names, built in the
    worker (:func:`attack_chunk`); this process writes each chunk's results as it comes back.
    Per-example results are the single process's for attackers whose results do not depend on
    random state carried from one call to the next.
    """
    if shard is not None and not 0 <= shard[0] < shard[1]:
        raise ValueError(f"shard {shard[0]}/{shard[1]}: needs 0 <= K < N (K/N: this process's part of N)")
    parallel = executor is not None and executor.workers > 1
    if parallel and matchup is None:
        raise ValueError("a match on several workers needs the matchup's specs (its workers build the players)")
    data = align_labels(data, defender.labels)
    run_id = start_match(
        defender,
        data,
        store,
        defender_name=defender_name,
        attacker_name=attacker_name,
        data_name=data_name,
        config=config,
        query_budget=query_budget,
    )
    done = store.done_ids(run_id)
    if limit == "stored":
        limit = next((i for i, ex in enumerate(data.examples) if ex.id not in done), len(data))
    wanted = data.examples[:limit] if limit is not None else data.examples
    ids = {ex.id for ex in wanted}
    todo = [(i, ex) for i, ex in enumerate(wanted) if ex.id not in done and (shard is None or i % shard[1] == shard[0])]
    scorer = Scorer(
        defender, cache_size=100_000 if cache else 0, query_budget=query_budget, eot=(config or {}).get("eot", 1)
    )
    desc = f"{attacker_name} vs {defender_name}" + (f" (shard {shard[0]}/{shard[1]})" if shard else "")
    bar = RunBar(store, run_id, total=len(done & ids) + len(todo), done=len(done & ids), desc=desc, enabled=progress)
    if parallel:
        tasks = [(matchup, config or {}, part) for part in chunks(todo, attacker, executor.workers)]
        for _, part in executor.map(attack_chunk, tasks):
            store.add_results(run_id, part)
            for _ in part:
                bar.advance()
    else:
        for result in verified(attacker.attack(todo, scorer), scorer, (config or {}).get("verify", 1)):
            store.add_results(run_id, [result])
            bar.advance()
    bar.close()
    results = [r for r in store.results(run_id) if r.example_id in ids]
    summary = {
        "run_id": run_id,
        "defender": defender_name,
        "attacker": attacker_name,
        "data": data_name,
        **attack_summary(results),
        "resumed": len(done & ids),
        "complete": len(results) == len(wanted),
    }
    if len(wanted) == len(data) and summary["complete"]:
        store.finish_run(run_id, summary)
    return summary


def verified(results: Iterable[ExampleResult], scorer: Scorer, draws: int) -> Iterator[ExampleResult]:
    """``results`` with each attacked example's final text judged on ``draws`` fresh draws of the
    defender (one query each, not averaged): a success if most of them are wrong, else a failed
    attack, whatever the attacker concluded from its own noisy estimates (``extra["verify"]``
    records the draws and how many were wrong). The check's queries are the evaluation's, not the
    attacker's: the result's ``queries`` leave them out."""
    for result in results:
        if draws > 1 and result.status in (SUCCEEDED, FAILED) and result.perturbed_text is not None:
            final = result.perturbed_text if result.text_pair is None else (result.original_text, result.perturbed_text)
            wrong = int((scorer.draws([final], result.example_id, draws)[0].argmax(axis=1) != result.label).sum())
            result = replace(
                result,
                status=SUCCEEDED if 2 * wrong > draws else FAILED,
                extra={**result.extra, "verify": {"draws": draws, "wrong": wrong}},
            )
        yield result


def restore_texts(results: list[ExampleResult], data: LabelledData, replay: bool) -> list[ExampleResult]:
    """``results`` with the texts that ``arena merge --no-texts`` left out put back: the original
    (and pair) from ``data``, the run's data; with ``replay`` (an attacker whose
    ``replayable_swaps`` is true, as TextFooler's), the perturbed text too, by making the swaps of
    ``extra["changed"]`` again. A stored swap whose old word is not the data's word there is an error."""
    by_id = {ex.id: ex for ex in data.examples}
    restored = []
    for r in results:
        ex = by_id.get(r.example_id)
        if r.original_text or ex is None:
            restored.append(r)
            continue
        perturbed = None
        if replay and r.status != SKIPPED:
            view = WordView.of(ex.segment)
            for position, old, new in r.extra.get("changed", []):
                if position >= len(view) or view.words[position] != old:
                    raise ValueError(
                        f"{r.example_id}: word {position} of the data is not {old!r}, the word the stored attack "
                        f"swapped; these results come from other data than {data.source}"
                    )
                view = view.replace(position, new)
            perturbed = view.text
        restored.append(replace(r, original_text=ex.text, text_pair=ex.text_pair, perturbed_text=perturbed))
    return restored


def adversarial_examples(results: list[ExampleResult]) -> list[Example]:
    """Successful attacks as examples with their true labels (the paper's pre-made sets);
    for pairs the premise is kept and the perturbed hypothesis becomes ``text_pair``."""
    blank = [r.example_id for r in results if r.status == "succeeded" and r.perturbed_text is None]
    if blank:
        raise ValueError(
            f"{len(blank)} successful attacks (e.g. {blank[0]}) were stored without their texts "
            "(`arena merge --no-texts`): a pre-made set needs the perturbed texts; "
            "attack again into a store that keeps them"
        )
    return [
        Example(r.perturbed_text, r.label, None, r.example_id)
        if r.text_pair is None
        else Example(r.original_text, r.label, r.perturbed_text, r.example_id)
        for r in results
        if r.status == "succeeded"
    ]


def mark_changes(text: str, changed: list[list], side: str, left: str = "[[", right: str = "]]") -> str:
    """``text`` with the changed words of ``extra["changed"]`` wrapped in markers.

    ``side`` is ``"original"`` (mark the old words in the original) or ``"perturbed"``.
    """
    view = WordView.of(text)
    which = 0 if side == "original" else 1
    for position, *words in changed:
        if position < len(view):
            view = view.replace(position, f"{left}{words[which]}{right}")
    return view.text
