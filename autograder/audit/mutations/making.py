"""Making and picking mutants: every operator's edits applied to the reference, and a sample.

``mutants_of`` runs the operators in registry order and keeps a mutant only if it compiles and
differs from the reference and from every mutant before it; ids count each operator's kept sites
in file order. A mutant's diff shows only the lines its edit changed, without comments.
``sample`` spreads a limit evenly over the operators with a seeded generator, so a seed picks the
same mutants on every machine, and keeps the mutants' order.
"""

from __future__ import annotations

import bisect
import random
from typing import Iterable, Sequence

from .core import Context, Edit, Mutant, Source, graded_scopes, sites
from .registry import OPERATORS, operator_names


def _apply(data: bytes, edit: Edit) -> bytes:
    out = data
    for start, end, text in sorted(edit.replacements, key=lambda r: r[0], reverse=True):
        out = out[:start] + text.encode("utf-8") + out[end:]
    return out


def _without_comment(line: str) -> str:
    """A line of code without its trailing comment (a '#' inside quotes stays)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def _one_line(lines: list[str]) -> str:
    kept = [_without_comment(line) for line in lines]
    text = " | ".join(" ".join(line.split()) for line in kept if line.strip())
    return text if len(text) <= 240 else text[:237] + "..."


def _line_starts(data: bytes) -> list[int]:
    return [0] + [index + 1 for index, byte in enumerate(data) if byte == 0x0A]


def _line_at(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset)


def _describe(source: Source, edit: Edit, mutated: bytes) -> tuple[int, str, str]:
    """The first changed line and the changed lines before and after, each on one line
    (lines the edit left as they were are not shown)."""
    start = min(r[0] for r in edit.replacements)
    end = max(r[1] for r in edit.replacements)
    growth = sum(len(r[2].encode("utf-8")) - (r[1] - r[0]) for r in edit.replacements)
    first = _line_at(source.line_starts, start)
    last = _line_at(source.line_starts, max(start, end - 1))
    after_last = _line_at(_line_starts(mutated), max(start, end + growth - 1))
    before = source.text.splitlines()[first - 1:last]
    after = mutated.decode("utf-8").splitlines()[first - 1:after_last]
    while before and after and before[0] == after[0]:
        before, after, first = before[1:], after[1:], first + 1
    while before and after and before[-1] == after[-1]:
        before, after = before[:-1], after[:-1]
    return first, _one_line(before), _one_line(after)


def mutants_of(text: str, names: Iterable[str], by_hand: Iterable[str] = (), *, filename: str = "<reference>",
               operators: Sequence[str] | None = None) -> list[Mutant]:
    """Every mutant the operators make of ``text`` inside the graded ``names`` (``by_hand``: those graded
    without library ops), in operator order, then file order. Mutants that do not compile, change
    nothing, or repeat an earlier one are left out."""
    source = Source(text, filename)
    scopes, classes = graded_scopes(source.tree, names, by_hand)
    ctx = Context(source, scopes, classes)
    wanted = set(operators) if operators else None
    if wanted is not None:
        unknown = sorted(wanted - set(operator_names()))
        if unknown:
            raise ValueError(f"unknown mutation operator(s): {', '.join(unknown)} (known: {', '.join(operator_names())})")
    seen = {source.data}
    mutants: list[Mutant] = []
    for op in OPERATORS:
        if wanted is not None and op.name not in wanted:
            continue
        count = 0
        for edit in sites(op.find(ctx)):
            mutated = _apply(source.data, edit)
            if mutated in seen:
                continue
            try:
                compile(mutated, filename, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            seen.add(mutated)
            count += 1
            line, before, after = _describe(source, edit, mutated)
            mutants.append(Mutant(f"{op.name}-{count}", op.name, line, before, after, mutated.decode("utf-8")))
    return mutants


def hand_made(text: str, old: str, new: str, *, name: str = "hand_made", filename: str = "<reference>") -> Mutant:
    """A mutant written by hand: ``old`` (found exactly once in ``text``) replaced by ``new``."""
    if text.count(old) != 1:
        raise ValueError(f"{old!r} is found {text.count(old)} times in the reference, not once")
    source = Source(text, filename)
    start = len(text[:text.index(old)].encode("utf-8"))
    edit = Edit(((start, start + len(old.encode("utf-8")), new),))
    mutated = _apply(source.data, edit)
    compile(mutated, filename, "exec", dont_inherit=True)
    line, before, after = _describe(source, edit, mutated)
    return Mutant(name, name, line, before, after, mutated.decode("utf-8"))


def sample(mutants: Sequence[Mutant], limit: int | None, seed: int) -> list[Mutant]:
    """At most ``limit`` mutants spread evenly over the operators: each operator's mutants in an order
    drawn from ``seed``, then one from each operator in turn. The result keeps the mutants' order."""
    if limit is None or limit >= len(mutants):
        return list(mutants)
    rng = random.Random(f"autograder audit/{seed}")
    queues: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        queues.setdefault(mutant.operator, []).append(mutant)
    for queue in queues.values():
        rng.shuffle(queue)
    order = list(queues)
    rng.shuffle(order)            # which operators get one more when the limit does not divide evenly
    chosen: set[str] = set()
    while len(chosen) < limit:
        for name in order:
            if queues[name] and len(chosen) < limit:
                chosen.add(queues[name].pop().id)
    return [mutant for mutant in mutants if mutant.id in chosen]
