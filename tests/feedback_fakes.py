"""Results built by hand for the page tests: the shapes the grader records, with made-up numbers."""

from __future__ import annotations

import math

from autograder.grading.results import CheckResult, SubmissionResult

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"
HOSTILE_NAME = "<script>alert('x')<\\script> & \"quoted\" #?%"     # a submission name cannot hold '/'

LENET_LAYERS = [
    {"op": "conv2d", "output_shape": [-1, 6, 28, 28], "parameters": 156},
    {"op": "tanh", "output_shape": [-1, 6, 28, 28], "parameters": 0},
    {"op": "avg_pool2d", "output_shape": [-1, 6, 14, 14], "parameters": 0},
    {"op": "conv2d", "output_shape": [-1, 16, 10, 10], "parameters": 2416},
    {"op": "tanh", "output_shape": [-1, 16, 10, 10], "parameters": 0},
    {"op": "avg_pool2d", "output_shape": [-1, 16, 5, 5], "parameters": 0},
    {"op": "conv2d", "output_shape": [-1, 120, 1, 1], "parameters": 48120},
    {"op": "tanh", "output_shape": [-1, 120, 1, 1], "parameters": 0},
    {"op": "flatten", "output_shape": [-1, 120], "parameters": 0},
    {"op": "linear", "output_shape": [-1, 84], "parameters": 10164},
    {"op": "tanh", "output_shape": [-1, 84], "parameters": 0},
    {"op": "linear", "output_shape": [-1, 10], "parameters": 850},
]


def history(steps: int, every: int = 100, final_accuracy: float = 0.97, scale: float = 400.0) -> list:
    return [[s, final_accuracy * (1 - math.exp(-s / scale)) + 0.1 * math.exp(-s / scale),
             2.3 * math.exp(-s / (0.8 * scale)) + 0.08] for s in range(every, steps + 1, every)]


def confusion(correct: int = 960, spread: int = 40) -> list[list[int]]:
    return [[correct if i == j else (i * 7 + j * 3) % (spread // 4 + 1) for j in range(10)] for i in range(10)]


def checks(passing: dict[str, bool], messages: dict[str, str] | None = None) -> list[CheckResult]:
    messages = messages or {}
    points = {"builds": 1, "output_shape": 2, "parameter_count": 3, "structure": 3, "gradient_flow": 2,
              "training": 6}
    return [CheckResult(name, f"what {name} verifies", points[name], ok,
                        messages.get(name, "ok" if ok else f"{name} failed"))
            for name, ok in passing.items()]


def full_marks(name: str = "alice") -> SubmissionResult:
    names = ["builds", "output_shape", "parameter_count", "structure", "gradient_flow", "training"]
    return SubmissionResult(
        "lenet5", name, f"/in/{name}/lenet5.py", checks({n: True for n in names}), seconds=21.4,
        output="Train Epoch: 1 [0/60000]\tLoss: 2.302\n",
        extra={"layers": LENET_LAYERS,
               "training": {"history": history(900, final_accuracy=0.985, scale=200),
                            "stop_at_validation_accuracy": 0.96,
                            "min_test_accuracy": 0.95, "steps": 900, "test_accuracy": 0.9653,
                            "confusion_matrix": confusion()}})


def broken_with_root_cause(name: str = "bob") -> SubmissionResult:
    result = SubmissionResult(
        "lenet5", name, f"/in/{name}/lenet5.py",
        checks({"builds": True, "output_shape": False, "parameter_count": False, "structure": True,
                "gradient_flow": True, "training": False},
               {"output_shape": "forward() returned shape (64, 120); expected (64, 10): check the out_features "
                                 "of your last Linear",
                "parameter_count": "61,706 parameters expected, found 71,030",
                "training": "test accuracy 11.35% < 95% (after 3000 steps, validation 11.2%, 40.1 s)"}),
        seconds=48.0,
        extra={"root_cause": {"message": "The last Linear layer has 120 outputs instead of 10, so the network "
                                         "predicts 120 classes.",
                              "checks": ["output_shape", "parameter_count", "training"]},
               "layers": LENET_LAYERS[:-1] + [{"op": "linear", "output_shape": [-1, 120], "parameters": 10200}],
               "training": {"history": history(3000, final_accuracy=0.112, scale=2000),
                            "stop_at_validation_accuracy": 0.96, "min_test_accuracy": 0.95, "steps": 3000,
                            "test_accuracy": 0.1135, "confusion_matrix": confusion(100, 400)}})
    return result


def crashed(name: str = "carol") -> SubmissionResult:
    reason = "timed out after 60 s while building Net()"
    result = SubmissionResult("lenet5", name, f"/in/{name}.py",
                              checks({"builds": False, "output_shape": False, "training": False},
                                     {n: reason for n in ("builds", "output_shape", "training")}),
                              status=reason, seconds=61.2, output="starting\n" * 3)
    return result


def hostile(name: str = HOSTILE_NAME) -> SubmissionResult:
    """Every string a submission can influence carries markup; every number is odd."""
    return SubmissionResult(
        "lenet5", name, f"/in/{HOSTILE}.py",
        [CheckResult(HOSTILE, HOSTILE, 2, False, HOSTILE + "\n</td></table>"),
         CheckResult("builds", "", 1, True, "ok")],
        status="graded", seconds=float("nan"), output=(HOSTILE + "</pre>\n") * 5000, notes=[HOSTILE],
        extra={"root_cause": {"message": HOSTILE, "checks": [HOSTILE, 7, None]},
               "layers": [{"op": HOSTILE, "output_shape": [HOSTILE, 1e308, -1], "parameters": "many"},
                          "not a layer", {"op": None}],
               "training": {"history": [[100, 0.5, float("nan")], [200, float("inf"), 1e308], ["x", 1, 2],
                                        [300, 0.6]],
                            "stop_at_validation_accuracy": 5.0, "min_test_accuracy": True, "steps": -1,
                            "test_accuracy": float("nan"), "confusion_matrix": [[1, 2], [3]]},
               "executed_by": {HOSTILE: HOSTILE}})


def odd_extras() -> list[dict]:
    """Values of ``extra`` a page must survive without crashing."""
    return [{}, {"layers": None, "training": None, "root_cause": None},
            {"layers": "conv", "training": [1, 2], "root_cause": "it broke"},
            {"layers": [{}], "training": {"history": "x"}, "root_cause": {"message": ""}},
            {"layers": [[1, 2]], "training": {"history": [[1e400, -1e400, 0]], "confusion_matrix": [[-1]]}},
            {"training": {"confusion_matrix": [[10 ** 30] * 3] * 3, "history": [[0, 0.5, 1.0]] * 20000}}]
