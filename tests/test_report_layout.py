"""report.html and the feedback pages as a reader needs them: one histogram bar per score, failures
grouped under their root cause, the submitted file named by its own name, no title said twice."""

from __future__ import annotations

import feedback_fakes as fakes
from autograder.reports.class_report import class_report_html
from autograder.reports.feedback_page import feedback_html
from autograder.reports.plots import score_bars, score_histogram


def test_scores_19_and_20_are_two_bars():
    values, counts, width = score_bars([20, 19, 20, 0, 12.5, 25, -3], 20)
    assert values == [0, 12.5, 19, 20] and counts == [2, 1, 1, 3]      # out of range: clipped to 0 and 20
    assert 0 < width < 1                                                # neighbours never touch
    assert score_bars([1.5, 2.0], 3)[2] < 0.5                          # half points: narrower bars
    assert score_histogram([19, 20], 20).startswith("data:image/png;base64,")


def test_consequences_are_listed_under_their_root_cause_not_as_failures_of_their_own():
    bob = fakes.broken_with_root_cause("bob")
    for check in bob.checks:           # what the runner writes for the checks its root cause explains
        if check.name in ("parameter_count", "training"):
            check.message = "same cause as 'output_shape' (the root cause at the top): The last Linear…"
    html = class_report_html([bob, fakes.full_marks()], assignment="lenet5")
    assert html.count("same cause as") == 0
    assert "and, from the same cause: <code>parameter_count</code>, <code>training</code>" in html
    failures = html[html.index("<h2>Most common failures</h2>"):html.index("<h2>Submissions</h2>")]
    assert failures.count("<tr>") == 2                             # the header and one row: the root cause


def test_a_feedback_page_names_the_file_handed_in_and_says_the_assignment_once():
    result = fakes.full_marks("garciaal")
    result.source = "/in/garciaal"                  # a student's folder from a bulk download
    result.extra["submitted_file"] = "lenet5.py"
    html = feedback_html(result)
    assert "submitted file: <code>lenet5.py</code>" in html and "submitted file: <code>garciaal" not in html
    assert "<h1>lenet5 · garciaal</h1>" in html and "<title>lenet5 · garciaal · feedback</title>" in html
    mine = fakes.full_marks("lenet5")               # `autograder check lenet5 lenet5.py`
    mine.extra["submitted_file"] = "lenet5.py"
    html = feedback_html(mine)
    assert "<h1>lenet5</h1>" in html and "lenet5: lenet5" not in html and "lenet5 · lenet5" not in html
