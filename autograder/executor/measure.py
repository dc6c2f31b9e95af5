"""Every model measurement the executor makes, gathered in one table of handlers.

Importing this module imports each module of handlers, and each registers its
handlers in ``HANDLERS`` (``state.py``) as it is imported, so this list is where
a new module of executor questions is added: ``models.py`` (one model as it
stands), ``training_runs.py`` (training from the default initialisation) and
``weights.py`` (trained weights handed in). Every handler is measured on the
graphs the grader rebuilt, and starts from the state the model was installed with.
"""

from __future__ import annotations

from . import models, training_runs, weights  # noqa: F401 - each registers its handlers
from .state import HANDLERS, ExecutorState, MeasureFailure

__all__ = ["HANDLERS", "ExecutorState", "MeasureFailure"]
