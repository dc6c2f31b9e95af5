"""Bulk downloads: each platform's zip layout becomes one folder per student; hostile zips are refused."""

from __future__ import annotations

import csv
import json
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.bulk_download import BulkDownloadError, BulkDownloads, folder_name
from autograder.commands import grade_submissions

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
ASSIGNMENT = "tensors_autograd"          # grades without data, in a few seconds
SOLUTION = (ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.py").read_text(encoding="utf-8")
STUB = (ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.py").read_text(encoding="utf-8")

GRADESCOPE_METADATA = """\
submission_101:
  :submitters:
  - :name: Jane Doe
    :sid: '1001'
    :email: jane@example.edu
  :created_at: 2024-03-01 10:00:00.000000000 -08:00
  :score: 0.0
  :status: processed
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    score: 0.0
submission_102:
  :submitters:
  - :name: Ann Lee
    :sid: '1002'
  - :name: Bo Chen
    :sid: '1003'
  :created_at: 2024-03-01 11:00:00.000000000 -08:00
"""


def make_zip(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return path


def canvas_zip(path: Path) -> Path:
    return make_zip(path, {f"doejane_1234_5678_{ASSIGNMENT}.py": SOLUTION,
                           f"smithjohn_LATE_2345_6789_{ASSIGNMENT}-1.py": STUB})


def moodle_zip(path: Path) -> Path:
    return make_zip(path, {f"Jane Doe_101_assignsubmission_file_/{ASSIGNMENT}.py": SOLUTION,
                           "Jane Doe_101_assignsubmission_onlinetext_/onlinetext.html": "<p>see file</p>",
                           f"Ömer Şahin_102_assignsubmission_file_{ASSIGNMENT}.py": STUB})


def gradescope_zip(path: Path) -> Path:
    return make_zip(path, {"assignment_77_export/submission_metadata.yml": GRADESCOPE_METADATA,
                           f"assignment_77_export/submission_101/{ASSIGNMENT}.py": SOLUTION,
                           f"assignment_77_export/submission_102/{ASSIGNMENT}.py": STUB})


def unpacked(zip_path: Path, **limits) -> tuple[BulkDownloads, dict[str, list[str]]]:
    """Expand one zip; each student folder's name and the files in it."""
    bulk = BulkDownloads(max_mib=limits.get("max_mib", 64), max_files=limits.get("max_files", 1000),
                         expected_file=f"{ASSIGNMENT}.py")
    folders = bulk.expand([zip_path])
    return bulk, {Path(f).name: sorted(p.relative_to(f).as_posix() for p in Path(f).rglob("*") if p.is_file())
                  for f in folders}


@pytest.mark.parametrize("make, expected", [
    (canvas_zip, {"doejane": [f"{ASSIGNMENT}.py"], "smithjohn": [f"{ASSIGNMENT}.py"]}),
    (moodle_zip, {"Jane Doe": ["onlinetext.html", f"{ASSIGNMENT}.py"], "Ömer Şahin": [f"{ASSIGNMENT}.py"]}),
    (gradescope_zip, {"Jane Doe": [f"{ASSIGNMENT}.py"], "Ann Lee, Bo Chen": [f"{ASSIGNMENT}.py"]}),
], ids=["canvas", "moodle", "gradescope"])
def test_each_platform_layout_gives_one_folder_per_student(tmp_path, make, expected):
    bulk, folders = unpacked(make(tmp_path / "download.zip"))
    assert folders == expected
    assert bulk.refused == []
    temporary = [Path(f.name) for f in bulk.folders]
    bulk.cleanup()
    assert not any(folder.exists() for folder in temporary)


def test_plain_files_and_folders_and_a_wrapping_folder(tmp_path):
    _, folders = unpacked(make_zip(tmp_path / "a.zip", {
        "class/alice.py": SOLUTION, f"class/bob/{ASSIGNMENT}.py": STUB, "class/bob/notes.txt": "hi",
        "__MACOSX/class/._alice.py": "junk", "class/.DS_Store": "junk"}))
    assert folders == {"alice": ["alice.py"], "bob": ["notes.txt", f"{ASSIGNMENT}.py"]}
    # A student's own folder is not looked through.
    _, folders = unpacked(make_zip(tmp_path / "b.zip", {f"carol/{ASSIGNMENT}.py": SOLUTION, "carol/util.py": ""}))
    assert folders == {"carol": [f"{ASSIGNMENT}.py", "util.py"]}
    _, folders = unpacked(make_zip(tmp_path / "c.zip", {"dave/mine.py": SOLUTION}))
    assert folders == {"dave": ["mine.py"]}


def test_same_names_stay_apart_and_odd_names_become_folder_names(tmp_path):
    _, folders = unpacked(make_zip(tmp_path / "a.zip", {
        f"doejane_1_2_{ASSIGNMENT}.py": SOLUTION, f"doejane_3_4_{ASSIGNMENT}.py": STUB}))
    assert sorted(folders) == ["doejane", "doejane-2"]
    assert folder_name("../..") == "student" and folder_name("a/b\\c\x01") == "a_b_c_"
    assert folder_name(" .hidden. ") == "hidden"


def _link_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, str]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def test_hostile_entries_are_refused_and_nothing_lands_outside(tmp_path):
    zip_path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr(f"alice/{ASSIGNMENT}.py", SOLUTION)
        z.writestr("../escaped.py", "x")
        z.writestr("alice/../../escaped2.py", "x")
        z.writestr("/tmp/absolute.py", "x")
        z.writestr("C:\\windows.py", "x")
        z.writestr("bob\\..\\..\\escaped3.py", "x")
        z.writestr(*_link_entry("mallory/task.py", "/etc/passwd"))
        fifo = zipfile.ZipInfo("mallory/pipe")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        z.writestr(fifo, "")
    bulk, folders = unpacked(zip_path)
    assert folders == {"alice": [f"{ASSIGNMENT}.py"]}
    reasons = "\n".join(bulk.refused)
    assert len(bulk.refused) == 7
    for entry in ("../escaped.py", "alice/../../escaped2.py", "/tmp/absolute.py", "C:\\windows.py",
                  "bob\\..\\..\\escaped3.py", "mallory/task.py", "mallory/pipe"):
        assert f"refused entry '{entry}'" in reasons
    assert "absolute path" in reasons and "'..'" in reasons and "symbolic link" in reasons
    assert "not a plain file" in reasons
    root = Path(bulk.folders[0].name)
    everything = {p for p in root.parent.rglob("*escaped*")} | {p for p in tmp_path.rglob("*escaped*")}
    assert everything == set()
    assert not Path("/tmp/absolute.py").exists()
    assert [p.name for p in root.iterdir()] == ["alice"]
    bulk.cleanup()


def test_a_zip_bomb_stops_at_the_size_limit(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {f"alice/{ASSIGNMENT}.py": SOLUTION, "bob/big.bin": b"\0" * (3 << 20)})
    assert bomb.stat().st_size < 64 * 1024
    bulk = BulkDownloads(max_mib=1, max_files=100)
    with pytest.raises(BulkDownloadError, match=r"kit\.bulk_unpacked_mib = 1 MiB"):
        bulk.expand([bomb])
    assert bulk.folders == []                   # what had been unpacked is gone


def test_the_size_limit_counts_bytes_written_not_only_sizes_declared(tmp_path, monkeypatch):
    """Were the declared sizes to pass the first check, the bytes written still stop the unpacking."""
    bomb = make_zip(tmp_path / "bomb.zip", {f"s{i}/{ASSIGNMENT}.py": b"\0" * (400 << 10) for i in range(4)})
    monkeypatch.setattr("autograder.bulk_download.declared_size", lambda infos: 0)
    bulk = BulkDownloads(max_mib=1, max_files=100)
    with pytest.raises(BulkDownloadError, match=r"reached 1\.2 MiB"):
        bulk.expand([bomb])
    assert bulk.folders == []


def test_too_many_entries_and_a_damaged_zip_are_clear_errors(tmp_path):
    many = make_zip(tmp_path / "many.zip", {f"s{i}.py": "x" for i in range(30)})
    with pytest.raises(BulkDownloadError, match=r"30 entries, more than kit\.bulk_max_files = 10"):
        BulkDownloads(max_mib=10, max_files=10).expand([many])
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(BulkDownloadError, match="not a readable zip archive"):
        BulkDownloads(max_mib=10, max_files=10).expand([damaged])
    with pytest.raises(BulkDownloadError, match="holds no submissions"):
        BulkDownloads(max_mib=10, max_files=10).expand([make_zip(tmp_path / "empty.zip", {"__MACOSX/x": "y"})])


def test_grade_each_platform_zip_under_the_students_names(tmp_path):
    """One run over a zip of each layout: grades.csv names the students; each gets a page; one report."""
    zips = [canvas_zip(tmp_path / "canvas.zip"), moodle_zip(tmp_path / "moodle.zip"),
            gradescope_zip(tmp_path / "gradescope.zip")]
    with zipfile.ZipFile(zips[0], "a") as z:          # and one hostile entry among them
        z.writestr("../../outside.py", "print('escaped')")
    out = tmp_path / "out"
    results = grade_submissions(assignment_id=ASSIGNMENT, submissions=zips, out_dir=out, config_path=CONFIG,
                                device="cpu")
    rows = {row["name"]: row for row in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    full, zero = str(int(results[0].max_score)), "0"
    assert {name: row["score"] for name, row in rows.items()} == {
        # result folders (and so grades.csv names) keep letters of any script; spaces and commas become _
        "doejane": full, "smithjohn": zero, "Jane_Doe": full, "Ömer_Şahin": zero,
        "Jane_Doe-2": full, "Ann_Lee__Bo_Chen": zero}
    for name in rows:
        assert (out / name / "feedback.html").is_file()
        assert json.loads((out / name / "results.json").read_text(encoding="utf-8"))["tests"]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "refused entry &#x27;../../outside.py&#x27;" in report
    assert not (tmp_path / "outside.py").exists() and not (out.parent.parent / "outside.py").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([*rows, "grades.csv", "report.html"])
