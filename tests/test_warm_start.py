"""Warm start: each grading thread forks submissions' processes from one warm process, and nothing
of one submission reaches the next (files, processes, System V objects, POSIX message queues, keys,
modules, output); calls the system call filter refuses are named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.grading.batch import grading_setup
from autograder.checks import load_config
from autograder.grading.grade import grade_submission

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def grade_in_one_thread(paths: list[Path], **options):
    config = load_config(ROOT / "grading.toml")
    with grading_setup(config=config, assignment=config.assignment("lenet5"), data_dir=None, device="cpu",
                       seed=0, **options) as setup:
        results = [grade_submission(setup, path) for path in paths]
        return results, setup.children


def test_nothing_of_one_submission_reaches_the_next():
    (leaver, looker), children = grade_in_one_thread([HERE / "warm" / "leaves_traces.py",
                                                      HERE / "warm" / "looks_for_traces.py"])
    if leaver.extra["isolation"].get("sandbox") != "bwrap":
        pytest.skip("warm start needs bubblewrap, which cannot run here")
    assert children.started == 1, "both submissions were forked from the same warm process"
    assert "warm_start" in looker.extra["isolation"]
    assert "LEAVER WAS HERE" in leaver.output
    assert "LOOKER FOUND []" in looker.output, looker.output
    assert "LEAVER" not in looker.output           # each submission's output is its own


def test_a_warm_start_grades_as_a_cold_start_does():
    files = [ROOT / "solutions" / "conv_arithmetic" / "conv_arithmetic.py"]
    config = load_config(ROOT / "grading.toml")
    assignment = config.assignment("conv_arithmetic")
    verdicts = {}
    for warm in (True, False):
        with grading_setup(config=config, assignment=assignment, data_dir=None, device="cpu", seed=0,
                           warm=warm) as setup:
            results = [grade_submission(setup, path) for path in files * 2]
        verdicts[warm] = [[(c.name, c.passed, c.message) for c in r.checks] for r in results]
    assert verdicts[True] == verdicts[False]
    assert all(passed for result in verdicts[True] for _, passed, _ in result)


def test_the_zygote_preloads_what_the_reference_solution_imports(tmp_path):
    from autograder.processes.zygotes import modules_to_preload

    solution = tmp_path / "solution.py"
    solution.write_text("from __future__ import annotations\nimport os, torch.nn as nn\n"
                        "from torchvision import datasets\nfrom . import helper\n"
                        "def f():\n    import scipy\n", encoding="utf-8")
    assert modules_to_preload(solution) == ("os", "torch.nn", "torchvision")
    assert modules_to_preload(tmp_path / "missing.py") == ()


def test_the_zygotes_own_memory_leaves_each_child_its_whole_limit():
    """The zygote is charged to the cgroup its children share; once it is ready the cgroup holds
    room for it on top of the limit, so the limit a report names is the room a child has."""
    from autograder.processes.options import SandboxOptions
    from autograder.processes.zygotes import Zygote, ZygoteFailed

    try:
        zygote = Zygote(SandboxOptions(memory_gib=1.0, preload=("torch",), trace_ahead=False))
    except ZygoteFailed:
        pytest.skip("warm start needs bubblewrap, which cannot run here")
    try:
        zygote.wait_ready()
        isolation = zygote.box.isolation
        groups = isolation.cgroups
        if groups.memory_group is None:
            pytest.skip(f"no memory cgroup here ({groups.memory_reason})")
        held = isolation.memory_bytes()
        name = "memory.limit_in_bytes" if groups.memory_version == "v1" else "memory.max"
        limit = int((groups.memory_group / name).read_text())
        assert held > 50 * 2**20, "a zygote that imported torch holds some memory"
        assert limit - held >= 2**30, (limit, held)
        assert limit - held <= 1.2 * 2**30, "the cgroup still stops what outruns the poll"
    finally:
        zygote.close()


# ---------------------------------------------------------------- queues, keys and refused calls

HOSTILE = HERE / "hostile"
LEAVER, LOOKER, FORBIDDEN = (HOSTILE / f"{name}.py" for name in
                             ("keys_and_queues", "looks_for_keys_and_queues", "forbidden_call"))
REFERENCE = ROOT / "solutions" / "lenet5" / "lenet5.py"


def grade_batch(config: Path, out: Path, files: list[Path], jobs: int):
    from autograder.commands import grade_submissions

    results = grade_submissions(assignment_id="lenet5", submissions=files, out_dir=out, config_path=config,
                                device="cpu", jobs=jobs)
    if results[0].extra["isolation"].get("sandbox") != "bwrap":
        pytest.skip("warm start needs bubblewrap, which cannot run here")
    return results


def looked(result) -> tuple[str, str]:
    """(the looker's folder in its warm process, what it found), from its output."""
    match = re.search(r"LOOKER CHILD (\S+) FOUND (\[.*\])", result.output)
    assert match, result.output
    return match.group(1), match.group(2)


def assert_full_marks(result) -> None:
    assert result.score == result.max_score, [(c.name, c.message) for c in result.checks if not c.passed]


@pytest.mark.parametrize("jobs", [1, 2])
def test_refused_calls_are_named_and_nothing_reaches_the_next_child(fast_config, tmp_path, jobs):
    """With the filter: the queue and the key are refused (by name through ctypes, with EPERM from the
    kernel otherwise), a call left uncaught is named in the report, and the reference graded after
    them in the same warm processes keeps full marks."""
    files = [LEAVER] * jobs + [LOOKER] * jobs + [FORBIDDEN, REFERENCE]
    results = grade_batch(fast_config, tmp_path / "out", files, jobs)
    record = results[0].extra["isolation"]
    if not record["seccomp"].startswith("on"):
        pytest.skip(f"no system call filter here: {record['seccomp']}")
    for name in ("keyctl", "add_key", "mq_open", "ptrace", "unshare", "setns", "bpf", "perf_event_open"):
        assert name in record["seccomp"]
    for leaver in results[:jobs]:
        assert "warm_start" in leaver.extra["isolation"]
        assert "QUEUE refused: the submission tried a forbidden system call (mq_open)" in leaver.output
        assert "KEY refused: the submission tried a forbidden system call (add_key)" in leaver.output
        assert "RAW mq_open=EPERM add_key=EPERM" in leaver.output, leaver.output
    for looker in results[jobs:2 * jobs]:
        folder, found = looked(looker)
        assert folder != "submission-1", "a leaver was forked before it from the same warm process"
        assert found == "[]"
    forbidden = {check.name: check for check in results[-2].checks}
    assert not forbidden["builds"].passed
    assert "forbidden system call (keyctl)" in forbidden["builds"].message, forbidden["builds"].message
    assert "forbidden_call.py, line" in forbidden["builds"].message
    assert_full_marks(results[-1])
    assert "warm_start" in results[-1].extra["isolation"]


def test_without_the_filter_each_child_still_has_its_own_queues_and_keys(fast_config, tmp_path, monkeypatch):
    """A machine without libseccomp: the key is made (a queue cannot be: no user is mapped into the child's
    own user namespace), yet the next child of the same warm process, and the other thread's, finds
    neither, in its keyrings or in /proc/keys; the record says why there is no filter."""
    from autograder.processes.isolation import syscall_filter

    monkeypatch.setattr(syscall_filter, "programs", lambda: (None, "libseccomp is switched off for this test"))
    files = [LEAVER, LEAVER, LOOKER, LOOKER, REFERENCE]
    results = grade_batch(fast_config, tmp_path / "out", files, jobs=2)
    record = results[0].extra["isolation"]
    assert record["seccomp"] == "no: libseccomp is switched off for this test"
    assert "namespace of its own" in record["keyring"] and "shared" not in record["keyring"], record["keyring"]
    for leaver in results[:2]:
        assert "KEY made" in leaver.output and "RAW mq_open=EOVERFLOW add_key=made" in leaver.output, leaver.output
        assert "refused" not in leaver.output
    for looker in results[2:4]:
        folder, found = looked(looker)
        assert folder != "submission-1"
        assert found == "[]"
    assert_full_marks(results[-1])
