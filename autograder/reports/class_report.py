"""report.html: the batch at a glance, for the instructor.

How the scores spread (a histogram), the pass rate of every check, the most
common failure messages with how many submissions each, the grading time of
each submission, and a link to each feedback page. One self-contained file
like the feedback pages (no script, embedded images, everything escaped).
"""

from __future__ import annotations

import os
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

from . import feedback_data as data
from ..grading import leaderboard
from . import plots
from .feedback_page import guarded, esc, not_available, page, score_class
from ..grading.results import SubmissionResult

COMMON_FAILURES = 15        # rows in the table of most common failure messages

REPORT_STYLE = """
body { max-width: 76rem; }
.bar { background: #e6e9ef; height: .8rem; width: 12rem; display: inline-block; vertical-align: middle; }
.bar span { background: #3b82c4; height: 100%; display: block; }
.bar.time { width: 100%; } .bar.time span { background: #9aa5b5; }
.summary td { border: 0; padding: .1rem .8rem .1rem 0; }
td.failed-checks { font-size: .82rem; }
.consequences { color: #5b6677; font-size: .85rem; margin-top: .3rem; }
table.fixed { table-layout: fixed; }
.extra-credit { color: #3b5bdb; font-size: .8rem; font-weight: 600; }
"""


def _columns(*percent: int) -> str:
    """Column widths of a table laid out by them alone (``table.fixed``), never by what its cells hold: a
    long message or name wraps inside its column and cannot squeeze the status to one letter a line."""
    return "<colgroup>" + "".join(f"<col style=\"width:{p}%\">" for p in percent) + "</colgroup>"

NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?", re.IGNORECASE)


def failure_pattern(message: str) -> str:
    """A failure message with its numbers blanked, so 'accuracy 41.2%' and 'accuracy 38.7%' group together."""
    return " ".join(NUMBER.sub("#", data.text(message, 500)).split())


def _bar(fraction: float, kind: str = "") -> str:
    width = max(0.0, min(fraction, 1.0)) * 100
    return f"<span class=\"bar {kind}\"><span style=\"width:{width:.1f}%\"></span></span>"


def _summary(results: list[SubmissionResult]) -> str:
    scores = [data.finite(r.score) for r in results]
    top = max((data.finite(r.max_score) for r in results), default=0.0)
    full = sum(1 for r in results if top > 0 and (data.finite(r.score)) >= top)
    stopped = sum(1 for r in results if r.status != "graded")
    rows = [("submissions", f"{len(results):,}"),
            ("mean score", f"{statistics.fmean(scores):.2f} / {data.points(top)}" if scores else "-"),
            ("median score", f"{statistics.median(scores):g} / {data.points(top)}" if scores else "-"),
            ("full marks", f"{full:,}"),
            ("grading stopped early", f"{stopped:,}")]
    extras = [data.extra_credit(r) for r in results]
    if any(extras):
        earned = sum(1 for extra in extras if extra and extra[0] > 0)
        most = max(extra[1] for extra in extras if extra)
        rows.append(("earned extra credit", f"{earned:,} (up to {data.points(most)} points on top of the total; "
                                            "scores include it)"))
    cells = "".join(f"<tr><td>{name}</td><td><strong>{value}</strong></td></tr>" for name, value in rows)
    return f"<table class=\"summary\" style=\"width:auto\">{cells}</table>"


def _histogram(results: list[SubmissionResult]) -> str:
    scores = [data.finite(r.score) for r in results]
    top = max((data.finite(r.max_score) for r in results), default=0.0)
    image = guarded(lambda: f"<img src=\"{plots.score_histogram(scores, top)}\" alt=\"histogram of scores\">",
                     "score histogram")
    return f"<h2>Scores</h2>\n{image}"


def _pass_rates(results: list[SubmissionResult]) -> str:
    order: list[str] = []
    passed, partial, seen, points, extra = Counter(), Counter(), Counter(), {}, set()
    for result in results:
        for check in result.checks:
            name = data.text(check.name, 200)
            if name not in seen:
                order.append(name)
                points[name] = data.finite(check.max_points)
            if getattr(check, "extra_credit", False) is True:
                extra.add(name)
            seen[name] += 1
            passed[name] += bool(check.passed)
            partial[name] += data.outcome(check) == "partial"
    if not order:
        return "<h2>Checks</h2>" + not_available("No check was run.")
    rows = []
    any_partial = any(partial.values())       # the column only where some check earned partial credit
    for name in order:
        rate = passed[name] / seen[name]
        label = " <span class=\"extra-credit\">extra credit</span>" if name in extra else ""
        rows.append(f"<tr><td><code>{esc(name)}</code>{label}</td><td class=\"num\">{data.points(points[name])}</td>"
                    f"<td class=\"num\">{passed[name]:,} / {seen[name]:,}</td>"
                    + (f"<td class=\"num\">{partial[name]:,}</td>" if any_partial else "")
                    + f"<td>{_bar(rate)} {rate * 100:.0f}%</td></tr>")
    notes = (" Passed means full points; partial, some of them (partial credit)." if any_partial else "") + (
        " Extra-credit points are on top of the total." if extra else "")
    return ("<h2>Checks</h2>\n<p class=\"muted\">How many submissions passed each check." + notes + "</p>\n"
            "<table><tr><th>check</th><th class=\"num\">points</th><th class=\"num\">passed</th>"
            + ("<th class=\"num\">partial</th>" if any_partial else "")
            + f"<th>pass rate</th></tr>{''.join(rows)}</table>")


def _failures_of(result: SubmissionResult) -> list[tuple[str, str, list[str]]]:
    """A submission's failures as (message, first check, checks): the checks its root cause explains
    (those saying "same cause as ..." and those waiting for it through requires) are one failure under
    the cause's message, not one each."""
    failed = [c for c in result.checks if not c.passed]
    cause = data.root_cause(result)
    explained = set(cause.checks) if cause is not None else set()
    failures = []
    if cause is not None and any(c.name in explained for c in failed):
        names = [data.text(c.name, 200) for c in failed if c.name in explained]
        failures.append((cause.message, names[0], names))
    failures += [(data.text(c.message, 500), data.text(c.name, 200), [data.text(c.name, 200)])
                 for c in failed if c.name not in explained]
    return failures


def _common_failures(results: list[SubmissionResult]) -> str:
    """Failure messages grouped by their wording (numbers aside), counted in submissions, with the checks
    they failed: one crash that fails every check of a submission is one row, not one per check, and the
    checks a root cause explains are listed under it rather than as failures of their own."""
    groups: dict[str, dict] = {}
    for index, result in enumerate(results):
        for message, first, names in _failures_of(result):
            group = groups.setdefault(failure_pattern(message),
                                      {"submissions": set(), "checks": [], "messages": set()})
            group["submissions"].add(index)
            for name in names:
                if name not in group["checks"]:
                    group["checks"].append(name)
            group["messages"].add(data.text(message, 500))
            group.setdefault("example", data.text(message, 500))
            group.setdefault("first", first)
    if not groups:
        return "<h2>Most common failures</h2>" + not_available("No check failed.")
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]["submissions"]), item[0]))[:COMMON_FAILURES]
    rows = []
    for _, group in ranked:
        varies = " <span class=\"muted\">(numbers vary)</span>" if len(group["messages"]) > 1 else ""
        first, rest = group["checks"][0], group["checks"][1:20]
        checks = f"<code>{esc(first)}</code>"
        if rest:
            checks += ("<div class=\"consequences\">and, from the same cause: "
                       + ", ".join(f"<code>{esc(name)}</code>" for name in rest) + "</div>")
        rows.append(f"<tr><td class=\"num\">{len(group['submissions']):,}</td><td class=\"checks-failed\">"
                    f"{checks}</td><td class=\"message\">{esc(group['example'])}{varies}</td></tr>")
    more = len(groups) - len(ranked)
    tail = f"<p class=\"muted\">{more:,} rarer failure messages are not listed.</p>" if more > 0 else ""
    return ("<h2>Most common failures</h2>\n<p class=\"muted\">One row per cause: where one mistake failed "
            "several checks of a submission, the checks it explains are listed under it.</p>\n"
            f"<table class=\"fixed\">{_columns(10, 30, 60)}<tr><th class=\"num\">submissions</th><th>checks failed</th>"
            f"<th>message (first seen)</th></tr>{''.join(rows)}</table>{tail}")


def _submissions(results: list[SubmissionResult], out_dir: Path | None) -> str:
    times = [max(data.finite(r.seconds), 0.0) for r in results]
    slowest = max(times, default=0.0) or 1.0
    rows = []
    for result, seconds in sorted(zip(results, times), key=lambda pair: data.text(pair[0].name)):
        name = data.text(result.name, 300)
        has_page = out_dir is None or (out_dir / name / "feedback.html").is_file()
        link = (f"<a href=\"{esc(quote(name, safe=''))}/feedback.html\">{esc(name)}</a>" if has_page
                else f"{esc(name)} <span class=\"muted\">(no page)</span>")
        score, top = data.finite(result.score), data.finite(result.max_score)
        failed = ", ".join(esc(c.name) + (" (partial)" if data.outcome(c) == "partial" else "")
                           for c in result.checks if not c.passed) or "-"
        extra = data.extra_credit(result)
        bonus = (f"<div class=\"extra-credit\">incl. {data.points(extra[0])} extra</div>"
                 if extra and extra[0] > 0 else "")
        rows.append(f"<tr><td class=\"name\">{link}</td><td class=\"num {score_class(score, top)}\">{data.points(score)} / "
                    f"{data.points(top)}{bonus}</td><td class=\"message status\">{esc(result.status)}</td>"
                    f"<td class=\"num\">{seconds:.1f} s</td><td>{_bar(seconds / slowest, 'time')}</td>"
                    f"<td class=\"failed-checks\">{failed}</td></tr>")
    summary = ""
    if times:
        summary = (f"<p class=\"muted\">Grading time: {sum(times):.0f} s in all, median {statistics.median(times):.1f} s, "
                   f"longest {max(times):.1f} s per submission.</p>")
    return ("<h2>Submissions</h2>\n" + summary +
            f"<table class=\"fixed\">{_columns(17, 8, 18, 9, 7, 41)}<tr><th>submission</th><th class=\"num\">score</th><th>status</th>"
            "<th class=\"num\">grading time</th><th></th><th>failed checks</th></tr>"
            f"{''.join(rows)}</table>")


def _leaderboard(results: list[SubmissionResult]) -> str:
    """The ranking on the values grading.toml's leaderboard names (empty when the assignment has none)."""
    columns, rows = leaderboard.ranked(results)
    if not columns:
        return ""
    head = "".join(f"<th class=\"num\">{esc(column)}</th>" for column in columns)
    body = []
    for place, (result, values) in enumerate(rows[:500], start=1):
        cells = "".join(f"<td class=\"num\">{'-' if values.get(c) is None else f'{values[c]:,}'}</td>"
                        for c in columns)
        body.append(f"<tr><td class=\"num\">{place}</td><td class=\"name\">{esc(data.text(result.name, 300))}</td>"
                    f"{cells}<td class=\"num\">{data.points(data.finite(result.score))}</td></tr>")
    return ("<h2>Leaderboard</h2>\n<p class=\"muted\">Ranked by " + esc(", then ".join(columns)) +
            " (a value not measured ranks last).</p>\n<table class=\"leaderboard\"><tr><th class=\"num\">#</th>"
            f"<th>submission</th>{head}<th class=\"num\">score</th></tr>{''.join(body)}</table>")


def _refused(refused: Sequence[str]) -> str:
    if not refused:
        return ""
    items = "".join(f"<li class=\"message\">{esc(line)}</li>" for line in refused[:500])
    return ("<div class=\"stopped\"><strong>Refused from the bulk download</strong> (nothing was written for these "
            f"entries):<ul>{items}</ul></div>")


def _intake(lookalikes: Sequence[str], duplicates: Sequence[str]) -> str:
    """What a bulk download's intake flagged: students whose names look alike (or who share a user id),
    and each earlier submission of a student, graded as well or not graded, with why."""
    parts = []
    for lines, title, intro in (
            (lookalikes, "Identities to check",
             "These students' names look alike, share a user id, or can be read two ways in the zip: check "
             "that each row is whom it seems, by the platform's user id and entry in grades.csv."),
            (duplicates, "Several submissions of one student",
             "Each student's newest submission is graded under their name; each other one is listed here, "
             "graded as well (kit.bulk_duplicates = \"all\") or not graded (\"newest\"), with why.")):
        if lines:
            items = "".join(f"<li class=\"message\">{esc(line)}</li>" for line in lines[:500])
            more = f"<li>{len(lines) - 500:,} more</li>" if len(lines) > 500 else ""
            parts.append(f"<div class=\"stopped\"><strong>{title}</strong>: {esc(intro)}<ul>{items}{more}</ul></div>")
    return "\n".join(parts)


def class_report_html(results: Iterable[SubmissionResult], *, assignment: str,
                      out_dir: str | Path | None = None, refused: Sequence[str] = (),
                      lookalikes: Sequence[str] = (), duplicates: Sequence[str] = ()) -> str:
    """The whole report as text; with ``out_dir``, only pages that exist there are linked.
    ``refused``: the bulk-download entries that were not unpacked, and why; ``lookalikes`` and
    ``duplicates``: what the bulk download's intake flagged (see intake/bulk.py)."""
    results = list(results)
    folder = Path(out_dir) if out_dir is not None else None
    sections = [
        (lambda: f"<h1>{esc(assignment)}: class report</h1>" + _summary(results), "summary"),
        (lambda: _refused(list(refused)), "refused entries"),
        (lambda: _intake(list(lookalikes), list(duplicates)), "look-alike names and earlier submissions"),
        (lambda: _histogram(results), "score histogram"),
        (lambda: _pass_rates(results), "pass rates"),
        (lambda: _common_failures(results), "common failures"),
        (lambda: _leaderboard(results), "leaderboard"),
        (lambda: _submissions(results, folder), "table of submissions"),
    ]
    body = "\n".join(guarded(render, what) for render, what in sections)
    return page(f"{data.text(assignment, 100)} · class report", body, REPORT_STYLE)


def write_class_report(results: Iterable[SubmissionResult], path: str | Path, *, assignment: str,
                       refused: Sequence[str] = (), lookalikes: Sequence[str] = (),
                       duplicates: Sequence[str] = ()) -> Path:
    """Write DIR/report.html atomically; feedback pages are linked relative to its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(class_report_html(results, assignment=assignment, out_dir=path.parent, refused=refused,
                                         lookalikes=lookalikes, duplicates=duplicates), encoding="utf-8")
    os.replace(partial, path)
    return path
