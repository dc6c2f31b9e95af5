"""Warm start: each grading thread forks submissions' processes from one warm process, and nothing
of one submission reaches the next (files, processes, System V objects, modules, output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.batch import grading_setup
from autograder.config import load_config
from autograder.runner import grade_submission

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
    from autograder.warm_start import modules_to_preload

    solution = tmp_path / "solution.py"
    solution.write_text("from __future__ import annotations\nimport os, torch.nn as nn\n"
                        "from torchvision import datasets\nfrom . import helper\n"
                        "def f():\n    import scipy\n", encoding="utf-8")
    assert modules_to_preload(solution) == ("os", "torch.nn", "torchvision")
    assert modules_to_preload(tmp_path / "missing.py") == ()


def test_the_zygotes_own_memory_leaves_each_child_its_whole_limit():
    """The zygote is charged to the cgroup its children share; once it is ready the cgroup holds
    room for it on top of the limit, so the limit a report names is the room a child has."""
    from autograder.sandbox import SandboxOptions
    from autograder.warm_start import Zygote, ZygoteFailed

    try:
        zygote = Zygote(SandboxOptions(memory_gib=1.0, preload=("torch",), trace_ahead=False))
    except ZygoteFailed:
        pytest.skip("warm start needs bubblewrap, which cannot run here")
    try:
        zygote.wait_ready()
        isolation = zygote.box.isolation
        if isolation.cgroup is None:
            pytest.skip(f"no memory cgroup here ({isolation.memory_reason})")
        held = isolation.memory_bytes()
        name = "memory.limit_in_bytes" if isolation.cgroup_version == "v1" else "memory.max"
        limit = int((isolation.cgroup / name).read_text())
        assert held > 50 * 2**20, "a zygote that imported torch holds some memory"
        assert limit - held >= 2**30, (limit, held)
        assert limit - held <= 1.2 * 2**30, "the cgroup still stops what outruns the poll"
    finally:
        zygote.close()
