"""The pages as a person sees them: opened in headless Chromium, with no console error, screenshotted.

Skipped where no Chromium is installed (``apt-get install chromium``; ``.ci/run``
installs it). Screenshots go to ``$FEEDBACK_SCREENSHOTS`` when set, else to the
test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import feedback_fakes as fakes
from autograder.class_report import write_class_report
from autograder.commands import grade_submissions
from autograder.feedback_page import write_feedback_page
from conftest import BROKEN, ROOT
from headless_chromium import Chromium, find_chromium

HOSTILE = Path(__file__).resolve().parent / "hostile"

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


def screenshot_folder(tmp_path: Path, name: str) -> Path:
    base = os.environ.get("FEEDBACK_SCREENSHOTS")
    return Path(base) / name if base else tmp_path / "screenshots"


def file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "page"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.hrefs.append(attrs.get("href", ""))
        if tag == "img":
            self.images.append(attrs.get("alt", ""))


def links_of(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def open_all(browser: Chromium, out: Path, shots: Path) -> dict[Path, list[str]]:
    """Open report.html and every page it links; each page's console errors."""
    report = out / "report.html"
    from urllib.parse import unquote
    pages = [report] + [out / unquote(href) for href in links_of(report).hrefs]
    errors = {}
    for page in pages:
        name = "report" if page == report else file_name(page.parent.name)
        visit = browser.visit(page, shots / f"{name}.png")
        assert visit.screenshot.stat().st_size > 5_000          # a rendered page, not a blank one
        errors[page] = visit.errors
    return errors


def test_hand_built_pages_open_without_errors(browser, tmp_path):
    out = tmp_path / "out"
    results = [fakes.full_marks(), fakes.broken_with_root_cause(), fakes.crashed(), fakes.hostile()]
    for result in results:
        write_feedback_page(result, out / result.name / "feedback.html")
    write_class_report(results, out / "report.html", assignment="lenet5")
    errors = open_all(browser, out, screenshot_folder(tmp_path, "hand_built"))
    assert len(errors) == 5
    assert {str(page): found for page, found in errors.items() if found} == {}


def test_the_browser_reports_console_errors(browser, tmp_path):
    """The check above could fail: a page with a script error and a missing image is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>console.error('x'); missing();</script>"
                   "<img src='nowhere.png'></body></html>")
    errors = "\n".join(browser.visit(bad).errors)
    assert "console.error: x" in errors and "missing is not defined" in errors and "nowhere.png" in errors


def test_eval_style_mix_writes_pages_that_open_without_errors(browser, fast_config, tmp_path):
    """References, a stub, broken and hostile submissions, and a file name full of markup, in one batch."""
    folder = tmp_path / "in"
    folder.mkdir()
    odd_name = folder / "<i>odd<\\i> & 'name'.py"
    shutil.copy(BROKEN / "lenet5" / "relu.py", odd_name)
    submissions = [ROOT / "solutions" / "lenet5" / "lenet5.py", ROOT / "assignments" / "lenet5" / "lenet5.py",
                   BROKEN / "lenet5" / "wrong_layer_shape.py", BROKEN / "lenet5" / "squeezed_output.py",
                   HOSTILE / "os_exit.py", HOSTILE / "flood.py", odd_name]
    out = tmp_path / "out"
    results = grade_submissions(assignment_id="lenet5", submissions=submissions, out_dir=out,
                                config_path=fast_config, device="cpu", jobs=2)
    assert len(results) == len(submissions)
    for result in results:
        page = out / result.name / "feedback.html"
        text = page.read_text(encoding="utf-8")
        assert "<i>odd" not in text                              # the file name is escaped
        root_cause = result.extra.get("root_cause")
        if root_cause:                                          # shown before the table of checks
            assert text.index("Start here") < text.index("<h2>Checks</h2>")
        if result.extra.get("training"):
            assert any("training loss" in alt for alt in links_of(page).images)
    assert len(links_of(out / "report.html").hrefs) == len(submissions)
    errors = open_all(browser, out, screenshot_folder(tmp_path, "graded_mix"))
    assert len(errors) == len(submissions) + 1
    assert {str(page): found for page, found in errors.items() if found} == {}
