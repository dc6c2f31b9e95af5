"""Judge the answers: every check's verdict under a deadline, counted by the ``requires`` rule.

A judge that breaks, or runs past ``[limits] judge_seconds``, fails its check with the reason:
no check passes without its judge having said so. The answers a judge reads are bounded, so one that
runs past its deadline says more of the grader's machine (busy, or a library imported for the first
time) than of the submission: ``Judged.timed_out`` names those checks, and the submission is graded
as a fault of the grader's (batch.py grades it again, and then leaves it not graded).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..checks import JudgeContext
from ..wire.answers import Answer
from .plan import Plan, executed_by
from .results import CheckResult
from .root_cause import load_failure_message


class JudgeTimeout(Exception):
    """A judge that did not finish within ``[limits] judge_seconds``."""


def judge_within(seconds: float, judge, *args):
    """Run one judge with a deadline. A judge still busy then fails its check and is left behind,
    on a daemon thread, so that no answer can hold the batch (answers are bounded, so this is a
    last resort, not a way of grading)."""
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["verdict"] = judge(*args)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="judge", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise JudgeTimeout(f"the grader gave up judging this check after {seconds:g} s ([limits] judge_seconds)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["verdict"]


def counted(check, passed: bool, share: float, message: str,
            passed_by_name: dict[str, bool]) -> tuple[bool, float, str]:
    """A verdict (passed, share of the points, message) as it counts, given which earlier checks passed.

    A check counts for ``requires`` only at full points (``passed``): a required check is the ground the
    points of the next stand on (the architecture asked for, a pass mark reached), and partial credit says
    that ground is not reached. A check waiting for one earns nothing, partial credit included."""
    failed_first = [name for name in check.requires if not passed_by_name.get(name, False)]
    if (passed or share > 0) and failed_first:
        message = (f"not counted: this check needs {', '.join(repr(n) for n in failed_first)} to pass first, "
                   f"so that its points go to the architecture the assignment asks for (on its own: {message})")
        return False, 0.0, message
    return passed, share, message


@dataclass
class Judged:
    """Every check's result, with what results.json records beside them."""

    results: list[CheckResult] = field(default_factory=list)
    check_seconds: dict[str, float] = field(default_factory=dict)
    check_details: dict[str, dict] = field(default_factory=dict)
    executed_by: dict[str, str] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)     # checks whose judge ran past judge_seconds


def judge_all(plan: Plan, loaded: Answer, answers: dict[str, Answer], context: JudgeContext,
              assignment, file_name: str) -> Judged:
    """Each check's verdict, in the order of grading.toml (``requires`` looks back at earlier ones)."""
    judged = Judged()
    passed_by_name: dict[str, bool] = {}
    for check, kind, questions in plan.per_check:
        judge_started = time.monotonic()
        share = 0.0
        if not loaded.ok:
            passed, message = False, load_failure_message(loaded, plan.load, file_name)
        else:
            try:
                verdict = judge_within(assignment.limits.judge_seconds, kind.verdict, check, assignment, questions,
                                       [answers[q.key] for q in questions], context)
                passed, message, share = verdict.passed, verdict.message, verdict.share
                if verdict.details:
                    judged.check_details[check.name] = verdict.details
            except JudgeTimeout as exc:
                passed, message = False, str(exc)
                judged.timed_out.append(check.name)
            except Exception as exc:  # a judge that breaks must never pass a check
                passed, message = False, f"the grader could not judge this check ({type(exc).__name__}: {exc})"
        passed, share, message = counted(check, passed, share, message, passed_by_name)
        passed_by_name[check.name] = passed
        seconds = sum(answers[q.key].seconds for q in questions if q.key in answers)
        seconds += time.monotonic() - judge_started
        judged.check_seconds[check.name] = round(seconds, 3)
        judged.executed_by[check.name] = executed_by(questions)
        judged.results.append(CheckResult(check.name, check.description, check.points, passed, message,
                                          check.visibility, seconds, share=share, extra_credit=check.extra_credit))
    return judged
