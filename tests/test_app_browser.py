"""The app in a real browser: headless Chromium (Debian's, driven by Playwright) against the app served on
127.0.0.1 from a thread, over the keyword classifier (offline, deterministic, no model downloads).

Types a review, runs an attack and checks the highlighted words; perturbs a word by hand and undoes it;
reads the leaderboard (a tournament and the match runs). Saves ``tests/artifacts/app_attack.png`` for review.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real browser against the running app
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from test_app import _store_run, _store_tournament  # noqa: E402
from test_textfooler import TABLE, FakeSimilarity, FakeTagger, keyword_probs  # noqa: E402

from app import Limits, Models, build_app, launch  # noqa: E402
from arena.classifier import CallableClassifier  # noqa: E402
from arena.store import Store  # noqa: E402
from attackers.textfooler import TextFooler  # noqa: E402

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REVIEW = "A great cast and a lovely story make this a good film that I would happily watch again with friends"
SCREENSHOT = Path(__file__).parent / "artifacts" / "app_attack.png"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app over the keyword classifier, served on 127.0.0.1 from a thread, with one stored match run and
    a tournament (on another data set)."""
    db = tmp_path_factory.mktemp("app") / "arena.db"
    with Store(db) as store:
        _store_run(store, "plain", "textfooler", "builtin", ["succeeded", "failed", "failed", "failed"])
        _store_tournament(store, "mr")
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])
    models = Models({"plain": clf}, {"textfooler": lambda: TextFooler(TABLE, FakeSimilarity(), FakeTagger())}, TABLE)
    demo = build_app(models, Limits(), db)
    port = free_port()
    launch(demo, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def page(app_url):
    """A fresh page of the app in headless Chromium."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        sync_api.expect.set_options(timeout=30_000)
        page.goto(app_url)
        page.wait_for_selector("#attack-button")
        page.wait_for_function("document.readyState === 'complete'")  # all scripts run before the test types
        yield page
        browser.close()


def highlighted(page, element: str) -> list[str]:
    """Texts of the highlighted tokens of a HighlightedText."""
    return [t.strip() for t in page.locator(f"#{element} .highlighted").all_inner_texts()]


def test_attack_highlights_the_swapped_words(page):
    page.locator("#text textarea").fill(REVIEW)
    page.click("#attack-button")
    sync_api.expect(page.locator("#attack-summary")).to_contain_text("Attack succeeded")
    page.wait_for_selector("#attack-adversarial .highlighted")
    assert highlighted(page, "attack-adversarial") == ["nice", "nice", "fine"]
    assert highlighted(page, "attack-original") == ["great", "lovely", "good"]
    assert "positive" in page.inner_text("#attack-summary") and "queries" in page.inner_text("#attack-summary")
    page.wait_for_selector("#attack-chart svg, #attack-chart canvas")  # the probability bars rendered
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_perturb_by_hand_apply_and_undo(page):
    page.locator("#text textarea").fill(REVIEW)
    page.get_by_role("tab", name="Perturb by hand").click()
    page.click("#perturb-start")
    page.locator("#perturb-tokens .highlighted", has_text="good").first.click()
    sync_api.expect(page.locator("#perturb-candidates")).to_contain_text("decent")  # good -> fine, ok, decent
    page.click("#perturb-apply")
    sync_api.expect(page.locator("#perturb-status")).to_contain_text("1 word(s) swapped")
    assert page.locator("#perturb-tokens .highlighted", has_text="fine").count() == 1
    page.click("#perturb-undo")
    sync_api.expect(page.locator("#perturb-status")).to_contain_text("0 word(s) swapped")


def test_leaderboard_and_input_cap(page):
    page.get_by_role("tab", name="Leaderboard").click()
    sync_api.expect(page.locator(".heatmap")).to_contain_text("0.750")  # 3 failed of 4: accuracy under attack 0.75
    sync_api.expect(page.locator("#tournament-board")).to_contain_text("0.750 (textfooler)")  # five's worst case
    page.get_by_role("tab", name="Attack").click()
    page.locator("#text textarea").fill("word " * (Limits.max_words + 1))
    page.click("#attack-button")
    page.wait_for_selector(f"text=this app takes at most {Limits.max_words}")


def test_uploads_are_refused(app_url):
    import httpx

    response = httpx.post(app_url + "gradio_api/upload", files={"files": ("data.csv", b"text,label\nhello,1\n")})
    assert response.status_code == 413
