"""What to ask of one submission: each check's questions, the unique questions in asking order,
the load question, and one compile question per model the grader's executor must run.

A question whose op is in ``wire/operations.py``'s ``EXECUTOR`` table is answered by the
grader's own executor from the compiled graph; every other question by the submission's child.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..checks import KINDS, Question
from ..checks.base import LOAD, STEP, TRAIN
from ..settings.model import Assignment, Kit
from ..wire.answers import model_key
from ..wire.operations import EXECUTOR

# Batch size at which a model is traced when its questions do not say otherwise.
COMPILE_BATCHES = (4,)

# Questions about a network the grader trains or scores as a whole (not a hand-written layer or
# function): its graphs are held to being one network that learns (executor/one_network.py).
NETWORK_QUESTIONS = {"build", "forward", "backward", "train", "overfit_batch", "train_regression",
                     "evaluate_weights"}


@dataclass
class Plan:
    """Everything one submission is asked, planned before any process starts."""

    load: Question
    per_check: list[tuple]               # (check, kind, its questions) in the order of grading.toml
    ordered: list[Question]              # unique questions, quick ones first
    compiles: dict[str, Question]        # model key -> its compile question
    networks: set[str]                   # model keys held to being one network that learns


def plan_questions(assignment: Assignment, draw: int | None = None) -> tuple[Question, list[tuple], list[Question]]:
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
    ordered = sorted(unique.values(), key=lambda q: q.limit == TRAIN)
    load = Question("load", {"names": sorted(names)}, f"loading {assignment.file}", limit=LOAD)
    return load, per_check, ordered


def plan_submission(assignment: Assignment, draw: int | None, file_name: str) -> Plan:
    """The whole plan for one handed-in file (``file_name`` as handed in, for the load question's words)."""
    load, per_check, ordered = plan_questions(assignment, draw)
    load = dataclasses.replace(load, label=f"loading {file_name}")
    return Plan(load, per_check, ordered, compile_plan(assignment, ordered), network_keys(ordered))


def compile_plan(assignment: Assignment, questions: list[Question]) -> dict[str, Question]:
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
        for shape in input_shapes(question):
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


def input_shapes(question: Question) -> list[list[int]]:
    """Shapes (batch first) of the inputs a question will feed its model."""
    args = question.args
    specs = ([args.get(name) for name in ("input", "weights", "images", "x_train", "x_test")]
             + [step.get("input") for step in args.get("steps", [])])
    # every tensor spec carries its shape (tensor_specs.py)
    shapes = [spec["shape"] for spec in specs if isinstance(spec, dict) and isinstance(spec.get("shape"), list)]
    if isinstance(args.get("shape"), list):
        shapes.append(args["shape"])
    return shapes


def network_keys(questions: list[Question]) -> set[str]:
    return {model_key(q.args["model"]) for q in questions
            if q.op in NETWORK_QUESTIONS and "model" in q.args and "function" not in q.args["model"]}


def executed_by(questions: list[Question]) -> str:
    """'grader' when the grader's executor computed every fact a check judges, else 'submission'."""
    return "grader" if questions and all(q.op in EXECUTOR for q in questions) else "submission"


def install_rules(assignment: Assignment, kit: Kit, question: Question, network: bool) -> dict:
    """What the executor holds a compiled model to (executor/program.py's GraphLimits)."""
    limits = assignment.limits
    rules = {"max_constant_elements": kit.max_constant_elements}
    if network:
        rules.update(network=True, max_carried_values=limits.max_carried_values,
                     max_graph_nodes=limits.max_graph_nodes, allow_buffers=limits.allow_buffers,
                     input_shape=list(question.args["input_shape"]), batch_sizes=list(question.args["batch_sizes"]))
    return rules

