"""Which mutants are equivalent to the reference: measured, never guessed.

A mutant that computes exactly what the reference computes cannot lose points,
and counting it as a survivor would blame the checks for nothing. So before the
audit scores the checks, this module asks every question the assignment's checks
ask, of the reference and of each mutant, the way the grader's own processes
answer them, and compares the answers:

- every model and hand-written module or function the checks compile: the
  compiled op graphs node by node (op, arguments; source lines aside) in train
  and eval mode, the parameter count, every parameter, buffer and constant, and
  the outputs of the grader's own ``CompiledModel`` on fixed inputs in both
  modes (train mode with a fixed seed for dropout);
- every question the submission's process answers (a function called on the
  checks' arguments, a training function run on the checks' data, a Dataset
  indexed, a file read): the answer, value by value.

A mutant is equivalent when every answer equals the reference's exactly. The
checks that pose a fresh problem each run draw it from the file's bytes; here
both files get the reference's draw, so they answer the same problem. Values
that differ between two runs of the reference itself (the seconds a training
epoch took) are noise: they are found by answering every question twice for
the reference, and left out of the comparison.

The reference and the mutants are the kit's own files, so this runs them
outside the sandbox, in a process of its own (``python -m
autograder.audit.equivalence REQUEST RESULT``) with a time limit per mutant:
whatever a mutant does to torch's global state, or however long it loops, the
audit's grading is not touched. The result file gets one JSON line per file as
soon as it is measured.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

class TookTooLong(Exception):
    pass


def _alarm(signum, frame):
    raise TookTooLong()


# ----------------------------------------------------------------- answering the checks' questions

def questions(assignment, reference: Path, seed: int) -> list[tuple[str, str, Any]]:
    """(key, label, what to ask) for every question the checks ask: ("compile", question) for each model
    or function compiled for the grader, ("worker", question) for each question the submission's own
    process answers. The fresh problems are drawn from the reference's bytes."""
    from ..checks.instances import submission_draw
    from ..grading.plan import compile_plan, plan_questions
    from ..wire.operations import EXECUTOR

    _, _, ordered = plan_questions(assignment, submission_draw(seed, reference))
    asked = [(key, question.label, ("compile", question)) for key, question in compile_plan(assignment, ordered).items()]
    asked += [(question.key, question.label, ("worker", question)) for question in ordered if question.op not in EXECUTOR]
    return asked


def _plain_graph(graph: dict) -> dict:
    """A compiled graph without what does not change what it computes: the source line of each op, a
    torch.no_grad() block with no op inside (one around a line that only computes sizes), and the order
    of two ops in a row that commute (see ``_commuted``)."""
    from ..wire import graph_format as fmt

    nodes, first = graph["nodes"], len(graph["inputs"])
    empty = set()
    for i, (node, after) in enumerate(zip(nodes, nodes[1:])):
        if (node["op"] == fmt.GRAD_DISABLE and after["op"] == fmt.GRAD_RESTORE
                and after["args"] == [{fmt.REF: first + i}]):
            empty.update((i, i + 1))
    renumber, kept = {}, []
    for i, node in enumerate(nodes):
        if i not in empty:
            renumber[first + i] = first + len(kept)
            kept.append(node)

    def refs(value):
        if isinstance(value, list):
            return [refs(v) for v in value]
        if isinstance(value, dict) and set(value) == {fmt.REF}:
            return {fmt.REF: renumber.get(value[fmt.REF], value[fmt.REF])}
        if isinstance(value, dict):
            return {k: refs(v) for k, v in value.items()}
        return value

    outputs = refs(graph["outputs"])
    plain = [{"op": n["op"], "args": refs(n["args"]), "kwargs": refs(n["kwargs"])} for n in kept]
    return {"inputs": graph["inputs"], "outputs": outputs, "dynamic": graph["dynamic"], "batch": graph["batch"],
            "nodes": _commuted(plain, first, outputs)}


# Ops that give the same result in either order when one feeds the other, ranked for one canonical order:
# ReLU and max pooling (ReLU is monotone, so the largest value stays the largest); ReLU and dropout, and
# channel dropout and max pooling (dropout multiplies by 0 or 1/(1-p), never negative, and draws a mask of
# the same shape either way, so even train mode gives the same numbers). Elementwise dropout and pooling
# do not commute: the mask's shape changes.
_COMMUTING = {frozenset({"relu", "max_pool2d"}), frozenset({"relu", "dropout"}), frozenset({"relu", "dropout2d"}),
              frozenset({"dropout2d", "max_pool2d"})}
_RANK = {"relu": 0, "dropout": 1, "dropout2d": 1, "max_pool2d": 2}
_COMMUTING_OPS = {"aten.relu.default", "aten.dropout.default", "aten.feature_dropout.default",
                  "aten.max_pool2d.default"}


def _commuted(nodes: list[dict], first: int, outputs) -> list[dict]:
    """``nodes`` with every pair of commuting ops in a row (the second reading only the first, which
    nothing else reads) put in one order. The outputs are compared as well, so an order this gets wrong
    would still tell the graphs apart."""
    from ..wire import graph_format as fmt
    from ..wire.allowlist import short_name

    def readers(index: int) -> int:
        text = json.dumps([n["args"] for n in nodes] + [n["kwargs"] for n in nodes] + [outputs])
        return text.count(json.dumps({fmt.REF: first + index}))

    nodes = [dict(n) for n in nodes]
    changed = True
    while changed:
        changed = False
        for i in range(len(nodes) - 1):
            a, b = nodes[i], nodes[i + 1]
            if a["op"] not in _COMMUTING_OPS or b["op"] not in _COMMUTING_OPS:
                continue
            names = (short_name(a["op"]), short_name(b["op"]))
            if frozenset(names) not in _COMMUTING or _RANK[names[0]] <= _RANK[names[1]]:
                continue
            if not b["args"] or b["args"][0] != {fmt.REF: first + i} or readers(i) != 1 or not a["args"]:
                continue
            nodes[i] = {"op": b["op"], "args": [a["args"][0], *b["args"][1:]], "kwargs": b["kwargs"]}
            nodes[i + 1] = {"op": a["op"], "args": [{fmt.REF: first + i}, *a["args"][1:]], "kwargs": a["kwargs"]}
            changed = True
    return nodes


def _fixed_input(shape: list[int], seed: int):
    import torch

    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _compiled_answer(state, question, data_dir) -> dict:
    """The graphs, tensors and outputs of one model or function as the grader would see it."""
    import torch

    from ..checks.tensor_specs import materialize
    from ..executor.program import CompiledModel
    from ..child.answers import ANSWERS

    args = materialize(question.args, data_dir)
    torch.manual_seed(0)
    compiled = ANSWERS["compile_model"](state, **args)
    answer: dict[str, Any] = {
        "graphs": {mode: [_plain_graph(g) for g in graphs] for mode, graphs in compiled["graphs"].items()},
        "parameter count": sum(t.numel() for t in compiled["parameters"].values()),
        "parameters": list(compiled["parameters"].values()),
        "buffers": list(compiled["buffers"].values()),
        "constants": list(compiled["constants"].values()),
    }
    spec = args["model"]
    if "function" in spec:
        # a hand-written function: its value on the checks' own arguments
        answer["outputs"] = ANSWERS["call_function"](state, function=spec["function"], args=spec["args"],
                                                    kwargs=spec["kwargs"])["result"]
        return answer
    model = CompiledModel(compiled, "cpu")
    outputs = {}
    for batch in sorted(set(args["batch_sizes"]))[:3]:
        x = _fixed_input([batch, *args["input_shape"]], 1000 + batch)
        for mode in args["modes"]:
            model.train(mode == "train")
            torch.manual_seed(batch)
            outputs[f"{mode} mode, batch {batch}"] = model(x).detach().clone()
    answer["outputs"] = outputs
    return answer


def answer_all(path: Path, asked: list, seed: int, data_dir, module_name: str) -> dict:
    """Every question's answer for one file (an error is an answer too)."""
    from ..checks.tensor_specs import materialize
    from ..child.loader import load_definitions
    from ..child.answers import ANSWERS, ChildState
    from ..wire.answers import seed_everything

    answers: dict[str, Any] = {}
    try:
        module, _ = load_definitions(path, module_name)
    except BaseException as exc:  # noqa: BLE001 - a mutant that cannot load answers nothing
        return {"loading": {"error": f"{type(exc).__name__}: {exc}"}}
    state = ChildState(submission=path, device="cpu", seed=seed, data_file=None, module=module)
    for key, _, (kind, question) in asked:
        seed_everything(seed)
        try:
            if kind == "compile":
                answers[key] = _compiled_answer(state, question, data_dir)
            else:
                answers[key] = ANSWERS[question.op](state, **materialize(question.args, data_dir))
        except TookTooLong:
            raise
        except BaseException as exc:  # noqa: BLE001 - the mutant's error is its answer
            answers[key] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    sys.modules.pop(module_name, None)
    return answers


# ----------------------------------------------------------------- comparing answers

def differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """Every place where two answers differ, as a path like ``['results']['train loss'][0]``."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            yield path
        elif a.dtype != b.dtype or a.shape != b.shape:
            yield path
        elif not torch.equal(a, b):
            if not (a.is_floating_point() and torch.equal(torch.nan_to_num(a, nan=1.5), torch.nan_to_num(b, nan=1.5))
                    and torch.equal(a.isnan(), b.isnan())):
                yield path
    elif isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            yield path
        else:
            for key in a:
                yield from differences(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            yield path
        else:
            for index, (x, y) in enumerate(zip(a, b)):
                yield from differences(x, y, f"{path}[{index}]")
    elif isinstance(a, float) and isinstance(b, float):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            yield path
    elif type(a) is not type(b) or a != b:
        yield path


def _graph_difference(ref: dict, new: dict) -> str:
    """Where two lists of graphs part, in words: the first op that differs."""
    for mode in ref:
        if mode not in new:
            return f"no {mode}-mode graph"
        for one, other in zip(ref[mode], new[mode]):
            ops, new_ops = [n["op"] for n in one["nodes"]], [n["op"] for n in other["nodes"]]
            for index, (x, y) in enumerate(zip(ops, new_ops)):
                if x != y:
                    return f"{mode}-mode graph, op {index + 1}: {x} → {y}"
            if len(ops) != len(new_ops):
                return f"{mode}-mode graph has {len(new_ops)} ops, not {len(ops)}"
            for index, (x, y) in enumerate(zip(one["nodes"], other["nodes"])):
                if x != y:
                    return f"{mode}-mode graph, op {index + 1} ({x['op']}): other arguments"
            if one != other:
                return f"{mode}-mode graph: other inputs or outputs"
    return "other graphs"


def first_difference(asked: list, ref: dict, new: dict, noise: dict[str, set[str]]) -> str | None:
    """In words, the first answer of ``new`` that differs from ``ref`` (None: every answer is equal)."""
    if "loading" in new:
        return f"the file does not load: {new['loading']['error']}"
    for key, label, _ in asked:
        one, other = ref.get(key), new.get(key)
        if isinstance(other, dict) and "error" in other and not (isinstance(one, dict) and "error" in one):
            return f"{label}: {other['error']}"
        for path in differences(one, other):
            if any(path.startswith(n) for n in noise.get(key, ())):
                continue
            if path.startswith("['graphs']"):
                return f"{label}: {_graph_difference(one['graphs'], other['graphs'])}"
            if path.startswith("['parameter count']"):
                return f"{label}: {other['parameter count']:,} parameters, not {one['parameter count']:,}"
            return f"{label}: the answer differs at {path or 'its value'}"
    return None


# ----------------------------------------------------------------- the process

def measure(request: dict, emit) -> None:
    """Answer every question for the reference (twice) and each mutant; ``emit(line)`` each verdict."""
    import torch

    from ..checks import load_config
    from ..child.main import register_answers

    register_answers()        # every module of questions registers its handlers
    torch.set_num_threads(max(1, int(request.get("threads", 1))))
    config = load_config(request["config"])
    assignment = config.assignment(request["assignment"])
    seed, data_dir = int(request["seed"]), request.get("data_dir")
    reference = Path(request["reference"])
    asked = questions(assignment, reference, seed)
    limit = float(request.get("seconds_per_file", 120))
    signal.signal(signal.SIGALRM, _alarm)

    def timed(path: Path, name: str) -> dict:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return answer_all(path, asked, seed, data_dir, name)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    ref = timed(reference, "audit_reference")
    again = timed(reference, "audit_reference_again")
    if "loading" in ref:
        raise RuntimeError(f"the reference does not load: {ref['loading']['error']}")
    failed = [(label, ref[key]["error"]) for key, label, _ in asked
              if isinstance(ref.get(key), dict) and "error" in ref[key]]
    if failed:
        label, error = failed[0]
        raise RuntimeError(f"the reference fails {len(failed)} of the checks' questions, the first while {label}: {error}")
    noise = {key: set(differences(ref[key], again[key])) for key, _, _ in asked}
    emit({"reference": True, "questions": len(asked),
          "noise": sorted(f"{label}: {p}" for key, label, _ in asked for p in noise[key])})
    for index, (mutant_id, path) in enumerate(request["mutants"]):
        try:
            answers = timed(Path(path), f"audit_mutant_{index}")
            difference = first_difference(asked, ref, answers, noise)
        except TookTooLong:
            difference = f"answering the checks' questions took over {limit:g} s"
        emit({"id": mutant_id, "equivalent": difference is None, "difference": difference or ""})


def main(argv: list[str] | None = None) -> int:
    request_path, result_path = (argv or sys.argv[1:])[:2]
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    with open(result_path, "a", encoding="utf-8") as out:
        def emit(line: dict) -> None:
            out.write(json.dumps(line) + "\n")
            out.flush()
        try:
            with tempfile.TemporaryDirectory(prefix="audit-equivalence-") as work:
                os.chdir(work)              # questions that write files write them here
                measure(request, emit)
        except Exception as exc:  # noqa: BLE001 - said in the result, for the audit's report
            emit({"error": f"{type(exc).__name__}: {exc}"})
            return 1
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main())
