"""Early start: `grade` and `check` start the batch's zygotes before the parent imports torch and its
executor right after (processes/prestart.py), the batch takes exactly those processes, and none is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from autograder.processes import prestart, zygotes as warm_start
from autograder.processes.isolation import hidden_in_view
from autograder.processes.options import SandboxOptions

LENET = ROOT / "solutions" / "lenet5" / "lenet5.py"


def test_the_zygotes_start_before_torch_is_imported_and_the_executor_after(fast_config):
    script = f"""
import json, sys
from autograder.processes import prestart
handle = prestart.start_processes(assignment_id="lenet5", config_path={str(fast_config)!r}, data_dir=None,
                                  device="cpu", seed=None, jobs=None, submissions=["one.py"])
seen = {{"torch": "torch" in sys.modules, "zygotes": len(handle.zygotes),
        "executors_before_torch": len(handle.executors)}}
import torch
handle.start_deferred()
seen.update(executors=len(handle.executors),
            mode=handle.executors[0].isolation.mode if handle.executors else "")
print(json.dumps(seen))
handle.close()
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["torch"] is False
    assert seen["executors_before_torch"] == 0      # the zygote's import gets a core of its own
    assert seen["executors"] == 1                   # lenet5 trains: its executor starts too
    assert seen["zygotes"] == (1 if seen["mode"] == "bwrap" else 0)     # warm start needs bubblewrap


def test_a_batch_takes_the_processes_started_for_it_and_closes_the_rest(fast_config, tmp_path):
    from autograder.commands import grade_submissions

    handle = prestart.start_processes(assignment_id="lenet5", config_path=fast_config, data_dir=None,
                                      device="cpu", seed=None, jobs=None, submissions=[LENET])
    handle.start_deferred()
    zygotes, executors = list(handle.zygotes), list(handle.executors)
    assert len(executors) == 1
    results = grade_submissions(assignment_id="lenet5", submissions=[LENET], out_dir=tmp_path / "out",
                                config_path=fast_config, device="cpu", prestarted=handle)
    assert results[0].score == results[0].max_score, [(c.name, c.message) for c in results[0].checks]
    assert executors[0].data_file is not None, "the executor started ahead got the training data and trained"
    if zygotes:
        assert zygotes[0].ready, "the submission was forked from the zygote started ahead"
        assert "warm_start" in results[0].extra["isolation"]
    assert not handle.zygotes and not handle.executors, "the batch owns what was handed over"
    assert all(box.process.poll() is not None for box in [*executors, *(z.box for z in zygotes)])


def test_processes_started_for_a_batch_that_fails_are_closed(fast_config, tmp_path, monkeypatch):
    empty = tmp_path / "nodata"
    empty.mkdir()
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))     # nothing extracted before either
    from click.testing import CliRunner

    from autograder.cli import main

    started = []
    original = prestart.Prestarted.start_deferred

    def recording(handle):
        original(handle)
        started.extend(handle.executors)
    monkeypatch.setattr(prestart.Prestarted, "start_deferred", recording)
    done = CliRunner().invoke(main, ["grade", "lenet5", str(LENET), "--out", str(tmp_path / "out"),
                                     "--config", str(fast_config), "--data-dir", str(empty), "--device", "cpu"])
    assert done.exit_code != 0 and "t10k-images-idx3-ubyte" in done.output
    assert len(started) == 1, "the executor was started before the data turned out to be missing"
    assert started[0].process.poll() is not None


def test_a_zygote_serves_any_submission_folder_outside_every_sandbox_view(tmp_path):
    """Only hidden folders inside a folder every sandbox sees are part of a zygote's key."""
    outside = SandboxOptions(hidden=(str(tmp_path / "a"),))
    other = SandboxOptions(hidden=(str(tmp_path / "b"),))
    assert warm_start.key_of(outside) == warm_start.key_of(other)
    inside = SandboxOptions(hidden=("/usr/share/submissions",))
    assert warm_start.key_of(inside) != warm_start.key_of(outside)
    assert hidden_in_view(["/usr/share/submissions", str(tmp_path)]) == ("/usr/share/submissions",)
    assert hidden_in_view([Path(sys.prefix) / "submissions"]) == (str((Path(sys.prefix) / "submissions").resolve()),)
