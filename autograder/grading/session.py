"""One submission's processes: its child and, when a model is graded, the grader's executor.

``Session.ask`` routes each question by ``wire/operations.py``: the executor answers questions
about compiled graphs, the child everything else. Tensor specs in a question become tensors
here, once, just before the question is sent. A model the child cannot compile, or the
executor refuses to install, answers every question about it with that failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checks import Question
from ..checks.tensor_specs import materialize
from ..processes.sandbox import Sandbox
from ..wire.answers import Answer, model_key
from ..wire.operations import EXECUTOR
from .plan import Plan, install_rules
from .setup import GradingSetup, child_options


@dataclass
class ProcessRecord:
    """How the submission's child ended, for results.json."""

    status: str                 # "graded", or why the child or the executor stopped
    peak_rss: int               # bytes
    isolation: dict


class Session:
    """The child of one submission (``module``, the file to load) and, with ``needs_executor``, an
    executor; ``handed_in`` is what the student handed in, and files handed in beside the graded one
    are read from there, or from ``companions`` when given."""

    def __init__(self, setup: GradingSetup, module: Path, handed_in: Path | str, needs_executor: bool,
                 companions: Path | None = None) -> None:
        self.setup, self.module, self.handed_in = setup, module, handed_in
        self.companions = companions
        self.limits = setup.assignment.limits
        self.needs_executor = needs_executor
        self._stack = contextlib.ExitStack()
        self.child: Sandbox | None = None
        self.executor: Sandbox | None = None
        self.installed: dict[str, Answer | None] = {}

    def __enter__(self) -> "Session":
        setup = self.setup
        options = child_options(setup, self.handed_in)
        with self._stack:
            if self.needs_executor:
                # The executor starts first: it imports torch while the child loads and compiles the submission.
                executor_options = dataclasses.replace(child_options(setup, None), program="executor")
                self.executor = self._stack.enter_context(
                    setup.executors.lease(executor_options) if setup.executors is not None
                    else Sandbox(None, executor_options, data_file=setup.data_file))
            self.child = self._stack.enter_context(
                setup.children.lease(self.module, options) if setup.children is not None
                else Sandbox(self.module, options))
            self._stack = self._stack.pop_all()
        return self

    def __exit__(self, *exc) -> bool | None:
        return self._stack.__exit__(*exc)

    def load(self, question: Question) -> Answer:
        return self.child.ask("load", question.args, timeout=self.limits.load_seconds, label=question.label)

    def compile_all(self, plan: Plan) -> None:
        """Compile every model the executor must run and install it there; failures are kept per model."""
        self.installed = {key: self._compile_and_install(question, key in plan.networks)
                          for key, question in plan.compiles.items()}

    def ask(self, question: Question) -> Answer:
        timeout = getattr(self.limits, question.limit)
        if question.op not in EXECUTOR:
            return self.child.ask(question.op, materialize(question.args, self.setup.data_dir), timeout=timeout,
                                  label=question.label)
        failure = self.installed.get(model_key(question.args["model"])) if "model" in question.args else None
        # the model spec names an installed graph: it travels as written, never materialised
        args = {**materialize({k: v for k, v in question.args.items() if k != "model"}, self.setup.data_dir),
                **({"model": question.args["model"]} if "model" in question.args else {})}
        args, problem = _with_submitted_files(args, self.companions or self.handed_in)
        return failure or problem or self.executor.ask(question.op, args, timeout=timeout, label=question.label)

    def record(self) -> ProcessRecord:
        """Read while the processes are still open."""
        status = self.child.dead_reason or (self.executor.dead_reason if self.executor is not None else "")
        return ProcessRecord(status or "graded", self.child.peak_rss, self.child.isolation_record())

    def output(self) -> str:
        """What the submission printed; complete only once the child has exited."""
        return self.child.output.text()

    def _compile_and_install(self, question: Question, network: bool) -> Answer | None:
        """Ask the child to compile one model, hand the graph to the executor; the failure, if any."""
        setup, step = self.setup, self.limits.step_seconds
        compiled = self.child.ask(question.op, materialize(question.args, setup.data_dir), timeout=step,
                                  label=question.label)
        if compiled.failed:
            if compiled.error is not None:      # word the failure with what was being done: compiling
                compiled.error = {**compiled.error, "label": _compile_failure_label(question, compiled.error)}
            return compiled
        rules = install_rules(setup.assignment, setup.config.kit, question, network)
        installed = self.executor.ask("install", {"key": model_key(question.args["model"]), "compiled": compiled.value,
                                                  "limits": rules},
                                      timeout=step, label=question.label.replace("compiling", "rebuilding"))
        return installed if installed.failed else None


def _compile_failure_label(question: Question, error: dict) -> str:
    """What was being done when compiling failed: a forward() that failed again when the child ran it as
    PyTorch does, on a concrete batch (child/compile.py), is worded as that run, in PyTorch's words."""
    batch, spec = error.get("batch"), question.args.get("model", {})
    if isinstance(batch, int) and not isinstance(batch, bool) and "class" in spec and "function" not in spec:
        call = f"{spec['class']}({', '.join(repr(a) for a in spec.get('args', []))})"
        return f"running forward() of {call} on a batch of {batch}"
    return question.label


def _with_submitted_files(args: dict, handed_in: Path | str) -> tuple[dict, Answer | None]:
    """``args`` with each file a check reads beside the graded one (checks/weights.py's
    ``submitted_file``) replaced by its bytes, as a uint8 tensor; or the failed answer saying why a file
    cannot be sent. The parent only reads the bytes (bounded, checked before reading): it never
    unpickles them, and the child never sees them."""
    from ..checks.weights import SUBMITTED_FILE
    from ..intake.submission import read_companion

    out = dict(args)
    for key, value in args.items():
        if isinstance(value, dict) and SUBMITTED_FILE in value:
            data, problem = read_companion(handed_in, value[SUBMITTED_FILE], int(value["max_bytes"]))
            if data is None:
                return out, Answer(False, error={"failure": True, "message": problem})
            out[key] = (torch.frombuffer(bytearray(data), dtype=torch.uint8) if data
                        else torch.empty(0, dtype=torch.uint8))
    return out, None
