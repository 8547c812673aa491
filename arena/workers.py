"""One match run attacked by N local processes (``arena match --workers N``): each is the same
command with ``--claim LAUNCH/N`` (it takes chunks of examples as it goes) or ``--shard k/N``,
writing into the same store; this process shows the run's progress from the store and stops them
all if one fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from arena.progress import RunBar
from arena.store import Store, new_launch

if TYPE_CHECKING:  # arena.match is imported when a match runs, not by every CLI command that imports this module
    from arena.attack import Attacker
    from arena.classifier import Classifier
    from arena.data import LabelledData


LAUNCHER_ENV = "ARENA_LAUNCHER_PID"  # set in a --workers process: the launching process, which it must not outlive
PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal sent to this process when its parent ends


def die_with_launcher() -> None:
    """In a ``--workers`` process: end when the launching process ends, even by ``kill -9`` (which
    leaves it no chance to stop its workers). On Linux the kernel sends SIGTERM at once
    (``PR_SET_PDEATHSIG``); everywhere a watcher thread checks the parent every second."""
    launcher = os.environ.get(LAUNCHER_ENV)
    if not launcher or not launcher.isdigit():
        return
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (AttributeError, OSError):
            pass

    def watch() -> None:
        while os.getppid() == int(launcher):
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    if os.getppid() != int(launcher):  # it ended before this process got here
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True, name="launcher-watch").start()


class WorkerFailed(RuntimeError):
    """A worker process exited with an error (its last line of stderr is in the message)."""


def without_option(argv: Sequence[str], flag: str) -> list[str]:
    """``argv`` without ``flag VALUE`` / ``flag=VALUE``."""
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word == flag:
            skip = True
        elif not word.startswith(flag + "="):
            out.append(word)
    return out


def attack_in_workers(
    argv: Sequence[str],
    workers: int,
    store: Store,
    run_id: str,
    ids: set[str],
    *,
    claim: bool = True,
    progress: bool = True,
    poll_seconds: float = 2.0,
) -> None:
    """Run N processes ``python -m arena ARGV --json`` and wait for all of them: with ``claim``
    each takes the next chunk of examples that none of them has taken (``--claim LAUNCH/N``, so a
    fast one does not wait idle on a slow one), else each attacks its ``--shard k/N``.

    Each worker gets ``OMP_NUM_THREADS`` = cores / N unless it is set already. Progress is read
    from the store (results of ``ids`` in run ``run_id``). If a worker fails, the others are
    stopped and :class:`WorkerFailed` names it; results stored so far stay (a rerun resumes).
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    env[LAUNCHER_ENV] = str(os.getpid())  # the workers stop when this process ends, however it ends
    launch = new_launch()
    logs = [tempfile.TemporaryFile() for _ in range(workers)]
    part = (lambda k: ["--claim", f"{launch}/{workers}"]) if claim else (lambda k: ["--shard", f"{k}/{workers}"])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "arena", *argv, *part(k), "--json"], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        for k, log in enumerate(logs)
    ]
    bar = RunBar(
        store,
        run_id,
        total=len(ids),
        done=len(store.done_ids(run_id) & ids),
        desc=f"{workers} workers",
        processes=workers,
        enabled=progress,
    )
    try:
        while True:
            bar.show(len(store.done_ids(run_id) & ids))
            codes = [proc.poll() for proc in procs]
            failed = next((k for k, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None:
                logs[failed].seek(0)
                lines = logs[failed].read().decode(errors="replace").strip().splitlines()
                raise WorkerFailed(
                    f"worker {failed}/{workers} exited with status {codes[failed]}: "
                    + (lines[-1] if lines else "no error output")
                )
            if all(code == 0 for code in codes):
                return
            time.sleep(poll_seconds)
    finally:
        bar.close()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        for log in logs:
            log.close()
        store.release(launch)


def run_match_in_workers(
    workers: int,
    argv: Sequence[str],
    defender: Classifier,
    attacker: Attacker,
    data: LabelledData,
    store: Store,
    key: dict,
    *,
    query_budget: int | None = None,
    progress: bool = True,
    **options,
) -> dict:
    """:func:`arena.match.run_match` of the run ``key`` names; with ``workers`` > 1 the examples are
    first attacked by that many ``python -m arena ARGV`` processes (:func:`attack_in_workers`;
    they claim chunks as they go when the attacker's results do not depend on which examples
    share a call, else each takes a shard), and this process only collects the summary."""
    from arena.match import run_match, start_match

    if workers > 1:
        run_id = start_match(defender, data, store, **key, query_budget=query_budget)
        attack_in_workers(
            argv,
            workers,
            store,
            run_id,
            {ex.id for ex in data.examples},
            claim=getattr(attacker, "independent_examples", False),
            progress=progress,
        )
    return run_match(
        defender, attacker, data, store, **key, query_budget=query_budget, progress=progress and workers == 1, **options
    )
