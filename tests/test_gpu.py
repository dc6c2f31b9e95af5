"""On a CUDA GPU: training checks run there, several submissions at once, with the CPU's verdicts.

Skipped on a machine without CUDA (every other test covers the CPU path).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from autograder.commands import grade_submissions

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def copies(assignment: str, file: str, count: int, where: Path) -> list[Path]:
    folders = []
    for i in range(count):
        folder = where / f"student{i}"
        folder.mkdir(parents=True)
        shutil.copyfile(ROOT / "solutions" / assignment / file, folder / file)
        folders.append(folder)
    return folders


@pytest.mark.parametrize(("assignment", "file"), [("lenet5", "lenet5.py"), ("task1_cnn", "task1_cnn.py")])
def test_references_earn_the_same_verdicts_on_the_gpu_as_on_the_cpu(tmp_path, fast_config, assignment, file):
    folders = copies(assignment, file, 4, tmp_path / "in")
    on_gpu = grade_submissions(assignment_id=assignment, submissions=folders, out_dir=tmp_path / "gpu",
                               config_path=fast_config, device="cuda", jobs=2)
    on_cpu, = grade_submissions(assignment_id=assignment, submissions=folders[:1], out_dir=tmp_path / "cpu",
                                config_path=fast_config, device="cpu")
    assert on_cpu.score == on_cpu.max_score
    for result in on_gpu:
        assert result.extra["device"] == "cuda"
        assert {c.name: c.status for c in result.checks} == {c.name: c.status for c in on_cpu.checks}
        assert result.score == on_cpu.score
