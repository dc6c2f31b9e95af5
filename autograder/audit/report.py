"""What an audit reports: DIR/audit.json, DIR/audit.html and a summary on the console.

The page looks like report.html (the same style sheet and bars, one file, no
script, everything escaped): per assignment the mutation score, a table per
operator, every surviving mutant with its diff and the checks it passed, the
equivalent mutants with why, and the killed ones with the checks that caught them.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .run import EQUIVALENT, KILLED, NOT_GRADED, STATUSES, SURVIVED, AssignmentAudit, MutantOutcome
from ..reports.class_report import REPORT_STYLE
from ..reports.feedback_page import esc, guarded, not_available, page
from .mutations import OPERATORS

AUDIT_STYLE = """
td.diff { font-family: ui-monospace, monospace; font-size: .82rem; word-break: break-word; }
td.checks { font-size: .82rem; }
.score-good { color: #1f7a3a; } .score-weak { color: #a35a00; } .score-bad { color: #b3261e; }
details { margin: .4rem 0 1rem; } summary { cursor: pointer; }
"""

SUMMARIES = {op.name: op.summary for op in OPERATORS}


def percent(score: float | None) -> str:
    return "-" if score is None else f"{score * 100:.0f}%"


def _mutant_json(outcome: MutantOutcome) -> dict:
    m = outcome.mutant
    return {"id": m.id, "operator": m.operator, "line": m.line, "before": m.before, "after": m.after,
            "diff": m.diff, "status": outcome.status, "score": outcome.score, "max_score": outcome.max_score,
            "failed_checks": outcome.failed_checks,
            "passed_checks": outcome.passed_checks if outcome.status != KILLED else [],
            "equivalence": outcome.equivalence, "note": outcome.note}


def audit_json(audits: Sequence[AssignmentAudit]) -> dict:
    assignments = {}
    for audit in audits:
        operators = {name: {status.replace(" ", "_"): counts[status] for status in STATUSES}
                     for name, counts in audit.by_operator().items()}
        assignments[audit.assignment] = {
            "title": audit.title, "score": audit.score, "killed": audit.count(KILLED),
            "survived": audit.count(SURVIVED), "equivalent": audit.count(EQUIVALENT),
            "not_graded": audit.count(NOT_GRADED), "mutants_made": audit.made, "mutants_graded": len(audit.outcomes),
            "seed": audit.seed, "seconds": round(audit.seconds, 1), "reference_noise": audit.noise,
            "operators": operators, "mutants": [_mutant_json(o) for o in audit.outcomes]}
    return {"measured": datetime.date.today().isoformat(), "assignments": assignments}


def _atomic_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def write_audit_json(audits: Sequence[AssignmentAudit], path: str | Path) -> Path:
    return _atomic_write(Path(path), json.dumps(audit_json(audits), indent=2, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------- the page

def _bar(fraction: float) -> str:
    width = max(0.0, min(fraction, 1.0)) * 100
    return f"<span class=\"bar\"><span style=\"width:{width:.1f}%\"></span></span>"


def _score_class(score: float | None) -> str:
    if score is None:
        return ""
    return "score-good" if score >= 0.9 else "score-weak" if score >= 0.7 else "score-bad"


def _summary(audit: AssignmentAudit) -> str:
    score = audit.score
    rows = [("mutation score", f"<strong class=\"{_score_class(score)}\">{percent(score)}</strong> "
                               f"{_bar(score or 0.0)} (killed ÷ killed and survived)"),
            ("mutants graded", f"{len(audit.outcomes):,} of {audit.made:,} made (seed {audit.seed})"),
            ("killed", f"{audit.count(KILLED):,}"), ("survived", f"{audit.count(SURVIVED):,}"),
            ("equivalent", f"{audit.count(EQUIVALENT):,} (measured: the same answers to every question)"),
            ("not graded", f"{audit.count(NOT_GRADED):,}"), ("time", f"{audit.seconds:.0f} s")]
    cells = "".join(f"<tr><td>{esc(name)}</td><td>{value}</td></tr>" for name, value in rows)
    return f"<table class=\"summary\" style=\"width:auto\">{cells}</table>"


def _operators(audit: AssignmentAudit) -> str:
    table = audit.by_operator()
    if not table:
        return not_available("No mutant was made: the operators found nothing to change in what the checks grade.")
    rows = []
    for name in [op.name for op in OPERATORS if op.name in table] + sorted(set(table) - set(SUMMARIES)):
        counts = table[name]
        killed, survived = counts[KILLED], counts[SURVIVED]
        score = killed / (killed + survived) if killed + survived else None
        rows.append(f"<tr><td><code>{esc(name)}</code><br><span class=\"muted\">{esc(SUMMARIES.get(name, 'written by hand'))}"
                    f"</span></td><td class=\"num\">{sum(counts.values()):,}</td><td class=\"num\">{killed:,}</td>"
                    f"<td class=\"num\">{survived:,}</td><td class=\"num\">{counts[EQUIVALENT]:,}</td>"
                    f"<td class=\"num\">{counts[NOT_GRADED]:,}</td>"
                    f"<td>{_bar(score or 0.0) if score is not None else ''} {percent(score)}</td></tr>")
    return ("<h3>By operator</h3><table><tr><th>operator</th><th class=\"num\">graded</th><th class=\"num\">killed</th>"
            "<th class=\"num\">survived</th><th class=\"num\">equivalent</th><th class=\"num\">not graded</th>"
            f"<th>score</th></tr>{''.join(rows)}</table>")


def _list(audit: AssignmentAudit, status: str, title: str, intro: str, column: str, cell, open_: bool) -> str:
    chosen = [o for o in audit.outcomes if o.status == status]
    if not chosen:
        return ""
    rows = "".join(f"<tr><td><code>{esc(o.mutant.id)}</code></td><td class=\"diff\">{esc(o.mutant.diff)}</td>"
                   f"<td class=\"checks\">{cell(o)}</td></tr>" for o in chosen)
    return (f"<details{' open' if open_ else ''}><summary><strong>{esc(title)}</strong> ({len(chosen):,})</summary>"
            f"<p class=\"muted\">{esc(intro)}</p><table><tr><th>mutant</th><th>diff</th><th>{esc(column)}</th></tr>"
            f"{rows}</table></details>")


def _apart(outcome: MutantOutcome) -> str:
    """What the equivalence measurement found (or why it could not measure)."""
    words = f"not equivalent: {outcome.equivalence}" if outcome.equivalence else outcome.note
    return f"<br><span class=\"muted\">{esc(words)}</span>" if words else ""


def _checks(names: Sequence[str]) -> str:
    return ", ".join(f"<code>{esc(name)}</code>" for name in names) or "-"


def _assignment(audit: AssignmentAudit) -> str:
    parts = [f"<h2 id=\"{esc(audit.assignment)}\">{esc(audit.assignment)}: {esc(audit.title)}</h2>", _summary(audit),
             _operators(audit)]
    parts.append(_list(audit, SURVIVED, "Surviving mutants",
                       "Full marks although the code is broken: strengthen a check, or say in the assignment's "
                       "README why the kit accepts it.", "checks it passed, and what sets it apart from the reference",
                       lambda o: _checks(o.passed_checks) + _apart(o), True))
    parts.append(_list(audit, EQUIVALENT, "Equivalent mutants",
                       "Measured: every answer to the checks' questions equals the reference's, so no check could "
                       "tell them apart; left out of the score.", "measurement", lambda o: esc(o.equivalence), False))
    parts.append(_list(audit, NOT_GRADED, "Not graded", "The grader failed on these twice (not the mutant's fault); "
                       "left out of the score.", "why", lambda o: esc(o.note), False))
    parts.append(_list(audit, KILLED, "Killed mutants", "Each lost points; the checks it failed.",
                       "checks failed", lambda o: _checks(o.failed_checks), False))
    if audit.noise:
        items = "".join(f"<li class=\"message\">{esc(line)}</li>" for line in audit.noise[:50])
        parts.append(f"<p class=\"muted\">Left out of the equivalence comparison (they differ between two runs of the "
                     f"reference itself):</p><ul>{items}</ul>")
    return "\n".join(parts)


def audit_html(audits: Sequence[AssignmentAudit]) -> str:
    overview = "".join(
        f"<tr><td><a href=\"#{esc(a.assignment)}\">{esc(a.assignment)}</a></td>"
        f"<td class=\"num {_score_class(a.score)}\">{percent(a.score)}</td><td>{_bar(a.score or 0.0)}</td>"
        f"<td class=\"num\">{a.count(KILLED):,}</td><td class=\"num\">{a.count(SURVIVED):,}</td>"
        f"<td class=\"num\">{a.count(EQUIVALENT):,}</td><td class=\"num\">{a.seconds:.0f} s</td></tr>" for a in audits)
    head = ("<h1>Audit of the checks: mutation scores</h1>\n<p class=\"muted\">Each mutant is the reference solution "
            "with one mistake a student makes; it is killed when it loses at least one point. Measured "
            f"{esc(datetime.date.today().isoformat())}.</p>\n<table><tr><th>assignment</th><th class=\"num\">score</th>"
            "<th></th><th class=\"num\">killed</th><th class=\"num\">survived</th><th class=\"num\">equivalent</th>"
            f"<th class=\"num\">time</th></tr>{overview}</table>")
    body = "\n".join([head] + [guarded(lambda a=a: _assignment(a), f"audit of {a.assignment}") for a in audits])
    return page("autograder audit", body, REPORT_STYLE + AUDIT_STYLE)


def write_audit_html(audits: Sequence[AssignmentAudit], path: str | Path) -> Path:
    return _atomic_write(Path(path), audit_html(audits))


# ----------------------------------------------------------------- the console

def print_audit(audits: Sequence[AssignmentAudit], console: Console, out: Path | None = None) -> None:
    table = Table(title="mutation scores (killed ÷ killed and survived)")
    table.add_column("assignment", no_wrap=True, min_width=max((len(a.assignment) for a in audits), default=10))
    for name in ("score", "killed", "survived", "equiv.", "graded", "time"):
        table.add_column(name, justify="right", no_wrap=True)
    for audit in audits:
        style = {"score-good": "green", "score-weak": "yellow", "score-bad": "red"}.get(_score_class(audit.score), "")
        table.add_row(audit.assignment, Text(percent(audit.score), style=style), str(audit.count(KILLED)),
                      str(audit.count(SURVIVED)), str(audit.count(EQUIVALENT)), f"{len(audit.outcomes)}/{audit.made}",
                      f"{audit.seconds:.0f} s")
    console.print(table)
    for audit in audits:
        if audit.count(NOT_GRADED):
            console.print(Text(f"not graded  {audit.assignment}: {audit.count(NOT_GRADED)} mutant(s), a fault of the "
                               "grader's twice (left out of the score; see audit.json)"))
        for outcome in audit.outcomes:
            if outcome.status == SURVIVED:
                console.print(Text(f"survived  {audit.assignment}  {outcome.mutant.id}: {outcome.mutant.diff}"))
    if out is not None:
        console.print(Text(f"wrote {out / 'audit.json'}, {out / 'audit.html'} and the mutants in {out / 'mutants'}"))
