"""Trained-weights submissions (mnist_challenge) and an instructor-held test split (test_data).

The reference weights are trained once per session, by the reference's own
train.py run through `verify` with a quick recipe (one epoch on 12,800 images)
into a cache of the session's own, so a user's cache never holds them. The
fast config lowers the pass mark to what that recipe reaches.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import HAVE_MNIST, ROOT, write_fast_config
from synthetic_mnist import _idx

from autograder.commands import grade_submissions, verify_kit
from autograder.grading.datasets import training_data
from autograder.errors import DataError
from autograder.executor.measure import MeasureFailure
from autograder.executor.weights import _read_state_dict

QUICK_TRAIN = """import runpy, sys
sys.argv += ["--epochs", "1", "--train-images", "12800"]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.fixture(scope="session")
def challenge(tmp_path_factory, training_data):
    """The kit in a folder whose mnist_challenge reference trains quickly; verify run once."""
    kit = tmp_path_factory.mktemp("challenge")
    solution = kit / "solutions" / "mnist_challenge"
    solution.mkdir(parents=True)
    shutil.copyfile(ROOT / "solutions/mnist_challenge/model.py", solution / "model.py")
    (solution / "train.py").write_text(QUICK_TRAIN.format(script=str(ROOT / "solutions/mnist_challenge/train.py")))
    config = write_fast_config(kit, "mnist" if HAVE_MNIST else "synthetic")
    # the fast pass marks (75%) sit below every partial-credit start: points from 50% instead
    text = re.sub(r"partial_credit_from = [\d.]+", "partial_credit_from = 0.5", config.read_text())
    # the quick recipe reaches about 96%: its pass mark is the short recipe's 75% (the bonus keeps 99.3%)
    config.write_text(re.sub(r"min_test_accuracy = 0\.99\b", "min_test_accuracy = 0.75", text))
    saved = os.environ.get("AUTOGRADER_CACHE")
    os.environ["AUTOGRADER_CACHE"] = str(kit / "cache")
    try:
        outcomes = verify_kit(config_path=config, device="cpu", assignment_ids=["mnist_challenge"])
        (reference,) = (kit / "cache" / "references").glob("mnist_challenge-*")
        yield {"config": config, "outcomes": outcomes, "reference": reference / "mnist_challenge", "kit": kit}
    finally:
        if saved is None:
            os.environ.pop("AUTOGRADER_CACHE", None)
        else:
            os.environ["AUTOGRADER_CACHE"] = saved


def _messages(result) -> dict[str, str]:
    return {check.name: check.message for check in result.checks}


def test_verify_trains_the_reference_once_and_grades_it_full_marks(challenge):
    by_role = {o.role: o for o in challenge["outcomes"]}
    solution, stub = by_role["solution"].result, by_role["stub"].result
    assert by_role["solution"].ok, _messages(solution)
    assert solution.regular_score == solution.max_score == 11
    accuracy = solution.extra["check_details"]["accuracy"]
    assert accuracy["test_accuracy"] >= 0.75 and accuracy["parameters"] == 105_962
    assert solution.extra["executed_by"]["accuracy"] == "grader"
    assert by_role["stub"].ok and stub.score == 0
    assert "not implemented" in _messages(stub)["accuracy"].lower()
    # the cached weights are reused: no second training run
    weights = challenge["reference"].parent / "model.pt"
    stamp = weights.stat().st_mtime_ns
    again = verify_kit(config_path=challenge["config"], device="cpu", assignment_ids=["mnist_challenge"])
    assert all(o.ok for o in again) and weights.stat().st_mtime_ns == stamp


def test_the_audit_hands_in_each_mutant_with_the_reference_weights(challenge, tmp_path):
    """A trained-weights assignment's mutants are folders: the mutated model.py beside the reference's
    model.pt. A layer of another size no longer fits the weights; a .detach() still predicts as well
    but loses gradient_flow; another dropout rate changes nothing the grader asks in eval mode."""
    from autograder.audit.run import KILLED, SURVIVED
    from autograder.commands import audit_assignments

    (audit,) = audit_assignments(assignment_ids=["mnist_challenge"], out_dir=tmp_path / "audit",
                                 config_path=challenge["config"], device="cpu", jobs=1, max_mutants=3,
                                 operators=["layer_number_plus_one", "detach_inserted", "dropout_p_changed"])
    by_operator = {o.mutant.operator: o for o in audit.outcomes}
    assert set(by_operator) == {"layer_number_plus_one", "detach_inserted", "dropout_p_changed"}
    resized, detached, dropout = (by_operator[name] for name in
                                  ("layer_number_plus_one", "detach_inserted", "dropout_p_changed"))
    assert resized.status == KILLED and "accuracy" in resized.failed_checks
    assert detached.status == KILLED and detached.failed_checks == ["gradient_flow"], detached.failed_checks
    assert dropout.status == SURVIVED and "train-mode graph" in dropout.equivalence, dropout.equivalence
    reference_weights = (challenge["reference"] / "model.pt").read_bytes()
    for outcome in audit.outcomes:
        folder = tmp_path / "audit" / "mutants" / "mnist_challenge" / outcome.mutant.id
        assert (folder / "model.pt").read_bytes() == reference_weights
        assert (folder / "model.py").read_text(encoding="utf-8") == outcome.mutant.source


def _folder(root: Path, name: str, reference: Path, weights: bytes | None) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copyfile(reference / "model.py", folder / "model.py")
    if weights is not None:
        (folder / "model.pt").write_bytes(weights)
    return folder


def _saved(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


class _Touch:
    """Unpickling this would create the file ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_grade_takes_a_folder_and_refuses_hostile_weights_with_their_messages(challenge, tmp_path):
    reference = challenge["reference"]
    state = torch.load(reference / "model.pt", weights_only=True)
    marker = tmp_path / "unpickled"
    wrong_keys = dict(state)
    wrong_keys.pop("fc2.bias")
    wrong_keys["fc3.weight"] = torch.zeros(3, 3)
    misshaped = {**state, "fc1.weight": torch.zeros(10, 10)}
    nan = {**state, "conv1.bias": torch.full_like(state["conv1.bias"], float("nan"))}
    double = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}
    oversized = _folder(tmp_path, "oversized", reference, None)
    with open(oversized / "model.pt", "wb") as f:
        f.truncate(8 * 2**20 + 1)
    folders = [
        _folder(tmp_path, "good", reference, (reference / "model.pt").read_bytes()),
        _folder(tmp_path, "code", reference, _saved({"w": torch.zeros(1), "x": _Touch(str(marker))})),
        _folder(tmp_path, "wrong_keys", reference, _saved(wrong_keys)),
        _folder(tmp_path, "misshaped", reference, _saved(misshaped)),
        _folder(tmp_path, "nan", reference, _saved(nan)),
        _folder(tmp_path, "double", reference, _saved(double)),
        _folder(tmp_path, "checkpoint", reference, _saved({"epoch": 3, "model": state})),
        _folder(tmp_path, "missing", reference, None),
        oversized,
    ]
    results = {r.name: r for r in grade_submissions(assignment_id="mnist_challenge", submissions=folders,
                                                   out_dir=tmp_path / "out", config_path=challenge["config"],
                                                   device="cpu", jobs=1)}
    assert results["good"].regular_score == results["good"].max_score
    assert (tmp_path / "out" / "good" / "results.json").is_file()
    said = {name: _messages(result)["accuracy"] for name, result in results.items()}
    for name, result in results.items():
        if name != "good":
            assert not result.checks[-1].passed, name
    assert not marker.exists()
    assert "besides tensors and plain containers" in said["code"]
    assert "lacks 'fc2.bias'" in said["wrong_keys"] and "'fc3.weight'" in said["wrong_keys"]
    assert "'fc1.weight' is (10, 10), the model's (64, 1568)" in said["misshaped"]
    assert "'conv1.bias'" in said["nan"] and "NaN or infinite" in said["nan"]
    assert "is float64, the model's float32" in said["double"]
    assert "checkpoint holding 'model'" in said["checkpoint"]
    assert "no model.pt was handed in" in said["missing"]
    assert "over the 8 MiB allowed" in said["oversized"]
    # one hostile file never costs another check: the model itself is fine
    assert all(_messages(r)["output_shape"].startswith("forward()") or r.checks[0].passed for r in results.values())


def test_the_weights_reader_runs_no_code_and_says_what_it_found(tmp_path):
    """The executor's reader on its own, outside any sandbox: nothing but tensors is ever built."""
    marker = tmp_path / "unpickled"
    limit = 2**20
    with pytest.raises(MeasureFailure, match="besides tensors and plain containers"):
        _read_state_dict(_saved({"x": _Touch(str(marker))}), limit)
    raw = pickle.dumps({"x": _Touch(str(marker))})           # a plain pickle, not torch.save's archive
    with pytest.raises(MeasureFailure, match="not a file torch.save writes"):
        _read_state_dict(raw, limit)
    assert not marker.exists()
    with pytest.raises(MeasureFailure, match="holds a list, not a state dict"):
        _read_state_dict(_saved([torch.zeros(2)]), limit)
    # an archive that unpacks to more than the limit is refused before torch reads it
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/0", b"\0" * (4 * limit))
    with pytest.raises(MeasureFailure, match="unpacks to 4.0 MiB"):
        _read_state_dict(buffer.getvalue(), limit)
    assert _read_state_dict(_saved({"w": torch.ones(3)}), limit)["w"].tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- test_data: a held-out split of the course's own

def _write_split(folder: Path, images: torch.Tensor, labels: torch.Tensor) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx(images))
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(_idx(labels.to(torch.uint8)))
    return folder


def _public_test_split(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The data folder's own test images and labels, read from its files (raw or .gz)."""
    raw = data_dir / "MNIST" / "raw"
    out = []
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        data = (raw / name).read_bytes() if (raw / name).is_file() else gzip.open(raw / f"{name}.gz").read()
        ndim = data[3]
        shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
        out.append(torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape))
    return out[0], out[1].long()


def test_training_data_reads_the_held_split_instead_of_the_public_one(training_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    images, labels = _public_test_split(training_data)
    held = _write_split(tmp_path / "held", images[:300], (labels[:300] + 3) % 10)
    data = training_data_for(training_data, held)
    assert data.test_labels.tolist() == ((labels[:300] + 3) % 10).tolist()
    executor = torch.load(data.executor_file, weights_only=True)
    assert torch.equal(executor["test_images"], images[:300]) and "test_labels" not in executor
    public = training_data_for(training_data, None)
    assert len(public.test_labels) == len(labels) and public.executor_file != data.executor_file


def training_data_for(data_dir: Path, held: Path | None):
    return training_data("mnist", data_dir, allow_download=False, test_data=held)


def test_a_held_split_that_is_missing_or_wrong_is_named(training_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="does not exist"):
        training_data_for(training_data, tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "t10k-images-idx3-ubyte").write_bytes(_idx(torch.zeros(2, 28, 28, dtype=torch.uint8)))
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte"):
        training_data_for(training_data, partial)
    odd = _write_split(tmp_path / "odd", torch.zeros(2, 14, 14, dtype=torch.uint8), torch.zeros(2))
    with pytest.raises(DataError, match=r"expected \(N, 28, 28\)"):
        training_data_for(training_data, odd)


def test_weights_are_scored_against_the_held_labels(challenge, training_data, tmp_path):
    """The same weights pass on a held split with the true labels and fail when its labels are not the
    public ones: the parent scores against the folder's labels, wherever the images come from."""
    images, labels = _public_test_split(training_data)
    _write_split(tmp_path / "true", images[:500], labels[:500])
    _write_split(tmp_path / "shifted", images[:500], (labels[:500] + 1) % 10)
    text = challenge["config"].read_text()
    kits = {}
    for name in ("true", "shifted"):
        kit = tmp_path / f"kit_{name}"
        kit.mkdir()
        for sub in ("solutions", "assignments"):
            (kit / sub).symlink_to(challenge["kit"] / sub, target_is_directory=True)
        changed, count = re.subn(r"(\[assignments\.mnist_challenge\.training\][^\n]*\n)",
                                 rf'\1test_data = "../{name}"\n', text)
        assert count == 1
        (kit / "grading.toml").write_text(changed)
        kits[name] = kit / "grading.toml"
    scores = {}
    for name, config in kits.items():
        (result,) = grade_submissions(assignment_id="mnist_challenge", submissions=[challenge["reference"]],
                                      out_dir=tmp_path / f"out_{name}", config_path=config, device="cpu", jobs=1)
        scores[name] = result.extra["check_details"]["accuracy"]["test_accuracy"]
    assert scores["true"] >= 0.75
    assert scores["shifted"] < 0.3
