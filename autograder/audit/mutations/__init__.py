"""Mutation operators for deep-learning code: the mistakes students make, made on purpose.

``autograder audit`` edits an assignment's reference solution with each operator,
one edit per mutant, and grades the mutants: a check that lets a broken network
through shows up as a surviving mutant. Every operator is a small, documented
edit of the source found with Python's ``ast`` module, and it is applied only
inside what the assignment grades: the classes and functions its checks name in
grading.toml, and the module-level helpers those call. Script code (``main()``,
a training loop the checks never run) is left alone, since no check could notice
a change there.

An edit replaces spans of the original text (everything else, comments included,
stays as written), so a mutant's diff is one or two lines; every mutant is
compiled before it is kept, and two operators that make the same file make one
mutant. Mutants come out in a fixed order (operator, then position), so a seed
and ``sample`` pick the same ones on every machine.

Layout: ``core`` holds the shared machinery (mutants, edits, graded scopes,
helpers); ``layers``, ``dropout``, ``outputs``, ``training``, ``losses`` and
``by_hand`` each hold one family of operators; ``registry`` lists the families in
the order they run; ``making`` makes and samples the mutants. This package
re-exports what the rest of the kit uses.
"""

from __future__ import annotations

from .core import Context, Edit, Mutant, Operator, Scope, Source, graded_scopes
from .making import hand_made, mutants_of, sample
from .registry import FAMILIES, OPERATORS, operator_names

__all__ = ["Context", "Edit", "FAMILIES", "Mutant", "OPERATORS", "Operator", "Scope", "Source", "graded_scopes",
           "hand_made", "mutants_of", "operator_names", "sample"]
