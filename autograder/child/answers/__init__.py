"""The questions the child answers, one handler each, grouped by what they ask about.

``base.py`` holds the registry (``ANSWERS``, filled by ``@answers("op")`` under a
name declared in wire/operations.py), the child's state and the helpers every
handler shares; they are importable from this package too. Each other module
(``model``, ``functions``, ``regression``, ``training_code``) registers its
handlers as it is imported; ``child/main.py``'s ``register_answers`` names every
one of them.
"""

from .base import ANSWERS, AnswerFailure, ChildState, answers

__all__ = ["ANSWERS", "AnswerFailure", "ChildState", "answers"]
