"""What counts as a handed-in file: never a link, never a special file, never followed elsewhere."""

from __future__ import annotations

import os

import pytest

from autograder.intake.submission import find_submission

from conftest import ROOT

SOLUTION = ROOT / "solutions" / "task1_cnn" / "task1_cnn.py"


def test_a_file_or_a_folder_holding_it(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "task1_cnn.py").write_text("x = 1\n")
    found = find_submission(tmp_path / "alice", "task1_cnn.py")
    assert found.path == tmp_path / "alice" / "task1_cnn.py" and found.name == "alice" and not found.problem
    assert find_submission(tmp_path / "alice" / "task1_cnn.py", "task1_cnn.py").name == "task1_cnn"


def test_a_linked_file_in_a_folder_is_refused(tmp_path):
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "task1_cnn.py").symlink_to(SOLUTION)
    found = find_submission(folder, "task1_cnn.py")
    assert found.path is None
    assert found.problem == "task1_cnn.py is a symbolic link; hand in the file itself"


def test_a_linked_file_given_directly_or_found_by_suffix_is_refused(tmp_path):
    link = tmp_path / "mallory.py"
    link.symlink_to(SOLUTION)
    assert "symbolic link" in find_submission(link, "task1_cnn.py").problem
    folder = tmp_path / "eve"
    folder.mkdir()
    (folder / "my_answer.py").symlink_to(SOLUTION)            # the only candidate, under another name
    assert "symbolic link" in find_submission(folder, "task1_cnn.py").problem
    dangling = tmp_path / "trent"
    dangling.mkdir()
    (dangling / "task1_cnn.py").symlink_to(tmp_path / "nowhere.py")
    assert "symbolic link" in find_submission(dangling, "task1_cnn.py").problem


def test_special_files_are_refused(tmp_path):
    folder = tmp_path / "oscar"
    folder.mkdir()
    os.mkfifo(folder / "task1_cnn.py")                   # reading it would block the grader
    found = find_submission(folder, "task1_cnn.py")
    assert found.path is None and "not a regular file" in found.problem


def test_an_oversized_file_is_refused(tmp_path, monkeypatch):
    from autograder.intake import submission
    monkeypatch.setattr(submission, "MAX_SUBMISSION_BYTES", 100)
    path = tmp_path / "task1_cnn.py"
    path.write_text("#" * 200)
    assert "over the 0 MiB" in find_submission(path, "task1_cnn.py").problem


@pytest.mark.parametrize("name", ["notes.txt", "model.pt"])
def test_other_files_are_not_python(tmp_path, name):
    path = tmp_path / name
    path.write_text("x")
    assert "not a Python file" in find_submission(path, "task1_cnn.py").problem
