"""Start-up cost of the CLI: ``arena --help`` and ``arena runs`` against ``python -c "import torch"``.

Each command runs ``--repeats`` times in a fresh interpreter, alternating, and the table shows the
median wall time of each and its ratio to importing torch (the CLI must not import torch, or
anything as heavy, before a command needs it).

    python bench/cli_startup.py [--repeats 5] [--json]

With ``--json`` the last line is ``{"arena_help_s", "arena_runs_s", "import_torch_s",
"help_ratio", "runs_ratio"}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "arena_help_s": [sys.executable, "-m", "arena", "--help"],
    "arena_runs_s": [sys.executable, "-m", "arena", "runs", "--db", "DB"],
    "import_torch_s": [sys.executable, "-c", "import torch"],
}


def timed(command: list[str]) -> float:
    """Wall seconds of one run of ``command`` (its output discarded; a failure is an error)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    """Command-line entry point: time the commands and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "empty.db")
        subprocess.run([sys.executable, "-c", f"from arena.store import Store; Store({db!r}).close()"], check=True)
        commands = {k: [db if word == "DB" else word for word in v] for k, v in COMMANDS.items()}
        times: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.repeats):
            for key, command in commands.items():
                times[key].append(timed(command))
    result = {k: round(statistics.median(v), 3) for k, v in times.items()}
    result["help_ratio"] = round(result["arena_help_s"] / result["import_torch_s"], 3)
    result["runs_ratio"] = round(result["arena_runs_s"] / result["import_torch_s"], 3)
    print("| command | median s | x import torch |\n|---|---:|---:|")
    for key, ratio in (("arena_help_s", "help_ratio"), ("arena_runs_s", "runs_ratio"), ("import_torch_s", None)):
        name = " ".join(COMMANDS[key][1:]).replace("-m arena", "arena")
        print(f"| {name} | {result[key]} | {result[ratio] if ratio else 1.0} |")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
