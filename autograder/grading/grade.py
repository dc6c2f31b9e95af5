"""Grade one submission: plan the questions, ask them, judge the answers.

Two processes answer: the submission's child, which loads the file, compiles
each model into an op graph and runs what cannot be compiled; and the
grader's own executor, which rebuilds those graphs from allow-listed ops and
makes every model measurement itself (shapes, layers, gradients, modes, the
training run). The parent judges the raw answers; it alone holds the test
labels. A check whose questions were never answered fails with the reason;
no check passes without having run. ``extra_data.executed_by`` records, per
check, whether the grader or the submission's process computed its facts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checks import KINDS, JudgeContext, Question
from ..checks.base import LOAD, STEP, TRAIN
from ..checks.instances import submission_draw
from ..checks.tensor_specs import materialize
from ..settings.loader import Assignment, Config
from ..processes.executors import ExecutorPool
from . import leaderboard
from .results import MAX_CLASSES, MAX_HISTORY, MAX_LAYERS
from ..processes.zygotes import ZygotePool
from .results import CheckResult, SubmissionResult, every_check_failed
from .root_cause import apply_root_cause, load_failure_message, root_cause_note
from ..processes.sandbox import Sandbox, SandboxOptions
from ..wire.answers import Answer, model_key
from ..intake.notebook import ModuleFile, NotebookError
from ..intake.submission import find_submission
from ..wire.operations import EXECUTOR

# Batch size at which a model is traced when its questions do not say otherwise.
COMPILE_BATCHES = (4,)


@dataclass(frozen=True)
class GradingSetup:
    """What every submission of one batch shares."""

    config: Config
    assignment: Assignment
    device: str
    seed: int
    threads: int
    data_file: Path | None = None          # training data for the child (no test labels)
    test_labels: torch.Tensor | None = None
    data_dir: Path | None = None           # where the dataset was found (hidden from the child)
    executors: ExecutorPool | None = None  # warm executors kept between submissions; None: one per submission
    children: ZygotePool | None = None     # warm starts for submissions' processes; None: each starts cold


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
        raise JudgeTimeout(f"the grader gave up judging this check after {seconds:g} s ([limits] judge_seconds): "
                           f"the answers to it are not what the check expects")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["verdict"]


def needs_data(assignment: Assignment) -> bool:
    return any(KINDS[c.kind].needs_data for c in assignment.checks)


def _plan(assignment: Assignment, draw: int | None = None) -> tuple[Question, list[tuple], list[Question]]:
    """The load question, each check with its questions, and the unique questions in asking order.
    ``draw`` (the grading seed mixed with the submission's bytes) picks the fresh problem each
    check that runs in the submission's process poses (checks/instances.py)."""
    names: set[str] = set()
    per_check, unique = [], {}
    for check in assignment.checks:
        check = dataclasses.replace(check, draw=draw)
        kind = KINDS[check.kind]
        names.update(kind.required_names(check, assignment))
        questions = kind.questions(check, assignment)
        per_check.append((check, kind, questions))
        for question in questions:
            unique.setdefault(question.key, question)
    # Quick questions first, so a slow or stuck training run cannot hide them.
    ordered = sorted(unique.values(), key=lambda p: p.limit == TRAIN)
    load = Question("load", {"names": sorted(names)}, f"loading {assignment.file}", limit=LOAD)
    return load, per_check, ordered


def _compile_plan(assignment: Assignment, questions: list[Question]) -> dict[str, Question]:
    """One compile question per model the executor must run, with every batch size it will see."""
    sizes: dict[str, set[int]] = {}
    specs: dict[str, dict] = {}
    sample_shapes: dict[str, list[int]] = {}
    for question in questions:
        if question.op not in EXECUTOR or "model" not in question.args:
            continue
        key = model_key(question.args["model"])
        specs[key] = question.args["model"]
        # a model is compiled for the usual batch sizes; a hand-written function only for its inputs
        wanted = sizes.setdefault(key, set() if "function" in question.args["model"] else set(COMPILE_BATCHES))
        for shape in _input_shapes(question):
            wanted.add(int(shape[0]))
            sample_shapes.setdefault(key, list(shape[1:]))
        recipe = question.args.get("recipe")
        if isinstance(recipe, dict):
            wanted.update(int(recipe[k]) for k in ("batch_size", "test_batch_size") if k in recipe)
    plan = {}
    for key, spec in specs.items():
        text = (f"{spec['function']}(...)" if "function" in spec else
                f"{spec['class']}({', '.join(repr(a) for a in spec.get('args', []))})")
        input_shape = sample_shapes.get(key, list(assignment.input_shape))
        plan[key] = Question("compile_model", {"model": spec, "input_shape": input_shape,
                                            "batch_sizes": sorted(sizes[key]),
                                            "modes": ["eval"] if "function" in spec else ["train", "eval"]},
                          f"compiling {text if 'function' in spec else f'forward() of {text}'} into a graph",
                          limit=STEP)
    return plan


def _input_shapes(question: Question) -> list[list[int]]:
    """Shapes (batch first) of the inputs a question will feed its model."""
    args = question.args
    specs = ([args.get(name) for name in ("input", "weights", "images", "x_train", "x_test")]
             + [step.get("input") for step in args.get("steps", [])])
    # every tensor spec carries its shape (tensor_specs.py)
    shapes = [spec["shape"] for spec in specs if isinstance(spec, dict) and isinstance(spec.get("shape"), list)]
    if isinstance(args.get("shape"), list):
        shapes.append(args["shape"])
    return shapes


def executed_by(questions: list[Question]) -> str:
    """'grader' when the grader's executor computed every fact a check judges, else 'submission'."""
    return "grader" if questions and all(p.op in EXECUTOR for p in questions) else "submission"


def _failed_result(setup: GradingSetup, name: str, source: str, reason: str, started: float) -> SubmissionResult:
    return every_check_failed(setup.assignment, name, source, reason,
                              seconds=time.monotonic() - started, extra=_extra(setup, {}))


def _extra(setup: GradingSetup, check_seconds: dict) -> dict:
    return {
        "assignment": setup.assignment.id,
        "seed": setup.seed,
        "device": setup.device,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "check_seconds": check_seconds,
    }


def child_options(setup: GradingSetup, path: Path | str | None) -> SandboxOptions:
    """The sandbox of a submission's child (``path``), or of the executor (None)."""
    return SandboxOptions.for_submission(setup.config, setup.assignment, device=setup.device, seed=setup.seed,
                                         threads=setup.threads, data_dir=setup.data_dir, path=path)


# Questions about a network the grader trains or scores as a whole (not a hand-written layer or
# function): its graphs are held to being one network that learns (executor/one_network.py).
NETWORK_QUESTIONS = {"build", "forward", "backward", "train", "overfit_batch", "train_regression",
                     "evaluate_weights"}


def network_keys(questions: list[Question]) -> set[str]:
    return {model_key(p.args["model"]) for p in questions
            if p.op in NETWORK_QUESTIONS and "model" in p.args and "function" not in p.args["model"]}


def install_rules(setup: GradingSetup, question: Question, network: bool) -> dict:
    """What the executor holds a compiled model to (see executor/program.py's Limits)."""
    limits = setup.assignment.limits
    rules = {"max_constant_elements": setup.config.kit["max_constant_elements"]}
    if network:
        rules.update(network=True, max_carried_values=limits.max_carried_values,
                     max_graph_nodes=limits.max_graph_nodes, allow_buffers=limits.allow_buffers,
                     input_shape=list(question.args["input_shape"]), batch_sizes=list(question.args["batch_sizes"]))
    return rules


def _compile_failure_label(question: Question, error: dict) -> str:
    """What was being done when compiling failed: a forward() that failed again when the child ran it as
    PyTorch does, on a concrete batch (child/compile.py), is worded as that run, in PyTorch's words."""
    batch, spec = error.get("batch"), question.args.get("model", {})
    if isinstance(batch, int) and not isinstance(batch, bool) and "class" in spec and "function" not in spec:
        call = f"{spec['class']}({', '.join(repr(a) for a in spec.get('args', []))})"
        return f"running forward() of {call} on a batch of {batch}"
    return question.label


def _compile_and_install(box: Sandbox, runner: Sandbox, question: Question, setup: GradingSetup,
                         limits, network: bool) -> Answer | None:
    """Ask the child to compile one model, hand the graph to the executor; the failure, if any."""
    compiled = box.ask(question.op, materialize(question.args, setup.data_dir), timeout=limits.step_seconds,
                       label=question.label)
    if compiled.failed:
        if compiled.error is not None:      # word the failure with what was being done: compiling
            compiled.error = {**compiled.error, "label": _compile_failure_label(question, compiled.error)}
        return compiled
    installed = runner.ask("install", {"key": model_key(question.args["model"]), "compiled": compiled.value,
                                       "limits": install_rules(setup, question, network)},
                           timeout=limits.step_seconds, label=question.label.replace("compiling", "rebuilding"))
    if installed.failed:
        return installed
    return None


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


def _confusion(predictions: torch.Tensor, labels: torch.Tensor) -> tuple[list[list[int]] | None, int, int]:
    """The confusion matrix of the test predictions, how many predictions are not a class, and how many
    classes there are. The size comes from the grader's own labels, never from an answer: a prediction
    outside 0 .. classes - 1 counts as wrong and is only counted, so no answer can make the matrix big."""
    classes = int(labels.max().item()) + 1 if labels.numel() else 0
    predicted = predictions.long()
    inside = (predicted >= 0) & (predicted < classes)
    outside = int(inside.numel() - inside.sum().item())
    if not 0 < classes <= MAX_CLASSES:
        return None, outside, classes
    cells = torch.bincount(labels[inside] * classes + predicted[inside], minlength=classes * classes)
    return cells.reshape(classes, classes).tolist(), outside, classes


def _measured_layers(error) -> dict | None:
    """The layers a forward() that could not be compiled ran through, measured by the submission's own
    process when it reran forward() for the error's words (for display only, never judged)."""
    if not isinstance(error, dict) or not isinstance(error.get("layers"), list):
        return None
    rows = [{"op": row[0], "output_shape": row[1], "parameters": row[2], "failed": bool(row[3])}
            for row in error["layers"][:MAX_LAYERS] if isinstance(row, (list, tuple)) and len(row) == 4]
    return {"batch": error.get("batch"), "layers": rows}


def _feedback_data(per_check, answers: dict[str, Answer], context: JudgeContext) -> dict:
    """The model as the grader saw it and its training run, for feedback pages (all measured by the grader).
    Each list is cut to what a page shows before it is built."""
    data: dict = {}
    for check, kind, questions in per_check:
        for question in questions:
            answer = answers.get(question.key)
            if answer is not None and answer.failed and "measured_layers" not in data:
                measured = _measured_layers(answer.error)
                if measured is not None:
                    data["measured_layers"] = measured
            if answer is None or answer.failed or not isinstance(answer.value, dict):
                continue
            calls = answer.value.get("calls")
            if question.op == "forward" and isinstance(calls, list) and calls and "layers" not in data:
                data["layers"] = [{"op": call[0], "output_shape": call[1], "parameters": call[2]}
                                  for call in calls[:MAX_LAYERS] if isinstance(call, (list, tuple)) and len(call) == 3]
            if question.op in ("train", "evaluate_weights") and "training" not in data and context.test_labels is not None:
                value, labels = answer.value, context.test_labels
                predictions = value.get("predictions")
                if isinstance(predictions, torch.Tensor) and predictions.shape == labels.shape:
                    matrix, outside, classes = _confusion(predictions, labels)
                    history = value.get("history")
                    recipe = question.args.get("recipe", {})
                    data["training"] = {
                        "history": history[:MAX_HISTORY] if isinstance(history, list) else [],
                        "stop_at_validation_accuracy": recipe.get("stop_at_validation_accuracy"),
                        "min_test_accuracy": check.params.get("min_test_accuracy"),
                        "steps": value.get("steps"),
                        "test_accuracy": round((predictions.long() == labels).double().mean().item(), 4),
                        "classes": classes,
                        "predictions_not_a_class": outside,
                        "confusion_matrix": matrix,
                    }
    return data


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


def grade_submission(setup: GradingSetup, path: Path | str) -> SubmissionResult:
    """Grade one handed-in file or folder; never raises for a bad submission."""
    started = time.monotonic()
    assignment = setup.assignment
    submission = find_submission(path, assignment.file)
    if submission.path is None:
        return _failed_result(setup, submission.name, str(path), submission.problem, started)

    load, per_check, ordered = _plan(assignment, submission_draw(setup.seed, submission.path))
    load = dataclasses.replace(load, label=f"loading {submission.path.name}")     # the file as handed in
    limits = assignment.limits
    options = child_options(setup, path)
    answers: dict[str, Answer] = {}
    module = ModuleFile(submission.path, assignment.file)   # a notebook becomes a .py in a temporary folder
    try:
        module.open()
    except NotebookError as exc:
        return _failed_result(setup, submission.name, str(path), exc.message, started)
    notes: list[str] = list(module.notes)
    compiles = _compile_plan(assignment, ordered)
    executor_options = dataclasses.replace(child_options(setup, None), program="executor")
    if not compiles:
        executor = contextlib.nullcontext()
    elif setup.executors is not None:
        executor = setup.executors.lease(executor_options)
    else:
        executor = Sandbox(None, executor_options, data_file=setup.data_file)
    # The executor starts first: it imports torch while the child loads and compiles the submission.
    child = (setup.children.lease(module.path, options) if setup.children is not None
             else Sandbox(module.path, options))
    with module, executor as runner, child as box:
        loaded = box.ask("load", load.args, timeout=limits.load_seconds, label=load.label)
        if loaded.ok:
            skipped = loaded.value["skipped"]
            if skipped:
                lines = ", ".join(str(line) for line, _ in skipped[:8]) + (", ..." if len(skipped) > 8 else "")
                where = "line" if len(skipped) == 1 else "lines"
                notes.append(f"{len(skipped)} top-level statement(s) that are not definitions were not run "
                             f"({where} {lines}): grading uses only imports, functions, classes and constants")
            for module in loaded.value["missing_modules"]:
                notes.append(f"module '{module}' is not installed on the grader; using it fails")
            networks = network_keys(ordered)
            installed = {key: _compile_and_install(box, runner, compile_question, setup, limits, key in networks)
                         for key, compile_question in compiles.items()}
            for question in ordered:
                if question.op in EXECUTOR:
                    failure = installed.get(model_key(question.args["model"])) if "model" in question.args else None
                    # the model spec names an installed graph: it travels as written, never materialised
                    args = {**materialize({k: v for k, v in question.args.items() if k != "model"}, setup.data_dir),
                            **({"model": question.args["model"]} if "model" in question.args else {})}
                    args, problem = _with_submitted_files(args, path)
                    answers[question.key] = failure or problem or runner.ask(question.op, args,
                                                                          timeout=getattr(limits, question.limit),
                                                                          label=question.label)
                else:
                    answers[question.key] = box.ask(question.op, materialize(question.args, setup.data_dir),
                                                 timeout=getattr(limits, question.limit), label=question.label)
        status = box.dead_reason or (runner.dead_reason if compiles else "") or "graded"
        peak_rss = box.peak_rss
        isolation = box.isolation_record()
    output = box.output.text()     # after the child has exited and flushed what it printed

    context = JudgeContext(test_labels=setup.test_labels, data_dir=setup.data_dir)
    results, check_seconds, check_details, by = [], {}, {}, {}
    passed_by_name: dict[str, bool] = {}
    for check, kind, questions in per_check:
        judge_started = time.monotonic()
        share = 0.0
        if not loaded.ok:
            passed, message = False, load_failure_message(loaded, load, submission.path.name)
        else:
            try:
                verdict = judge_within(assignment.limits.judge_seconds, kind.verdict, check, assignment, questions,
                                       [answers[p.key] for p in questions], context)
                passed, message, share = verdict.passed, verdict.message, verdict.share
                if verdict.details:
                    check_details[check.name] = verdict.details
            except JudgeTimeout as exc:
                passed, message = False, str(exc)
            except Exception as exc:  # a judge that breaks must never pass a check
                passed, message = False, f"the grader could not judge this check ({type(exc).__name__}: {exc})"
        passed, share, message = counted(check, passed, share, message, passed_by_name)
        passed_by_name[check.name] = passed
        seconds = sum(answers[p.key].seconds for p in questions if p.key in answers)
        seconds += time.monotonic() - judge_started
        check_seconds[check.name] = round(seconds, 3)
        by[check.name] = executed_by(questions)
        results.append(CheckResult(check.name, check.description, check.points, passed, message,
                                   check.visibility, seconds, share=share, extra_credit=check.extra_credit))

    cause = apply_root_cause(results, requires={check.name: check.requires for check in assignment.checks})
    if cause is not None:
        notes.insert(0, root_cause_note(cause))
    extra = _extra(setup, check_seconds)
    extra["peak_memory_mib"] = round(peak_rss / 2**20, 1)
    extra["check_details"] = check_details
    extra["executed_by"] = by
    extra.update(_feedback_data(per_check, answers, context))
    if cause is not None:
        extra["root_cause"] = cause
    extra["isolation"] = isolation
    extra["submitted_file"] = submission.path.name
    seconds = time.monotonic() - started
    if assignment.leaderboard:
        extra["leaderboard"] = leaderboard.entries(assignment.leaderboard, extra, seconds)
    return SubmissionResult(assignment.id, submission.name, str(path), results, status=status,
                            seconds=seconds, output=output, notes=notes, extra=extra)
