from __future__ import annotations

import io

from arena.progress import RunBar, duration, time_left
from arena.store import ExampleResult, Store


def test_durations_read_in_the_largest_sensible_unit():
    assert [duration(s) for s in (45, 720, 12_240)] == ["45 s", "12 min", "3.4 h"]
    assert time_left(100.0, 12, 2) == "10 min (~2 at once)" and time_left(10.0, 2) == "20 s"


def test_run_bar_takes_the_time_left_from_the_stored_pace_not_from_its_own_rate(tmp_path, monkeypatch):
    with Store(tmp_path / "r.db") as store:
        run_id = store.start_run("match", "five", "toy", {"n": 10}, attacker="textfooler")
        # an earlier session: 4 examples at 600 s each (one of them wrong already: 0 s)
        store.add_results(
            run_id, [ExampleResult(i, f"e{i}", 1, "text", "failed", seconds=800.0 if i else 0.0) for i in range(4)]
        )
        out = io.StringIO()
        monkeypatch.setattr("sys.stderr", out)
        bar = RunBar(store, run_id, total=10, done=4, desc="2 workers", processes=2, idle_redraw=3600)
        assert "4/10 [00:00, rest" in out.getvalue() and "rest ~30 min (~2 at once) at 600 s/example" in out.getvalue()
        # the resume's first result comes a moment later: tqdm would read a second an example
        store.add_results(run_id, [ExampleResult(4, "e4", 1, "text", "skipped", seconds=0.0)])
        bar.show(5)
        assert "5/10" in out.getvalue() and "rest ~20 min (~2 at once) at 480 s/example" in out.getvalue()
        drawn = len(out.getvalue())
        bar.show(5)  # nothing new and the last drawing is recent: no redraw
        assert len(out.getvalue()) == drawn
        bar.close()
        assert store.seconds_per_result("no-such-run") is None
