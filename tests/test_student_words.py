"""Messages in PyTorch's words and the root cause said once.

A forward() the tracer cannot follow fails with the error eager PyTorch gives at
a concrete batch (its words, the submission's line, sizes as numbers, never the
tracer's ``s77``); what the submission prints while it is compiled is labelled
as such, with concrete shapes; the layers it ran through before the error are
shown, marked as measured in its own process. The terminal says the root cause
once ("Start here") and lists every check its fix unlocks.
"""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from autograder.commands import grade_submissions
from autograder.reports.feedback_page import feedback_html
from autograder.reports.results_files import print_result
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.root_cause import apply_root_cause
from autograder.child.compile import compile_module

ROOT = Path(__file__).resolve().parents[1]
WORDS = Path(__file__).resolve().parent / "words"
FC1_LINE = 23          # the line of lenet5_flatten_400.py where 256 features reach Linear(400, 120)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"words_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def config_without_training(folder: Path) -> Path:
    text = (ROOT / "grading.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[assignments\.lenet5\.checks\.training\]\n(?:[^\[\n].*\n)*", "", text)
    assert "lenet5.checks.training]" not in text
    for sub in ("solutions", "assignments"):
        (folder / sub).symlink_to(ROOT / sub, target_is_directory=True)
    path = folder / "grading.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- in this process: the compile step

def test_a_failing_forward_is_reported_in_eager_pytorchs_words_with_the_layers_up_to_the_error(capsys):
    net = load(WORDS / "lenet5_flatten_400.py", "LeNet5")(10)
    with pytest.raises(RuntimeError) as caught:
        compile_module(net, [1, 28, 28], [4, 64], ["train", "eval"], "lenet5_flatten_400.py")
    exc = caught.value
    assert re.search(r"mat1 and mat2 shapes cannot be multiplied \(\d+x256 and 400x120\)", str(exc)), str(exc)
    assert not re.search(r"\bs\d+\b", str(exc))
    lines = [tb.tb_lineno for tb in _frames(exc.__traceback__)]
    assert FC1_LINE in lines
    rows = exc.measured_layers
    assert rows[0][0] == "conv1 (Conv2d)" and rows[0][1] == [exc.batch, 6, 24, 24] and rows[0][2] == 156
    assert ["flatten", [exc.batch, 256], None, False] in rows
    assert rows[-1][0] == "fc1 (Linear)" and rows[-1][3] is True
    printed = capsys.readouterr().out
    assert f"[printed while the grader compiled forward() in train mode with a batch of {exc.batch}]" in printed
    assert f"torch.Size([{exc.batch}, 6, 12, 12])" in printed and not re.search(r"\bs\d+\b", printed)


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_a_forward_that_compiles_prints_concrete_shapes_under_a_label(capsys):
    import torch.nn.functional as F
    from torch import nn

    class Printing(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            print("shape", x.shape, x.size(0))
            return F.log_softmax(self.fc(x), dim=1)

    compiled = compile_module(Printing(), [4], [1, 7], ["eval"], "printing.py")
    assert compiled["graphs"]["eval"][0]["dynamic"]
    printed = capsys.readouterr().out
    label = "[printed while the grader compiled forward() in eval mode with a batch of 2]"
    assert printed.startswith(label), printed
    assert "shape torch.Size([2, 4]) 2" in printed and not re.search(r"\bs\d+\b", printed)


# ----------------------------------------------------------------- root causes and requires

def check(name: str, passed: bool, message: str, points: float = 1.0) -> CheckResult:
    return CheckResult(name, "", points, passed, message)


def test_an_mlp_for_a_cnn_lists_the_check_that_waits_for_it_through_requires():
    shape = "forward() uses 0 convolution(s); the assignment asks for 2, then 2 fully connected layers"
    checks = [check("builds", True, "ok"), check("convolutional", False, shape),
              check("structure", False, shape, 2), check("dropout_active", False, "identical outputs"),
              check("training", False, "not counted: this check needs 'convolutional' to pass first, so that "
                                       "its points go to the architecture the assignment asks for (on its own: "
                                       "test accuracy 91.2%)", 6)]
    cause = apply_root_cause(checks, requires={"training": ("convolutional",)})
    assert cause["checks"] == ["convolutional", "structure", "training"]
    assert cause["waiting"] == ["training"] and cause["points"] == 9
    assert checks[4].message.startswith("not counted")       # its own words stay in results.json


def test_a_check_waiting_for_a_check_that_failed_for_another_reason_is_not_unlocked():
    checks = [check("convolutional", False, "no convolution"), check("structure", False, "no convolution"),
              check("other", False, "something else"),
              check("training", False, "not counted: this check needs 'other' to pass first (on its own: ok)")]
    cause = apply_root_cause(checks, requires={"training": ("other",)})
    assert cause["checks"] == ["convolutional", "structure"]


def test_the_terminal_says_the_root_cause_once_and_points_the_rows_at_it():
    message = ("RuntimeError while running forward() of LeNet5(10) on a batch of 2: mat1 and mat2 shapes cannot be "
               "multiplied (2x256 and 400x120) (lenet5.py, line 23, in forward)")
    checks = [check(name, False, message.replace("LeNet5(10)", "LeNet5(7)") if name == "n_classes" else message)
              for name in ("builds", "output_shape", "n_classes", "backward")]
    checks.append(check("training", False, "not counted: this check needs 'builds' to pass first (on its own: ok)"))
    cause = apply_root_cause(checks, requires={"training": ("builds",)})
    result = SubmissionResult("lenet5", "lenet5", "lenet5.py", checks, extra={"root_cause": cause})
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_result(result, console)
    text = console.file.getvalue()
    assert text.index("Start here") < text.index("builds")
    assert text.count("mat1 and mat2 shapes cannot be multiplied") == 1
    assert "Fixing it unlocks 5 checks (5 points): builds, output_shape, n_classes, backward, training" in text
    assert text.count("see Start here") == 5
    assert "lenet5: lenet5" not in text


# ----------------------------------------------------------------- end to end, in the sandbox

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("words")
    student = folder / "garciaal"
    student.mkdir()
    shutil.copy(WORDS / "lenet5_flatten_400.py", student / "lenet5.py")
    results = grade_submissions(assignment_id="lenet5", submissions=[student, WORDS / "lenet5_syntax.py"],
                                out_dir=folder / "out", config_path=config_without_training(folder),
                                device="cpu", jobs=1)
    return {r.name: r for r in results}, folder / "out"


def test_a_graded_compile_failure_reads_as_pytorch_at_a_concrete_batch(graded):
    result = graded[0]["garciaal"]
    cause = result.extra["root_cause"]
    assert re.search(r"running forward\(\) of LeNet5\(10\) on a batch of \d+: mat1 and mat2 shapes cannot be "
                     r"multiplied \(\d+x256 and 400x120\) \(lenet5\.py, line 23, in forward\)", cause["message"])
    assert "reduction dim" not in cause["message"] and not re.search(r"\bs\d+\b", cause["message"])
    assert "in_features" in cause["fix"]
    assert set(cause["checks"]) == {c.name for c in result.checks}
    assert "[printed while the grader compiled forward() in train mode with a batch of" in result.output
    assert not re.search(r"torch\.Size\(\[s\d+", result.output)
    measured = result.extra["measured_layers"]["layers"]
    assert measured[0]["op"] == "conv1 (Conv2d)" and measured[-1] == {"op": "fc1 (Linear)", "output_shape": None,
                                                                      "parameters": None, "failed": True}


def test_the_feedback_page_names_the_file_and_shows_the_layers_up_to_the_error(graded):
    results, out = graded[0], graded[1]
    page = (out / "garciaal" / "feedback.html").read_text(encoding="utf-8")
    assert "<h1>lenet5 · garciaal</h1>" in page
    assert "submitted file: <code>lenet5.py</code>" in page
    assert "measured in the submission's own process" in page and "the error happened here" in page
    assert "<code>conv1 (Conv2d)</code>" in page
    html = feedback_html(results["lenet5_syntax"])     # named after its file: the name is said once
    assert "<h1>lenet5</h1>" in html and "submitted file: <code>lenet5_syntax.py</code>" in html


def test_a_syntax_error_names_the_handed_in_file_and_its_line_once(graded):
    result = graded[0]["lenet5_syntax"]
    message = result.extra["root_cause"]["message"]
    assert message.startswith("lenet5_syntax.py has a syntax error at line 6: expected ':'"), message
    assert message.count("line 6") == 1 and "lenet5.py" not in message
    assert all(c.name in result.extra["root_cause"]["checks"] for c in result.checks)
