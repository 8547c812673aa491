"""One way to run work in parallel: here in turn, in a local process pool, or on Ray.

:func:`make_executor` picks the backend: one worker (and no Ray address) runs here; ``workers`` > 1
runs on a local Ray when Ray is installed (the ``[ray]`` extra), else on a local process pool;
``ray=ADDRESS`` runs on that Ray cluster. ``executor.map(fn, items)`` yields ``(i, fn(items[i]))``
as each task finishes, so the caller, the one process that writes the results store, keeps every
result as soon as it exists and a crash loses only the tasks in flight. ``fn`` must be a
module-level function and ``items`` plain picklable data (specs, not loaded models): each worker
builds what it needs once and keeps it for the tasks it gets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

BACKENDS = ("serial", "process", "ray")


class WorkerFailed(RuntimeError):
    """A task failed in a worker (the message names the worker's error; the cause is chained)."""


class SerialExecutor:
    """Every task here, in order."""

    workers = 1
    backend = "serial"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """``(i, fn(items[i]))`` in order."""
        for i, item in enumerate(items):
            yield i, fn(item)

    def close(self) -> None:
        """Nothing to release."""


PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal sent to this process when its parent ends


def _start_worker(threads: int, parent: int) -> None:
    """A pool process: its share of the cores (set before torch starts its thread pool), and an end
    when the launching process ``parent`` ends, even by ``kill -9`` (the kernel's SIGTERM on Linux;
    everywhere a watcher thread checks the parent every second)."""
    import signal
    import sys
    import threading
    import time

    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (AttributeError, OSError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    if os.getppid() != parent:  # it ended before this process got here
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class ProcessExecutor:
    """A local pool of ``workers`` fresh (spawned) processes sharing the cores."""

    backend = "process"

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(threads, os.getpid()),
        )

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """``(i, fn(items[i]))`` as each finishes; the first failure is raised (the rest cancelled)."""
        from concurrent.futures import as_completed

        futures = {self.pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as exc:
                    raise WorkerFailed(f"a worker failed: {exc}") from exc
                yield futures[future], result
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        """Stop the pool's processes."""
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Ray tasks: a Ray started here (listening on this machine only) or the cluster at ``address``."""

    backend = "ray"

    def __init__(self, workers: int, address: str | None = None):
        import ray

        self.ray = ray
        self.workers = workers
        local = address in (None, "local")
        self.started = not ray.is_initialized()  # a Ray started here is shut down by close()
        if self.started:
            ray.init(
                address=None if local else address,
                include_dashboard=False,
                log_to_driver=False,
                **({"_node_ip_address": "127.0.0.1", "num_cpus": workers} if local else {}),
            )

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """``(i, fn(items[i]))`` as each task finishes (one CPU per task)."""
        remote = self.ray.remote(num_cpus=1)(fn)
        pending = {remote.remote(item): i for i, item in enumerate(items)}
        # Tasks left pending when this stops are not cancelled: cancelling queued tasks crashes
        # Ray 2.60's driver (task_manager.cc check failure), forced or not; close() ends them.
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            try:
                result = self.ray.get(done[0])
            except self.ray.exceptions.RayTaskError as exc:
                raise WorkerFailed(f"a worker failed: {getattr(exc, 'cause', None) or exc}") from exc
            yield pending.pop(done[0]), result

    def close(self) -> None:
        """Shut down the Ray this executor started (one already running is left as it was)."""
        if self.started:
            self.ray.shutdown()


def ray_installed() -> bool:
    """Whether the ``[ray]`` extra is installed."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def make_executor(
    workers: int = 1, ray: str | None = None, backend: str | None = None
) -> SerialExecutor | ProcessExecutor | RayExecutor:
    """The executor for ``workers`` and ``ray`` (see the module docstring); ``backend`` forces one
    of ``serial``, ``process``, ``ray``."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {workers})")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"executor backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
    if backend is None:
        backend = "ray" if ray else "serial" if workers == 1 else "ray" if ray_installed() else "process"
    if backend == "ray":
        if not ray_installed():
            raise ValueError("Ray is not installed: pip install 'firearena[ray]' (or drop --ray)")
        return RayExecutor(workers, ray)
    return ProcessExecutor(workers) if backend == "process" else SerialExecutor()
