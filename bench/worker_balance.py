"""How evenly ``arena match --workers N`` shares a run: fixed shards against chunks handed out as
workers free up, replayed from the per-example model seconds of finished match runs in a store.

Shards: worker k attacks examples k, k+N, k+2N...; the run lasts as long as the slowest share.
Claims: chunks of :func:`arena.match.task_size` examples, in data order, each to whichever worker
is free first (what ``--workers`` does for TextFooler). Each figure is the run's length over the
ideal (total seconds / N): 1.00 means no worker ever waits.

    python bench/worker_balance.py --db runs/firebert.db --runs 2d3ba806d31f,8a10510ab9de [--json]

With ``--json`` the last line is one JSON object
``{"RUN_ID": {"chunk C": {"N": {"shards": …, "claims": …}}}}``.
"""

from __future__ import annotations

import argparse
import heapq
import json

from arena.match import task_size
from arena.store import Store


def shards_over_ideal(seconds: list[float], workers: int) -> float:
    """The slowest fixed shard's seconds over the ideal."""
    return max(sum(seconds[k::workers]) for k in range(workers)) / (sum(seconds) / workers)


def claims_over_ideal(seconds: list[float], workers: int, chunk: int) -> float:
    """The last worker's finishing time over the ideal, when chunks are claimed as workers free up."""
    free_at, start = [0.0] * workers, 0
    while start < len(seconds):
        size = task_size(len(seconds) - start, chunk, workers)
        heapq.heappush(free_at, heapq.heappop(free_at) + sum(seconds[start : start + size]))
        start += size
    return max(free_at) / (sum(seconds) / workers)


def main() -> None:
    """Print the table (and with ``--json`` one JSON line) for the given runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="arena.db", help="results store holding the runs")
    parser.add_argument(
        "--runs", required=True, help="comma-separated ids of finished match runs (`arena runs` lists them)"
    )
    parser.add_argument("--workers", default="2,8,16", help="comma-separated worker counts")
    parser.add_argument("--chunks", default="32,4", help="comma-separated --chunk-size values")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    chunks = [int(c) for c in args.chunks.split(",")]
    result: dict = {}
    with Store(args.db) as store:
        lines = [
            "| run | examples | chunk | " + " | ".join(f"{n} workers: shards / claims" for n in counts) + " |",
            "|---|---:|---:|" + "---|" * len(counts),
        ]
        for run_id in args.runs.split(","):
            run = store.run(run_id)
            if run is None:
                parser.error(f"--runs: no run {run_id!r} in {args.db}")
            seconds = [r.seconds or 0.0 for r in store.results(run_id)]  # in data order
            if not seconds or sum(seconds) <= 0:
                parser.error(f"--runs: run {run_id!r} has no timed results")
            for chunk in chunks:
                row = {
                    str(n): {
                        "shards": round(shards_over_ideal(seconds, n), 3),
                        "claims": round(claims_over_ideal(seconds, n, chunk), 3),
                    }
                    for n in counts
                }
                result.setdefault(run_id, {})[f"chunk {chunk}"] = row
                cells = " | ".join(f"{row[str(n)]['shards']:.2f} / {row[str(n)]['claims']:.2f}" for n in counts)
                lines.append(f"| {run['defender']} on {run['data']} | {len(seconds)} | {chunk} | {cells} |")
    print("\n".join(lines))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
