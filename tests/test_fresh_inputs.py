"""A by-hand function judged against a torch reference gets random inputs drawn afresh each run
(the grading seed mixed with the submission's bytes), so an output recorded for grading.toml's
own seeds is no answer.
"""

from __future__ import annotations

from pathlib import Path

import torch.nn.functional as F

from autograder.checks.tensor_specs import materialize, randn
from autograder.commands import grade_submissions

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "solutions" / "conv_arithmetic" / "conv_arithmetic.py"


def recorded_answer() -> str:
    """conv2d replaced by the output F.conv2d gives on grading.toml's own seeds (53 and 54)."""
    x = materialize(randn([2, 3, 8, 8], 53))
    w = materialize(randn([4, 3, 3, 3], 54))
    recorded = F.conv2d(x, w).tolist()
    return (f"\n\n_RECORDED = torch.tensor({recorded!r})\n\n\n"
            "def conv2d(x, weight, stride=1, padding=0):\n"
            "    if stride == 1 and padding == 0 and tuple(x.shape) == (2, 3, 8, 8):\n"
            "        return _RECORDED + x.sum() * 0\n"
            "    return _conv2d(x, weight, stride, padding)\n")


def test_a_recorded_output_fails_and_the_reference_graded_after_it_passes(tmp_path):
    source = REFERENCE.read_text(encoding="utf-8").replace("\ndef conv2d(", "\ndef _conv2d(", 1)
    replay = tmp_path / "replay" / REFERENCE.name
    replay.parent.mkdir()
    replay.write_text(source + recorded_answer(), encoding="utf-8")
    results = grade_submissions(assignment_id="conv_arithmetic", submissions=[replay.parent, REFERENCE],
                                out_dir=tmp_path / "out", config_path=ROOT / "grading.toml", jobs=1)
    replayed, reference = results
    failed = {c.name for c in replayed.checks if not c.passed}
    assert failed == {"conv2d_matches_torch"}, {c.name: c.message for c in replayed.checks if not c.passed}
    assert reference.score == reference.max_score, {c.name: c.message for c in reference.checks if not c.passed}
