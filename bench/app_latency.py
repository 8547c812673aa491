"""The Gradio app as a new user meets it: `arena demo` startup time, then click-to-result times in headless Chromium.

Starts ``arena demo --port PORT`` (offline default models) in a subprocess and times until the page answers;
then drives Debian's chromium with Playwright: types a 20-word review, clicks Attack (plain defender,
TextFooler: the first click a new user makes), then other defender/attacker pairs, the Defend tab and one
word of the Perturb tab. Prints a Markdown table and writes ``bench/results/app_latency.json``.

    python bench/app_latency.py [--port 7861] [--runs "FIVE:textfooler,FuSE:textfooler"]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Locator, Page, sync_playwright

from app import ATTACKER_CHOICES, EXAMPLES

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUNS = "plain:textattack:pwws,plain:textattack:deepwordbug,FIVE:textfooler,FuSE:textfooler"


def wait_for_server(url: str, process: subprocess.Popen, limit: float) -> float:
    """Seconds until ``url`` answers 200; an error if the process exits or ``limit`` passes first."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        if process.poll() is not None:
            raise RuntimeError(f"arena demo exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - began
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {limit:.0f} s")


def pick(page: Page, element: str, choice: str) -> None:
    """Choose the option labelled ``choice`` in the Gradio dropdown ``#element``."""
    page.locator(f"#{element} input").click()
    page.get_by_role("option", name=choice, exact=True).click()


def timed_click(page: Page, target: Locator, result: str, limit_ms: int = 180_000) -> tuple[float, str]:
    """Click ``target``; seconds until ``#result`` shows new text with no progress tracker left in it (or an
    error toast appears), and the text shown."""
    before = page.inner_text(f"#{result}")
    began = time.perf_counter()
    target.click()
    page.wait_for_function(
        """([sel, before]) => {
            const el = document.querySelector(sel);
            const idle = [...el.querySelectorAll('[data-testid="status-tracker"]')]
                .every(t => t.classList.contains('hide'));
            return (idle && el.innerText !== before) || document.querySelector('.toast-body') !== null;
        }""",
        arg=[f"#{result}", before],
        timeout=limit_ms,
        polling=100,
    )
    seconds = time.perf_counter() - began
    toast = page.locator(".toast-body")
    return seconds, " ".join((toast.first if toast.count() else page.locator(f"#{result}")).inner_text().split())


def measure(url: str, runs: list[str]) -> list[dict]:
    """Drive the served app in headless Chromium; one row per step."""
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        began = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#attack-button")
        rows.append({"step": "page load in Chromium", "seconds": time.perf_counter() - began})
        page.locator("#text textarea").fill(EXAMPLES[0])
        for number, pair in enumerate(["plain:textfooler", *runs]):
            defender, attacker = pair.split(":", 1)
            if number:
                pick(page, "defender", defender)
                pick(page, "attacker", ATTACKER_CHOICES[attacker])
            seconds, text = timed_click(page, page.locator("#attack-button"), "attack-summary")
            rows.append(
                {
                    "step": f"{'first ' if number == 0 else ''}Attack click: {defender}, {attacker}",
                    "seconds": seconds,
                    "result": text,
                }
            )
        page.get_by_role("tab", name="Defend").click()
        seconds, _ = timed_click(page, page.locator("#defend-button"), "defend-outputs")
        rows.append({"step": "Defend: every defender", "seconds": seconds})
        page.get_by_role("tab", name="Perturb by hand").click()
        seconds, _ = timed_click(page, page.locator("#perturb-start"), "perturb-tokens")
        rows.append({"step": "Perturb: start from the text", "seconds": seconds})
        word = page.locator("#perturb-tokens .highlighted", has_text="superb").first
        seconds, _ = timed_click(page, word, "perturb-candidates")
        rows.append({"step": "Perturb: click a word -> ranked synonyms", "seconds": seconds})
        browser.close()
    return rows


def main() -> None:
    """Start the app, measure, stop it, print and save the table."""
    parser = argparse.ArgumentParser(description="click-to-result latency of the Gradio app in headless Chromium")
    parser.add_argument("--port", type=int, default=7861)
    parser.add_argument("--runs", default=RUNS, help="comma-separated DEFENDER:ATTACKER pairs after the first attack")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "app_latency.json"))
    args = parser.parse_args()
    env = {
        **os.environ,
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            str(Path(sys.executable).with_name("arena")),
            "demo",
            "--port",
            str(args.port),
            "--db",
            str(Path(tmp) / "arena.db"),
        ]
        url = f"http://127.0.0.1:{args.port}/"
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            rows = [{"step": "`arena demo` start -> page served", "seconds": wait_for_server(url, server, 120)}]
            rows += measure(url, [r for r in args.runs.split(",") if r])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"Gradio app, {os.cpu_count()} CPUs, review of {len(EXAMPLES[0].split())} words: {EXAMPLES[0]!r}\n")
    print("| step | seconds | shown |\n|---|---:|---|")
    for row in rows:
        row["seconds"] = round(row["seconds"], 1)
        print(f"| {row['step']} | {row['seconds']} | {row.get('result', '')} |")
    record = {"command": f"arena demo --port {args.port}", "cpus": os.cpu_count(), "review": EXAMPLES[0], "rows": rows}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
