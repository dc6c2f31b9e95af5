"""Partial credit between bounds, extra credit beyond the total, and the leaderboard.

Judges get fake answers (no sandbox, no training); the results they make go through every report."""

from __future__ import annotations

import csv
import io
import math

import pytest
import torch
from rich.console import Console

from autograder.grading import leaderboard
from autograder.checks import KINDS, JudgeContext
from autograder.checks.base import Verdict, partial_share
from autograder.reports.class_report import class_report_html
from autograder.checks import load_config
from autograder.errors import ConfigError
from autograder.reports.feedback_page import feedback_html
from autograder.reports.feedback_text import feedback_markdown
from autograder.reports.results_files import print_result, results_json, summary_table, write_grades_csv
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.judge import counted
from autograder.wire.answers import Answer

CONFIG = load_config()
TASK = CONFIG.assignment("task1_cnn")
LABELS = torch.arange(10_000) % 10


def check(name: str, assignment=TASK):
    return next(c for c in assignment.checks if c.name == name)


def run_with_accuracy(accuracy: float, steps: int = 1200) -> dict:
    """A training run's answer whose predictions are right for exactly ``accuracy`` of LABELS."""
    right = round(accuracy * len(LABELS))
    predictions = LABELS.clone()
    predictions[right:] = (predictions[right:] + 1) % 10
    return {"predictions": predictions, "history": [[steps, accuracy, 0.3]], "steps": steps, "seconds": 12.0}


def judge(name: str, answer: dict, assignment=TASK) -> Verdict:
    spec = check(name, assignment)
    kind = KINDS[spec.kind]
    questions = kind.questions(spec, assignment)
    return kind.verdict(spec, assignment, questions, [Answer(ok=True, value=answer)],
                        JudgeContext(test_labels=LABELS))


# ------------------------------------------------------------------ partial credit

def test_the_share_is_linear_between_the_bounds_and_flat_outside():
    assert partial_share(0.85, 0.90, 0.80) == pytest.approx(0.5)
    assert partial_share(0.80, 0.90, 0.80) == 0.0          # at the lower bound: nothing yet
    assert partial_share(0.70, 0.90, 0.80) == 0.0
    assert partial_share(0.90, 0.90, 0.80) == 1.0          # at the pass mark: everything
    assert partial_share(0.99, 0.90, 0.80) == 1.0
    assert partial_share(math.nan, 0.90, 0.80) == 0.0
    # lower is better (an error ratio): points start at 0.3 and are full at 0.1
    assert partial_share(0.2, 0.1, 0.3, lower_is_better=True) == pytest.approx(0.5)
    assert partial_share(0.05, 0.1, 0.3, lower_is_better=True) == 1.0
    assert partial_share(0.3, 0.1, 0.3, lower_is_better=True) == 0.0
    assert partial_share(math.inf, 0.1, 0.3, lower_is_better=True) == 0.0
    assert partial_share(math.nan, 0.1, 0.3, lower_is_better=True) == 0.0


def test_task1_cnn_between_the_bounds_earns_part_of_the_points_with_the_rule():
    verdict = judge("training", run_with_accuracy(0.872))
    assert not verdict.passed and 0 < verdict.share < 1
    assert verdict.share == pytest.approx(0.72)
    assert verdict.message.startswith("test accuracy 87.20% → 4.32 / 6 points (0 at 80%, full at 90%)")
    assert "after 1200 steps" in verdict.message
    result = CheckResult("training", "", 6, verdict.passed, verdict.message, share=verdict.share)
    assert 0 < result.points < result.max_points and result.points == 4.32
    assert (result.status, result.outcome) == ("failed", "partial")


@pytest.mark.parametrize("accuracy, share, passed", [(0.80, 0.0, False), (0.75, 0.0, False), (0.90, 1.0, True),
                                                     (0.97, 1.0, True)])
def test_task1_cnn_at_and_beyond_the_edges(accuracy, share, passed):
    verdict = judge("training", run_with_accuracy(accuracy))
    assert (verdict.passed, verdict.share) == (passed, share)
    if not passed:
        assert "→ 0 / 6 points (0 at 80%, full at 90%)" in verdict.message


def test_nan_earns_nothing_and_says_so():
    spec, kind = check("training"), KINDS["test_accuracy"]
    failing = Verdict(False, "test accuracy nan < 90%")
    verdict = kind.scored(spec, failing, math.nan, "test accuracy", lambda v: f"{v:.0%}")
    assert verdict.share == 0.0 and "test accuracy nan → 0 / 6 points" in verdict.message
    assert CheckResult("t", "", 6, False, "", share=math.nan).points == 0.0


def test_lenet5_training_takes_partial_credit_too():
    lenet = CONFIG.assignment("lenet5")
    verdict = judge("training", run_with_accuracy(0.90), lenet)
    assert verdict.share == pytest.approx(0.5) and "(0 at 85%, full at 95%)" in verdict.message


def test_beats_linear_fit_reverses_the_direction():
    kind = KINDS["beats_linear_fit"]
    assert kind.lower_is_better and kind.pass_mark == "max_mse_ratio"
    spec = next(c for a in CONFIG.assignments.values() for c in a.checks if c.kind == "beats_linear_fit")
    import dataclasses
    spec = dataclasses.replace(spec, partial_credit_from=spec.params["max_mse_ratio"] * 3)
    mark = spec.params["max_mse_ratio"]
    verdict = kind.scored(spec, Verdict(False, "worse"), mark * 2, "MSE ratio", lambda v: f"{v:.3g}×")
    assert verdict.share == pytest.approx(0.5) and f"full at {mark:.3g}×" in verdict.message


def test_requires_counts_only_full_points():
    needs = check("training")                                   # requires convolutional
    assert counted(needs, False, 0.5, "m", {"convolutional": True}) == (False, 0.5, "m")
    passed, share, message = counted(needs, False, 0.5, "m", {"convolutional": False})
    assert (passed, share) == (False, 0.0) and message.startswith("not counted:")
    bonus = check("accuracy_bonus")
    assert counted(bonus, True, 1.0, "m", {"convolutional": True})[0]


def _with(tmp_path, old: str, new: str):
    path = tmp_path / "grading.toml"
    text = CONFIG.path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_partial_credit_from_must_sit_on_the_losing_side_of_the_pass_mark(tmp_path):
    with pytest.raises(ConfigError, match="should be below the pass mark min_test_accuracy"):
        load_config(_with(tmp_path, "partial_credit_from = 0.80", "partial_credit_from = 0.95"))
    with pytest.raises(ConfigError, match="should be a number"):
        load_config(_with(tmp_path, "partial_credit_from = 0.80", 'partial_credit_from = "80%"'))


def test_partial_credit_from_on_a_kind_without_a_pass_mark_is_refused(tmp_path):
    path = _with(tmp_path, "[assignments.task1_cnn.checks.backward]\n",
                 "[assignments.task1_cnn.checks.backward]\npartial_credit_from = 0.5\n")
    with pytest.raises(ConfigError, match="compares no measured number"):
        load_config(path)


# ------------------------------------------------------------------ a graded task1_cnn, shown everywhere

def graded(name: str, accuracy: float, bonus_accuracy: float, *, parameters: int = 21_840,
           steps: int = 1200, seconds: float = 30.0) -> SubmissionResult:
    """task1_cnn as the runner would grade it: every check but the training ones passed, those judged."""
    checks, passed_by_name, details = [], {}, {}
    for spec in TASK.checks:
        if spec.kind == "test_accuracy":
            run = run_with_accuracy(accuracy if spec.name == "training" else bonus_accuracy, steps)
            verdict = judge(spec.name, run)
            details[spec.name] = verdict.details
        else:
            verdict = Verdict(True, "ok")
        passed, share, message = counted(spec, verdict.passed, verdict.share, verdict.message, passed_by_name)
        passed_by_name[spec.name] = passed
        checks.append(CheckResult(spec.name, spec.description, spec.points, passed, message, spec.visibility,
                                  share=share, extra_credit=spec.extra_credit))
    extra = {"check_details": details, "training": {"test_accuracy": accuracy, "steps": steps},
             "layers": [{"op": "conv2d", "output_shape": [-1, 10, 24, 24], "parameters": parameters}]}
    extra["leaderboard"] = leaderboard.entries(TASK.leaderboard, extra, seconds)
    return SubmissionResult("task1_cnn", name, f"/in/{name}/task1_cnn.py", checks, seconds=seconds, extra=extra)


def test_extra_credit_counts_in_the_score_but_not_the_maximum(tmp_path):
    result = graded("ada", 0.95, 0.97)                         # bonus: halfway from 96% to 98%
    bonus = next(c for c in result.checks if c.name == "accuracy_bonus")
    assert bonus.extra_credit and bonus.points == 1.0 and bonus.outcome == "partial"
    assert TASK.max_score == 20 and result.max_score == 20      # the bonus's 2 points are not in the maximum
    assert result.score == 21 and result.extra_score == 1 and result.regular_score == 20

    data = results_json(result)
    assert data["score"] == 21                                  # Gradescope takes a score above the total
    assert sum(t["max_score"] for t in data["tests"]) == 20
    test = next(t for t in data["tests"] if t["name"] == "accuracy_bonus")
    assert (test["score"], test["max_score"], test["status"]) == (1, 0, "failed")
    assert test["output"].startswith("Extra credit: up to 2 points")
    assert "21 / 20 (1 of it extra credit)" in data["output"]

    write_grades_csv([result, graded("bo", 0.85, 0.5)], tmp_path / "grades.csv")
    rows = list(csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")))
    assert [(r["score"], r["max_score"], r["extra_credit"], r["training"], r["accuracy_bonus"]) for r in rows] == [
        ("21", "20", "1", "6", "1"), ("17", "20", "0", "3", "0")]

    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_result(result, console)
    console.print(summary_table([result]))
    text = console.file.getvalue()
    assert "1/2 extra" in text and "total: 21 / 20 (1 of it extra credit)" in text and "21/20 (incl. 1 extra)" in text

    page = feedback_html(result)
    assert "including 1 extra-credit points" in page and "21 / 20" in page and "extra credit</div>" in page
    markdown = feedback_markdown(result)
    assert "## task1\\_cnn: 21 / 20" in markdown and "(1/2, extra credit)" in markdown

    report = class_report_html([result, graded("bo", 0.85, 0.5)], assignment="task1_cnn")
    assert "incl. 1 extra" in report and "earned extra credit" in report


def test_partial_credit_is_shown_as_partial_everywhere():
    result = graded("cy", 0.872, 0.5)
    training = next(c for c in result.checks if c.name == "training")
    assert training.points == 4.32 and result.score == 18.32 and result.max_score == 20
    data = results_json(result)
    test = next(t for t in data["tests"] if t["name"] == "training")
    assert (test["score"], test["max_score"], test["status"]) == (4.32, 6, "failed")
    console = Console(file=io.StringIO(), width=250, color_system=None)
    print_result(result, console)
    assert "4.32/6" in console.file.getvalue() and "partial" in console.file.getvalue()
    page = feedback_html(result)
    assert "◐ partial" in page and "4.32 / 6" in page and "18.32 / 20" in page
    assert "◐ **training** (4.32/6)" in feedback_markdown(result)
    report = class_report_html([result], assignment="task1_cnn")
    assert "training (partial)" in report


def test_a_run_that_learns_nothing_earns_no_credit_of_either_kind():
    result = graded("stub", 0.1, 0.1)
    assert result.extra_score == 0 and result.score == 14
    assert [c.outcome for c in result.checks if c.name in ("training", "accuracy_bonus")] == ["failed", "failed"]


# ------------------------------------------------------------------ the leaderboard

def test_results_json_for_task1_cnn_carries_a_leaderboard():
    data = results_json(graded("ada", 0.95, 0.9775))
    assert data["leaderboard"] == [{"name": "Test accuracy (%)", "value": 97.75, "order": "desc"},
                                   {"name": "Parameters", "value": 21_840, "order": "asc"},
                                   {"name": "Steps to the target", "value": 1200, "order": "asc"}]


def test_no_leaderboard_where_the_assignment_has_none():
    result = graded("ada", 0.95, 0.9775)
    result.extra.pop("leaderboard")
    assert "leaderboard" not in results_json(result)
    assert not CONFIG.assignment("lenet5").leaderboard


def test_report_html_ranks_the_class():
    results = [graded("third", 0.95, 0.975), graded("first", 0.95, 0.99, parameters=30_000),
               graded("second", 0.95, 0.975, parameters=10_000), graded("broken", 0.1, 0.1)]
    results[-1].extra["leaderboard"] = []                           # nothing measured
    report = class_report_html(results, assignment="task1_cnn")
    assert "<h2>Leaderboard</h2>" in report
    board = report.split("<h2>Leaderboard</h2>")[1].split("</table>")[0]
    assert board.index("first") < board.index("second") < board.index("third")
    assert "broken" not in board
    assert "Test accuracy (%)" in board and "Parameters" in board and "30,000" in board
    assert "Ranked by Test accuracy (%), then Parameters, then Steps to the target" in report


def test_a_leaderboard_value_the_grader_does_not_measure_is_refused(tmp_path):
    text = CONFIG.path.read_text(encoding="utf-8").replace('{ value = "parameters", order = "asc" }',
                                                           '{ value = "paramters", order = "asc" }')
    path = tmp_path / "grading.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'parameters'"):
        load_config(path)
    path.write_text(text.replace('"paramters", order = "asc"', '"parameters", order = "up"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="'asc'"):
        load_config(path)


def test_the_parameter_count_a_check_measured_ranks_a_model_without_a_layer_table():
    """Trained weights are scored without a forward() layer table: the count the check made ranks them."""
    extra = {"check_details": {"accuracy": {"test_accuracy": 0.991, "parameters": 431_080}}}
    assert leaderboard.measure("parameters", extra, 1.0) == 431_080
    with_layers = {"layers": [{"op": "conv2d", "parameters": 10}, {"op": "linear", "parameters": 5}]}
    assert leaderboard.measure("parameters", with_layers, 1.0) == 15
    assert leaderboard.measure("parameters", {}, 1.0) is None


def test_a_training_function_fit_takes_partial_credit_and_other_scenarios_refuse_it(tmp_path):
    """The fit scenario compares its held-out accuracy with min_accuracy: partial credit applies there
    (and nowhere else in training_function)."""
    from autograder.wire.fixtures import make_dataset

    path = _with(tmp_path, 'scenario = "fit"\n', 'scenario = "fit"\npartial_credit_from = 0.3\n')
    loop = load_config(path).assignment("training_loop")
    fit = next(c for c in loop.checks if c.params["scenario"] == "fit")
    assert fit.partial_credit_from == 0.3
    kind = KINDS["training_function"]
    p = kind._instance(fit)
    labels = make_dataset(p["dataset"], p["samples"], p["data_seed"])["y_test"]
    answer = Answer(ok=True, value={"predictions": torch.zeros_like(labels)})     # always class 0
    verdict = kind.judge(fit, loop, [answer], JudgeContext())
    accuracy = verdict.details["accuracy"]
    assert 0.3 < accuracy < 0.9 and not verdict.passed
    assert verdict.share == pytest.approx((accuracy - 0.3) / (0.9 - 0.3), abs=1e-6)
    assert "(0 at 30%, full at 90%)" in verdict.message
    other = next(c for c in loop.checks if c.params["scenario"] != "fit")
    assert not kind.grades_a_number(other.params)
    header = f"[assignments.training_loop.checks.{other.name}]\n"
    with pytest.raises(ConfigError, match="with scenario = .* compares no measured number"):
        load_config(_with(tmp_path, header, header + "partial_credit_from = 0.3\n"))
