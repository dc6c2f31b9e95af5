"""The feedback page, the class report and Gradescope's text, from results built by hand."""

from __future__ import annotations

import base64
import html
import json
import re
from html.parser import HTMLParser

import pytest

import feedback_fakes as fakes
from autograder.reports.class_report import class_report_html, failure_pattern, write_class_report
from autograder.integrations.gradescope import gradescope_results
from autograder.reports.feedback_page import feedback_html, page_beside, write_feedback_page
from autograder.reports.feedback_text import feedback_markdown


class PageParts(HTMLParser):
    """What a browser would build from the page: tags, and the text of each section heading."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> PageParts:
    parts = PageParts()
    parts.feed(page)
    return parts


def visible_text(page: str) -> str:
    return " ".join(" ".join(parse(page).text).split())


def test_page_shows_score_checks_layers_training_and_confusion():
    page = feedback_html(fakes.full_marks())
    text = visible_text(page)
    assert "17 / 17" in text
    for name in ("builds", "output_shape", "parameter_count", "structure", "gradient_flow", "training"):
        assert name in text
    assert "avg_pool2d" in text and "(-1, 16, 5, 5)" in text and "48,120" in text
    assert "61,706" in text                       # total parameters of the layer table
    assert "Training stopped at step 900" in text and "96.53%" in text
    images = [attrs["src"] for tag, attrs in parse(page).tags if tag == "img"]
    assert len(images) == 2                       # the training curve and the confusion matrix
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_root_cause_comes_first_and_curve_is_drawn_for_a_broken_submission():
    page = feedback_html(fakes.broken_with_root_cause())
    text = visible_text(page)
    cause = text.index("The last Linear layer has 120 outputs")
    assert cause < text.index("Checks") < text.index("Model") < text.index("Training")
    assert re.search(r"Fixing it should also fix: output_shape ?, parameter_count ?, training", text)
    assert "Training ran 3,000 steps" in text and "11.35%" in text
    assert any(tag == "img" and "training loss" in attrs.get("alt", "") for tag, attrs in parse(page).tags)


def test_missing_data_reads_not_available():
    text = visible_text(feedback_html(fakes.crashed()))
    assert "Grading stopped early: timed out after 60 s while building Net()" in text
    assert "Layer table not available" in text
    assert "Training curve not available" in text
    assert "Confusion matrix not available" in text
    assert "starting" in text


def test_everything_from_the_submission_is_escaped():
    page = feedback_html(fakes.hostile(), output_kib=4)
    tags = {tag for tag, _ in parse(page).tags}
    assert "script" not in tags
    assert not any(attrs.get("onerror") for _, attrs in parse(page).tags)
    assert html.escape(fakes.HOSTILE) in page
    # Output capped at 4 KiB, and the page says how much was cut.
    assert page.count(html.escape("</pre>")) <= 4 * 1024 // len("</pre>") + 1
    assert re.search(r"[\d,]+ more characters were not shown", page)
    # A policy that forbids scripts and outside loads, whatever slipped through.
    assert "default-src 'none'" in page


@pytest.mark.parametrize("extra", fakes.odd_extras(), ids=lambda e: ",".join(sorted(e)) or "empty")
def test_odd_values_never_break_a_page(extra):
    result = fakes.full_marks()
    result.extra = extra
    page = feedback_html(result)
    assert "17 / 17" in visible_text(page) and page.rstrip().endswith("</html>")
    assert "could not be shown" not in page          # odd data reads as 'not available', not as a failure
    feedback_markdown(result)


def test_write_feedback_page_is_atomic_and_check_puts_it_beside_the_file(tmp_path):
    path = write_feedback_page(fakes.full_marks(), tmp_path / "alice" / "feedback.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(tmp_path.rglob("*.partial"))
    assert page_beside(tmp_path / "lenet5.py") == tmp_path / "lenet5_feedback.html"
    assert page_beside(tmp_path) == tmp_path / "feedback.html"


def test_class_report_histogram_pass_rates_failures_times_and_links(tmp_path):
    results = [fakes.full_marks("alice"), fakes.broken_with_root_cause("bob"),
               fakes.broken_with_root_cause("dave"), fakes.crashed("carol")]
    results[2].checks[-1].message = "test accuracy 9.80% < 95% (after 3000 steps, validation 9.9%, 38.0 s)"
    for result in results[:3]:
        write_feedback_page(result, tmp_path / result.name / "feedback.html")
    page = write_class_report(results, tmp_path / "report.html", assignment="lenet5").read_text(encoding="utf-8")
    text = visible_text(page)
    assert "submissions 4" in text and "full marks 1" in text and "grading stopped early 1" in text
    images = [attrs["src"] for tag, attrs in parse(page).tags if tag == "img"]
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")       # the histogram
    assert "structure 3 3 / 3 100%" in text                # carol's result has no structure check
    assert "builds 1 3 / 4 75%" in text
    # bob's and dave's failures have one root cause: one row under its message, counted twice, listing the
    # checks it explains; their training failures (which differ only in their numbers) are not rows of their own.
    assert re.search(r"2 output_shape and, from the same cause: parameter_count ?, training The last Linear layer "
                     r"has 120 outputs", text)
    assert "test accuracy 11.35%" not in text
    # carol's timeout failed three checks: one row naming them, counted once.
    assert re.search(r"1 builds and, from the same cause: output_shape ?, training timed out after 60 s while "
                     r"building Net\(\)", text)
    links = [attrs["href"] for tag, attrs in parse(page).tags if tag == "a"]
    assert links == ["alice/feedback.html", "bob/feedback.html", "dave/feedback.html"]
    assert "carol (no page)" in text
    assert "61.2 s" in text and "21.4 s" in text


def test_class_report_escapes_and_links_odd_names(tmp_path):
    hostile = fakes.hostile()
    write_feedback_page(hostile, tmp_path / hostile.name / "feedback.html")
    page = class_report_html([hostile, fakes.full_marks()], assignment="<b>lenet5</b>", out_dir=tmp_path,
                             refused=["x.zip: refused entry '../<i>evil</i>.py': it climbs out"])
    assert "script" not in {tag for tag, _ in parse(page).tags} and "<b>lenet5" not in page
    href = next(attrs["href"] for tag, attrs in parse(page).tags if tag == "a")
    assert "/" not in href.removesuffix("/feedback.html") and "<" not in href
    assert "refused entry '../<i>evil</i>.py'" in visible_text(page)


def test_failure_patterns_group_messages_that_differ_in_numbers():
    assert failure_pattern("accuracy 41.2% < 95% after 3,000 steps") == failure_pattern(
        "accuracy 8.75% < 95% after 120 steps")
    assert failure_pattern("expected (64, 10)") != failure_pattern("expected shape (64, 10)")


def test_gradescope_output_is_the_page_text_in_markdown():
    data = gradescope_results(fakes.broken_with_root_cause(), output_kib=16)
    json.dumps(data)
    assert data["output_format"] == "md" and data["test_output_format"] == "text"
    assert all(test["output_format"] == "text" for test in data["tests"])
    output = data["output"]
    assert output.index("Start here") < output.index("### Checks") < output.index("### Model")
    assert re.search(r"(?m)^12  linear      \(-1, 120\)             10,200$", output)      # in the layers' code block
    assert "test accuracy 11.35% < 95%" in output                    # a message, verbatim in a code block
    assert "Training ran 3,000 steps" in output
    assert data["tests"][1]["output"].startswith("forward() returned shape (64, 120)")   # plain text, unescaped


def test_gradescope_markdown_renders_without_markup_from_the_submission():
    markdown_it = pytest.importorskip("markdown_it")
    text = feedback_markdown(fakes.hostile(), output_kib=2)
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in rendered and "<img" not in rendered and "</td></table>" not in rendered
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in rendered
    # each block of submission text is one code block, and what it printed (every "</pre>" too) stays inside
    assert rendered.count("<pre>") == len(re.findall(r"(?m)^`{3,}text$", text))
    assert rendered.count("&lt;/pre&gt;") >= 2 * 1024 // len(fakes.HOSTILE + "</pre>\n")
