"""Progress of a stored run: the time its examples left would take, from the seconds its stored
results took, and a progress bar that shows it (``arena match``, ``--workers``, ``arena runs``).

tqdm's own rate is the wrong guide for an attack: an example the model gets wrong already is
stored in a second, so a resumed run whose first result is one reads "2 s/example, 4 minutes
left" on IMDB FIVE, where an attacked review takes ten minutes. The store knows better: every
result keeps the model seconds it took, across every session of the run.
"""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from arena.store import Store


def duration(seconds: float) -> str:
    """``seconds`` as a short human duration (``45 s``, ``12 min``, ``3.4 h``)."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def time_left(seconds_per_example: float, left: int, processes: int = 1) -> str:
    """How long ``left`` examples take at that pace, shared by ``processes``, e.g. ``3.4 h (~2 at once)``."""
    return duration(seconds_per_example * left / processes) + (f" (~{processes} at once)" if processes > 1 else "")


class RunBar:
    """A tqdm bar over a run's examples whose time left is the store's: the run's mean model
    seconds per stored result (every session's, so a resume starts from the run's real pace)
    times the examples left, over the ``processes`` attacking them. It redraws when a result
    arrives and, with :meth:`show` called while waiting, every ``idle_redraw`` seconds, so the
    clock moves in a terminal without flooding a log."""

    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        total: int,
        done: int,
        desc: str,
        processes: int = 1,
        enabled: bool = True,
        idle_redraw: float = 30.0,
    ):
        self.store, self.run_id, self.processes, self.idle_redraw = store, run_id, processes, idle_redraw
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=desc,
            unit="ex",
            bar_format=self.FORMAT,
            disable=not enabled,
            postfix=self._rest(total - done) if enabled else None,
        )
        self._drawn = time.monotonic()

    def show(self, done: int) -> None:
        """Show ``done`` of the examples finished: redrawn at once if that moved, else when the
        last drawing is ``idle_redraw`` seconds old."""
        if self.bar.disable or (done == self.bar.n and time.monotonic() - self._drawn < self.idle_redraw):
            return
        self.bar.n = done
        self.bar.set_postfix_str(self._rest(self.bar.total - done), refresh=False)
        self.bar.refresh()
        self._drawn = time.monotonic()

    def _rest(self, left: int) -> str:
        """``rest ~3.4 h at 601 s/example`` at the run's stored pace ('' before its first result)."""
        pace = self.store.seconds_per_result(self.run_id)
        return f"rest ~{time_left(pace, left, self.processes)} at {pace:.3g} s/example" if pace and left > 0 else ""

    def advance(self, count: int = 1) -> None:
        """Show ``count`` more examples finished."""
        self.show(self.bar.n + count)

    def close(self) -> None:
        """Finish the bar's line."""
        self.bar.close()
