"""One match run attacked by N local processes (``arena match --workers N``): each is the same
command with ``--shard k/N``, writing into the same store; this process shows the run's progress
from the store and stops them all if one fails."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Sequence

from tqdm.auto import tqdm

from arena.store import Store


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


def attack_in_workers(argv: Sequence[str], workers: int, store: Store, run_id: str, ids: set[str], *,
                      progress: bool = True, poll_seconds: float = 2.0) -> None:
    """Run ``python -m arena ARGV --shard k/N --json`` for k = 0..N-1 and wait for all of them.

    Each worker gets ``OMP_NUM_THREADS`` = cores / N unless it is set already. Progress is read
    from the store (results of ``ids`` in run ``run_id``). If a worker fails, the others are
    stopped and :class:`WorkerFailed` names it; results stored so far stay (a rerun resumes).
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    logs = [tempfile.TemporaryFile() for _ in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "arena", *argv, "--shard", f"{k}/{workers}", "--json"],
                              env=env, stdout=subprocess.DEVNULL, stderr=log) for k, log in enumerate(logs)]
    bar = tqdm(total=len(ids), initial=len(store.done_ids(run_id) & ids), desc=f"{workers} workers", unit="ex",
               disable=not progress)  # initial: a resumed run's rate and time left count only new results
    try:
        while True:
            bar.update(len(store.done_ids(run_id) & ids) - bar.n)
            codes = [proc.poll() for proc in procs]
            failed = next((k for k, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None:
                logs[failed].seek(0)
                lines = logs[failed].read().decode(errors="replace").strip().splitlines()
                raise WorkerFailed(f"worker {failed}/{workers} exited with status {codes[failed]}: "
                                   + (lines[-1] if lines else "no error output"))
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
