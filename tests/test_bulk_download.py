"""Bulk downloads: each platform's zip layout becomes one folder per student; hostile zips are refused."""

from __future__ import annotations

import csv
import json
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.intake.bulk import METADATA, BulkDownloadError, BulkDownloads, folder_name, lookalike_key
from autograder.errors import AutograderError
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


def unpacked(zip_path: Path | list[Path], **options) -> tuple[BulkDownloads, dict[str, list[str]]]:
    """Expand one zip (or several); each student folder's name and the files in it."""
    bulk = BulkDownloads(max_mib=options.get("max_mib", 64), max_files=options.get("max_files", 1000),
                         expected_file=f"{ASSIGNMENT}.py", duplicates=options.get("duplicates", "newest"))
    folders = bulk.expand(zip_path if isinstance(zip_path, list) else [zip_path])
    return bulk, {Path(f).name: sorted(p.relative_to(f).as_posix() for p in Path(f).rglob("*") if p.is_file())
                  for f in folders}


@pytest.mark.parametrize("make, expected", [
    (canvas_zip, {"doejane": [f"{ASSIGNMENT}.py"], "smithjohn": [f"{ASSIGNMENT}.py"]}),
    (moodle_zip, {"Jane_Doe": ["onlinetext.html", f"{ASSIGNMENT}.py"], "Ömer_Şahin": [f"{ASSIGNMENT}.py"]}),
    (gradescope_zip, {"Jane_Doe": [f"{ASSIGNMENT}.py"], "Ann_Lee__Bo_Chen": [f"{ASSIGNMENT}.py"]}),
], ids=["canvas", "moodle", "gradescope"])
def test_each_platform_layout_gives_one_folder_per_student(tmp_path, make, expected):
    bulk, folders = unpacked(make(tmp_path / "download.zip"))
    assert folders == expected
    assert bulk.refused == bulk.lookalikes == bulk.duplicates == []
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
    assert sorted(folders) == ["doejane-1", "doejane-3"]
    assert folder_name("../..") == "student" and folder_name("a/b\\c\x01") == "a_b_c_"
    assert folder_name(" .hidden. ") == "hidden" and folder_name("Grades.CSV") == "Grades.CSV-student"
    assert folder_name("=HYPERLINK(1) ") == "_HYPERLINK_1_"


def _link_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, str]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def test_hostile_entries_are_refused_and_nothing_lands_outside(tmp_path, monkeypatch):
    # the unpacking folder is made inside a folder of this test's own, so the search for escaped files
    # below looks only at what this run wrote (other programs' temporary folders come and go)
    own_temp = tmp_path / "temp"
    own_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_temp))
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
    assert root.parent == own_temp
    everything = {p for p in tmp_path.rglob("*escaped*")}
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
    monkeypatch.setattr("autograder.intake.bulk.declared_size", lambda infos: 0)
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
        # result folders (and so grades.csv names) keep letters of any script; spaces and commas become _;
        # the two Jane Does (Moodle's and Gradescope's) each get their id
        "doejane": full, "smithjohn": zero, "Jane_Doe-101": full, "Ömer_Şahin": zero,
        "Jane_Doe-1001": full, "Ann_Lee__Bo_Chen": zero}
    assert {name: (row["platform_name"], row["platform_user_id"], row["platform_entry"])
            for name, row in rows.items()} == {
        "doejane": ("doejane", "1234", f"doejane_1234_5678_{ASSIGNMENT}.py"),
        "smithjohn": ("smithjohn", "2345", f"smithjohn_LATE_2345_6789_{ASSIGNMENT}-1.py"),
        "Jane_Doe-101": ("Jane Doe", "101", "Jane Doe_101_assignsubmission_file_; "
                                            "Jane Doe_101_assignsubmission_onlinetext_"),
        "Ömer_Şahin": ("Ömer Şahin", "102", f"Ömer Şahin_102_assignsubmission_file_{ASSIGNMENT}.py"),
        "Jane_Doe-1001": ("Jane Doe", "1001", "submission_101"),
        "Ann_Lee__Bo_Chen": ("Ann Lee, Bo Chen", "1002, 1003", "submission_102")}
    for name in rows:
        assert (out / name / "feedback.html").is_file()
        assert json.loads((out / name / "results.json").read_text(encoding="utf-8"))["tests"]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "refused entry &#x27;../../outside.py&#x27;" in report
    assert "2 entries are named &quot;Jane Doe&quot;: different platform ids 1001 and 101" in report
    assert not (tmp_path / "outside.py").exists() and not (out.parent.parent / "outside.py").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([*rows, "grades.csv", "report.html"])


# ---------------------------------------------------------------- identities: look-alike names, ids, resubmissions

def read_files(zip_path: Path, **options) -> tuple[BulkDownloads, dict[str, dict[str, str]]]:
    """Expand a zip; each folder's files with their text, and the expander (identities, flags)."""
    bulk = BulkDownloads(max_mib=64, max_files=1000, expected_file=f"{ASSIGNMENT}.py",
                         duplicates=options.get("duplicates", "newest"))
    folders = bulk.expand([zip_path])
    found = {Path(f).name: {p.relative_to(f).as_posix(): p.read_text(encoding="utf-8")
                            for p in Path(f).rglob("*") if p.is_file()} for f in folders}
    return bulk, found


def both_orders(tmp_path: Path, files: dict[str, str]) -> list[Path]:
    """The same entries zipped in their order and in reverse."""
    return [make_zip(tmp_path / "forward.zip", files),
            make_zip(tmp_path / "reverse.zip", dict(reversed(list(files.items()))))]


def test_look_alike_names_are_flagged_and_kept_apart_with_their_ids(tmp_path):
    omicron = "Jane D\u03bfe"              # a Greek omicron where the o was
    bulk, found = read_files(make_zip(tmp_path / "moodle.zip", {
        f"Jane Doe_101_assignsubmission_file_/{ASSIGNMENT}.py": "# jane",
        f"{omicron}_202_assignsubmission_file_/{ASSIGNMENT}.py": "# impostor"}))
    assert found == {"Jane_Doe-101": {f"{ASSIGNMENT}.py": "# jane"},
                     "Jane_D\u03bfe-202": {f"{ASSIGNMENT}.py": "# impostor"}}
    [flag] = bulk.lookalikes
    assert flag.startswith(f'"Jane Doe" and "{omicron}" look alike: different platform ids 101 and 202')
    assert "graded as Jane_Doe-101 and Jane_D\u03bfe-202" in flag
    assert f'"{omicron}" (platform id 202) holds U+03BF GREEK SMALL LETTER OMICRON' in flag
    whose = {Path(folder).name: who for folder, who in bulk.identities.items()}
    assert whose["Jane_D\u03bfe-202"].columns() == {
        "platform_name": omicron, "platform_user_id": "202", "attempt": "newest",
        "platform_entry": f"{omicron}_202_assignsubmission_file_"}
    assert whose["Jane_Doe-101"].user_id == "101" and whose["Jane_Doe-101"].name == "Jane Doe"


def test_a_shared_user_id_and_invisible_characters_are_flagged_as_plain_text(tmp_path):
    bulk, found = read_files(make_zip(tmp_path / "moodle.zip", {
        f"Jane Doe_101_assignsubmission_file_/{ASSIGNMENT}.py": "# jane",
        f"Jane Doe\u202e_303_assignsubmission_file_/{ASSIGNMENT}.py": "# a hidden mark",
        f"\x1b[2JJim Roe_101_assignsubmission_file_/{ASSIGNMENT}.py": "# same account, other name"}))
    assert sorted(found) == ["Jane_Doe-101", "Jane_Doe-303", "__2JJim_Roe"]
    flags = "\n".join(bulk.lookalikes)
    assert '"Jane Doe" and "Jane Doe" look alike: different platform ids 101 and 303' in flags
    assert '"Jane Doe" (platform id 303) holds U+202E RIGHT-TO-LEFT OVERRIDE' in flags
    assert '"Jane Doe" and "[2JJim Roe" share the moodle user id 101 (graded as Jane_Doe-101 and __2JJim_Roe)' \
        in flags
    assert not any(ch in flags for ch in "\u202e\x1b")


def test_a_moodle_name_that_holds_another_user_id_takes_nobody_s_place(tmp_path):
    """A display name that spells out another student's id and plugin does not join that student's folder."""
    bulk, found = read_files(make_zip(tmp_path / "moodle.zip", {
        f"Jane Doe_101_assignsubmission_file_/{ASSIGNMENT}.py": "# jane",
        f"Jane Doe_101_assignsubmission_file_x_666_assignsubmission_file_/{ASSIGNMENT}.py": "# eve",
        f"Eve_667_assignsubmission_file_y_101_assignsubmission_file_{ASSIGNMENT}.py": "# eve's file name"}))
    assert found["Jane_Doe"] == {f"{ASSIGNMENT}.py": "# jane"}
    assert found["Jane_Doe_101_assignsubmission_file_x"] == {f"{ASSIGNMENT}.py": "# eve"}
    assert found["Eve"] == {f"y_101_assignsubmission_file_{ASSIGNMENT}.py": "# eve's file name"}
    doubts = [line for line in bulk.lookalikes if "names more than one Moodle user id" in line]
    assert len(doubts) == 2
    assert 'read as "Eve", user id 667' in doubts[0]
    assert 'read as "Jane Doe_101_assignsubmission_file_x", user id 666' in doubts[1]


@pytest.mark.parametrize("other", [
    "JANE DOE", " Jane  Doe", "Ja\u200bne Doe", "\uff2aane Doe",      # case, spaces, zero width, full width
    "J\u0430ne Doe", "Jane D\u03bfe", "Jane Do\u0435", "Jane Doe\u202e",  # Cyrillic a, Greek omicron, ...
])
def test_names_alike_after_nfkc_case_folding_and_the_confusable_skeleton(other):
    assert lookalike_key(other) == lookalike_key("Jane Doe")


@pytest.mark.parametrize("other", ["Jane Dae", "Jane Doe Jr", "Jan Doe", "Jöne Doe"])
def test_names_that_differ_do_not_look_alike(other):
    assert lookalike_key(other) != lookalike_key("Jane Doe")


def test_same_name_with_two_ids_gives_the_same_folders_in_either_zip_order(tmp_path):
    files = {f"doejohn_1234_11_{ASSIGNMENT}.py": "# id 1234", f"doejohn_5678_22_{ASSIGNMENT}.py": "# id 5678",
             "doejohn-1234.py": "# a file named like one of the folders",
             "grades.csv.py": "# named like the batch's own file", "report.html.py": "# and the other"}
    runs = [read_files(zip_path) for zip_path in both_orders(tmp_path, files)]
    (first, forward), (second, reverse) = runs
    assert forward == reverse
    by_content = {next(iter(content.values())): name for name, content in forward.items()}
    assert by_content["# id 5678"] == "doejohn-5678"
    # The name a plain file took clashes with doejohn-1234's: both are kept apart by a hash of their entries.
    assert by_content["# id 1234"].startswith("doejohn-1234-") and forward[by_content["# id 1234"]] == {
        f"{ASSIGNMENT}.py": "# id 1234"}
    assert by_content["# a file named like one of the folders"].startswith("doejohn-1234-")
    assert by_content["# a file named like one of the folders"] != by_content["# id 1234"]
    assert forward["grades.csv-student"] == {"grades.csv.py": "# named like the batch's own file"}
    assert forward["report.html-student"] == {"report.html.py": "# and the other"}
    assert first.lookalikes == second.lookalikes
    assert any(line.startswith('2 entries are named "doejohn": different platform ids 1234 and 5678')
               for line in first.lookalikes)
    for bulk in (first, second):
        roots = {Path(f.name) for f in bulk.folders}
        assert all(folder.parent in roots for folder in bulk.identities)   # nothing outside its own folder


LATE = {f"smithann_2345_6789_{ASSIGNMENT}.py": "# on time",
        f"smithann_LATE_2345_6790_{ASSIGNMENT}.py": "# late",
        "smithann_2345_6791_notes.txt": "notes",
        f"leebo_3456_7001_{ASSIGNMENT}.py": "# bo"}


@pytest.mark.parametrize("order", [0, 1], ids=["zip-order", "reversed"])
def test_a_late_file_beside_the_on_time_one_newest_is_graded_the_other_listed(tmp_path, order):
    bulk, found = read_files(both_orders(tmp_path, LATE)[order])
    assert found == {"smithann": {f"{ASSIGNMENT}.py": "# late", "notes.txt": "notes"},
                     "leebo": {f"{ASSIGNMENT}.py": "# bo"}}
    [line] = bulk.duplicates
    assert line.startswith(f"{'forward' if order == 0 else 'reverse'}.zip: smithann (platform id 2345): not graded: "
                           f"'smithann_2345_6789_{ASSIGNMENT}.py' is an earlier version of {ASSIGNMENT}.py than "
                           f"'smithann_LATE_2345_6790_{ASSIGNMENT}.py': it has the higher Canvas file id "
                           "(6790 > 6789), and it is marked LATE")
    assert line.endswith('kit.bulk_duplicates = "newest" grades only the newest, as smithann')
    newest = next(f for f, who in bulk.identities.items() if who.name == "smithann")
    assert bulk.identities[newest].entry == f"smithann_2345_6791_notes.txt; smithann_LATE_2345_6790_{ASSIGNMENT}.py"
    assert any("2 submissions of yours" in note for note in bulk.notes_for(newest))
    assert bulk.lookalikes == []


@pytest.mark.parametrize("order", [0, 1], ids=["zip-order", "reversed"])
def test_a_late_file_beside_the_on_time_one_all_grades_each(tmp_path, order):
    bulk, found = read_files(both_orders(tmp_path, LATE)[order], duplicates="all")
    assert found == {"smithann": {f"{ASSIGNMENT}.py": "# late", "notes.txt": "notes"},
                     "smithann-6789": {f"{ASSIGNMENT}.py": "# on time", "notes.txt": "notes"},
                     "leebo": {f"{ASSIGNMENT}.py": "# bo"}}
    [line] = bulk.duplicates
    assert "is an earlier version of" in line and "graded as well, as smithann-6789" in line
    attempts = {Path(f).name: who.attempt for f, who in bulk.identities.items()}
    assert attempts == {"smithann": "newest", "smithann-6789": "earlier", "leebo": "newest"}
    with pytest.raises(AutograderError, match="kit.bulk_duplicates = 'latest'.*'newest'"):
        BulkDownloads(max_mib=1, max_files=1, duplicates="latest")


def test_resubmissions_in_gradescope_and_moodle_exports_are_listed(tmp_path):
    metadata = "".join(f"submission_{n}:\n  :submitters:\n  - :name: {name}\n    :sid: '{sid}'\n"
                       f"  :created_at: 2024-03-01 {hour}:00:00.000000000 -08:00\n"
                       for n, name, sid, hour in [(305, "Jane Doe", 1001, 11), (201, "Jane Doe", 1001, 10),
                                                  (202, "Bo Chen", 1002, 10)])
    bulk, found = read_files(make_zip(tmp_path / "gradescope.zip", {
        METADATA: metadata, f"submission_201/{ASSIGNMENT}.py": "# first", "submission_201/old_helper.py": "",
        f"submission_305/{ASSIGNMENT}.py": "# second", f"submission_202/{ASSIGNMENT}.py": "# bo"}))
    assert found == {"Jane_Doe": {f"{ASSIGNMENT}.py": "# second"}, "Bo_Chen": {f"{ASSIGNMENT}.py": "# bo"}}
    [line] = bulk.duplicates
    assert "Jane Doe (platform id 1001): not graded: submission_201 (created 2024-03-01 18:00:00 UTC) is an " \
           "earlier submission than submission_305 (created 2024-03-01 19:00:00 UTC): it was created later" in line
    bulk, found = read_files(make_zip(tmp_path / "moodle.zip", {
        f"Ann Lee_7_assignsubmission_file_/{ASSIGNMENT}.py": "# folder",
        f"Ann Lee_7_assignsubmission_file_{ASSIGNMENT}.py": "# flat"}), duplicates="all")
    assert sorted(found) == sorted(["Ann_Lee", *(n for n in found if n.startswith("Ann_Lee-"))]) and len(found) == 2
    [line] = bulk.duplicates
    assert "Ann Lee (platform id 7)" in line and "graded as well" in line


def _grade_by_content(monkeypatch) -> None:
    """Grade without children: every check passes when the file holds the solution, none otherwise."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from autograder.grading import batch
    from autograder import commands
    from autograder.grading.results import CheckResult, SubmissionResult
    from autograder.intake.submission import find_submission

    @contextmanager
    def setup(*, config, assignment, **_):
        yield SimpleNamespace(assignment=assignment)

    def grade(setup, path):
        found = find_submission(path, setup.assignment.file).path
        right = found is not None and found.read_text(encoding="utf-8") == SOLUTION
        checks = [CheckResult(c.name, c.description, c.points, right, "ok" if right else "wrong")
                  for c in setup.assignment.checks]
        return SubmissionResult(setup.assignment.id, Path(path).stem, str(path), checks)

    monkeypatch.setattr(commands, "grading_setup", setup)
    monkeypatch.setattr(batch, "grade_submission", grade)


def test_grades_csv_and_the_report_keep_each_identity(tmp_path, monkeypatch):
    _grade_by_content(monkeypatch)
    omicron = "Jane D\u03bfe"
    download = make_zip(tmp_path / "moodle.zip", {
        f"Jane Doe_101_assignsubmission_file_/{ASSIGNMENT}.py": SOLUTION,
        f"{omicron}_202_assignsubmission_file_/{ASSIGNMENT}.py": STUB})
    late = make_zip(tmp_path / "canvas.zip", {f"smithann_2345_6789_{ASSIGNMENT}.py": STUB,
                                              f"smithann_LATE_2345_6790_{ASSIGNMENT}.py": SOLUTION})
    out = tmp_path / "out"
    results = grade_submissions(assignment_id=ASSIGNMENT, submissions=[download, late], out_dir=out,
                                config_path=CONFIG)
    full = str(int(results[0].max_score))
    with (out / "grades.csv").open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = {row["name"]: row for row in reader}
    assert header[:8] == ["name", "platform_name", "platform_user_id", "platform_entry", "attempt", "score",
                          "max_score", "status"]
    assert {name: (row["platform_name"], row["platform_user_id"], row["attempt"], row["score"])
            for name, row in rows.items()} == {
        "Jane_Doe-101": ("Jane Doe", "101", "newest", full),
        "Jane_D\u03bfe-202": (omicron, "202", "newest", "0"),
        "smithann": ("smithann", "2345", "newest", full)}          # the LATE one, the solution, was graded
    assert rows["smithann"]["platform_entry"] == f"smithann_LATE_2345_6790_{ASSIGNMENT}.py"
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Identities to check" in report and "Several submissions of one student" in report
    assert (f"&quot;Jane Doe&quot; and &quot;{omicron}&quot; look alike: different platform ids 101 and 202"
            in report)
    assert f"not graded: &#x27;smithann_2345_6789_{ASSIGNMENT}.py&#x27; is an earlier version" in report
    assert sorted(p.name for p in out.iterdir()) == sorted([*rows, "grades.csv", "report.html"])
