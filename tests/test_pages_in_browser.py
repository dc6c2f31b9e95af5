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
from autograder.reports.class_report import write_class_report
from autograder.commands import grade_submissions
from autograder.reports.feedback_page import write_feedback_page
from conftest import BROKEN, ROOT
from headless_chromium import Chromium, find_chromium, png_size

HOSTILE = Path(__file__).resolve().parent / "hostile"

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Chromium is not installed (apt-get install chromium)")


WIDTH = 1280        # a laptop's browser window: every table must be readable at this width


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=WIDTH) as chromium:
        yield chromium


# How wide the page and its tables lay out, and every short word of a table cell that wraps across lines
# (a status column squeezed to "gr/ad/ed"). Words longer than a check's name (paths, hostile strings) may wrap.
TABLE_LAYOUT = """(() => {
  const broken = [];
  for (const cell of document.querySelectorAll('table td, table th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\w+/g)) {
        if (m[0].length > 24) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  const tables = [...document.querySelectorAll('table')].map(t => Math.ceil(t.getBoundingClientRect().right));
  return {page: document.documentElement.scrollWidth, tables: tables, broken: broken};
})()"""


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
        visit = browser.visit(page, shots / f"{name}.png", measure=TABLE_LAYOUT)
        assert visit.screenshot.stat().st_size > 5_000          # a rendered page, not a blank one
        assert png_size(visit.screenshot)[0] == WIDTH
        layout = visit.measured
        assert layout["page"] <= WIDTH and max(layout["tables"], default=0) <= WIDTH, (page, layout)
        assert layout["broken"] == [], (page, layout["broken"])
        errors[page] = visit.errors
    return errors


def many_failures(name: str = "garciaal"):
    """A batch's hardest row to lay out: a long status beside a long list of failed checks."""
    from autograder.grading.results import CheckResult

    result = fakes.broken_with_root_cause(name)
    result.checks += [CheckResult(f"tanh_and_average_pooling_{i}", "", 1, False, "x") for i in range(8)]
    result.status = ("the submission's process crashed (killed, signal 9) while compiling forward() of "
                     "LeNet5(10) into a graph")
    return result


def test_hand_built_pages_open_without_errors(browser, tmp_path):
    out = tmp_path / "out"
    results = [fakes.full_marks(), fakes.broken_with_root_cause(), fakes.crashed(), fakes.hostile(),
               many_failures()]
    for result in results:
        write_feedback_page(result, out / result.name / "feedback.html")
    write_class_report(results, out / "report.html", assignment="lenet5")
    errors = open_all(browser, out, screenshot_folder(tmp_path, "hand_built"))
    assert len(errors) == 6
    assert {str(page): found for page, found in errors.items() if found} == {}


def test_the_browser_reports_console_errors(browser, tmp_path):
    """The check above could fail: a page with a script error and a missing image is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>console.error('x'); missing();</script>"
                   "<img src='nowhere.png'></body></html>")
    errors = "\n".join(browser.visit(bad).errors)
    assert "console.error: x" in errors and "missing is not defined" in errors and "nowhere.png" in errors


def test_the_layout_check_catches_a_squeezed_column_and_a_table_too_wide(browser, tmp_path):
    """The width assertions above could fail: a status squeezed to one letter a line, a table wider than
    the window."""
    squeezed = tmp_path / "squeezed.html"
    squeezed.write_text("<!DOCTYPE html><html><body><table style=\"width:20rem\"><tr><td style=\"width:1px;"
                        "overflow-wrap:anywhere\">graded</td><td>" + "x" * 400 + "</td></tr></table></body></html>")
    assert "graded" in browser.visit(squeezed, measure=TABLE_LAYOUT).measured["broken"]
    wide = tmp_path / "wide.html"
    wide.write_text("<!DOCTYPE html><html><body><table style=\"width:2000px\"><tr><td>a</td></tr></table>"
                    "</body></html>")
    assert max(browser.visit(wide, measure=TABLE_LAYOUT).measured["tables"]) > WIDTH


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
