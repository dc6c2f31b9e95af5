"""Gradescope: the archive, unpacked into a folder laid out as /autograder, grades like `autograder grade`.

Every assignment is covered: lenet5 trains on MNIST (packed into the archive),
the others grade without data; for those, the notebook exported for nbgrader
is graded beside the .py, check by check.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import random
import re
import stat
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.commands import archived_data, grade_submissions
from autograder.checks import load_config
from autograder.errors import AutograderError
from autograder.reports.feedback_text import feedback_markdown, fenced
from autograder.integrations.gradescope import (export_gradescope, gradescope_results, run_gradescope,
                                                write_gradescope_results)
from autograder.integrations.nbgrader import export_nbgrader
from autograder.reports.results_files import MAX_RESULTS_BYTES, write_results_json
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.setup import needs_data

from trial_runs import run_gradescope_archive

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
ASSIGNMENT = "lenet5"
ASSIGNMENTS = load_config(CONFIG).assignments
NO_DATA = [i for i, a in ASSIGNMENTS.items() if not needs_data(a)]
# The archive carries the same package and grading.toml whatever the assignment: one of each family of check
# kinds (a model with by-hand functions, training functions, a model with an optional data set) stands for all;
# `autograder verify` grades every reference and stub.
ARCHIVE_FAMILIES = ["conv_arithmetic", "training_loop", "cifar10_cnn"]


def test_the_families_need_no_data():
    assert set(ARCHIVE_FAMILIES) <= set(NO_DATA)


def test_archive_layout(tmp_path):
    archive = export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "ag.zip", config_path=CONFIG)
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in z.infolist()}
        run = z.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "kit/grading.toml", "kit/pyproject.toml",
            "kit/autograder/__init__.py", "kit/autograder/child/main.py", "kit/autograder/grading/batch.py",
            "kit/autograder/integrations/gradescope.py"} <= names
    assert not any(n.startswith("kit/autograder/autograder/") for n in names)
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert f"run {ASSIGNMENT}" in run and "AUTOGRADER_ROOT" in run
    assert not any(n.startswith("data/") for n in names)     # no data asked for: setup.sh downloads it
    with pytest.raises(AutograderError, match="MNIST/raw"):
        export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "x.zip", config_path=CONFIG,
                          data_dir=tmp_path)


def test_archive_of_an_assignment_without_data_holds_and_downloads_none(tmp_path):
    assignment_id = NO_DATA[0]
    archive = export_gradescope(assignment_id=assignment_id, out_zip=tmp_path / "ag.zip", config_path=CONFIG,
                                data_dir=tmp_path)        # no MNIST there, and none needed
    with zipfile.ZipFile(archive) as z:
        setup = z.read("setup.sh").decode()
    assert "MNIST" not in setup and "pip install" in setup
    assert archived_data(archive) == []
    lenet = export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "lenet.zip", config_path=CONFIG)
    with zipfile.ZipFile(lenet) as z:
        assert "datasets.MNIST" in z.read("setup.sh").decode()


@pytest.mark.slow
def test_archive_scores_match_autograder_grade(tmp_path):
    data = os.environ.get("AUTOGRADER_DATA")
    if not data:
        pytest.skip("AUTOGRADER_DATA is not set: the training check needs MNIST")
    archive = export_gradescope(assignment_id=ASSIGNMENT, out_zip=tmp_path / "ag.zip", config_path=CONFIG,
                                data_dir=data)     # MNIST travels inside the archive
    with zipfile.ZipFile(archive) as z:
        assert any(n.startswith("data/MNIST/raw/") for n in z.namelist())
    files = {"reference": ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.py",
             "stub": ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.py"}
    reference, stub = grade_submissions(assignment_id=ASSIGNMENT, out_dir=tmp_path / "grade",
                                        submissions=[files["reference"], files["stub"]], config_path=CONFIG)
    for role, path in files.items():
        results = run_gradescope_archive(archive, tmp_path / f"autograder-{role}", path)
        tests = {t["name"]: t["status"] for t in results["tests"]}
        if role == "reference":
            assert results["score"] == reference.score == reference.max_score, results["tests"]
            assert tests == {c.name: c.status for c in reference.checks}
        else:
            assert results["score"] == stub.score == 0 and set(tests.values()) == {"failed"}
            assert tests == {c.name: c.status for c in stub.checks}


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", ARCHIVE_FAMILIES)
def test_archive_without_data_scores_match_autograder_grade(tmp_path, assignment_id):
    """Reference and stub through the archive score as `autograder grade` does; the notebook as the .py."""
    assignment = ASSIGNMENTS[assignment_id]
    archive = export_gradescope(assignment_id=assignment_id, out_zip=tmp_path / "ag.zip", config_path=CONFIG)
    [notebook] = export_nbgrader(out_dir=tmp_path / "course", config_path=CONFIG, assignment_ids=[assignment_id])
    files = {"reference": ROOT / "solutions" / assignment_id / assignment.file,
             "stub": ROOT / "assignments" / assignment_id / assignment.file}
    reference, stub, from_notebook = grade_submissions(
        assignment_id=assignment_id, out_dir=tmp_path / "grade", config_path=CONFIG,
        submissions=[files["reference"], files["stub"], notebook])
    assert reference.score == reference.max_score and stub.score == 0
    assert [(c.name, c.passed) for c in from_notebook.checks] == [(c.name, c.passed) for c in reference.checks]
    for role, local in (("reference", reference), ("stub", stub)):
        results = run_gradescope_archive(archive, tmp_path / f"autograder-{role}", files[role])
        assert results["score"] == local.score, results["tests"]
        assert {t["name"]: t["status"] for t in results["tests"]} == {c.name: c.status for c in local.checks}
        # Gradescope renders the feedback page's text as Markdown, each check's message as plain text.
        assert results["output_format"] == "md" and "### Checks" in results["output"]
        assert {t["output_format"] for t in results["tests"]} == {"text"}


# ------------------------------------------------------------------ the Markdown output, rendered as GitHub does

# Text a submission could print or put in an error message, each meant to become a link, an image, HTML or a
# way out of a code block; every one contains "evil", so what reaches the page outside code is easy to find.
HOSTILE_TEXTS = [
    "https://evil.example/a?b=1&c=%41", "http://evil.example", "see www.evil.example/path now",
    "www\uff0eevil\uff0eexample", "mailto:someone@evil.example", "someone@evil.example",
    "xmpp:someone@evil.example", "ftp://evil.example/file", "<https://evil.example>",
    "[click](https://evil.example)", "![x](https://evil.example/p.png)", "[evil]\n\n[evil]: https://evil.example",
    "<script>alert('evil')</script>", "<img src=x onerror=alert('evil')>", "<!-- evil -->",
    "<a href='https://evil.example'>evil</a>", "<div>\nevil\n</div>", "<?evil ?>", "<![CDATA[evil]]>",
    "`" * 40 + " evil www.evil.example " + "`" * 40, "```\nwww.evil.example\n```", "~~~\nevil www.evil.example\n~~~",
    "````` \n<script>evil()</script>", "evil\r```\r<img src=evil.example>\rwww.evil.example",
    "evil\r\n" + "`" * 16 + "\r\n[x](https://evil.example)", "   ```\nwww.evil.example", "```evil\n<b>evil</b>",
    "\\\n```\nevil www.evil.example", "| evil | www.evil.example |\n| --- | --- |",
    "evil \u2028www.evil.example", "evil\n===\n* [ ] www.evil.example", "> evil\n> www.evil.example",
]
# What GitHub-flavoured Markdown may make of the kit's own text: headings, paragraphs, bold, tables, lists, code.
OWN_TAGS = {"h2", "h3", "p", "strong", "pre", "code", "table", "thead", "tbody", "tr", "th", "td", "ul", "li"}


def render_gfm(text: str) -> list[str]:
    """``text`` rendered by GitHub's cmark-gfm: as GitHub does (extensions, raw HTML filtered), and with
    raw HTML let through and no tag filter, so that any HTML in the text shows up as HTML."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    return [cmarkgfm.github_flavored_markdown_to_html(text),
            cmarkgfm.markdown_to_html_with_extensions(text, options=Options.CMARK_OPT_UNSAFE,
                                                      extensions=["table", "autolink", "strikethrough", "tasklist"])]


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_comment(self, data):
        self.comments.append(data)


def code_blocks(rendered: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre[^>]*><code[^>]*>(.*?)</code></pre>", rendered,
                                                           flags=re.S)]


def assert_nothing_rendered_from(markdown: str, payloads: list[str]) -> None:
    """No link, image, HTML or comment comes out of the submission's text, and each payload is shown
    verbatim inside a code block."""
    for rendered in render_gfm(markdown):
        parsed = Tags()
        parsed.feed(rendered)
        assert parsed.tags <= OWN_TAGS, parsed.tags - OWN_TAGS
        assert not parsed.comments and "<!--" not in rendered and "raw HTML omitted" not in rendered
        assert not re.search(r"<(a|img)\b", rendered) and not re.search(r"<[^>]*\b(href|src)=", rendered)
        outside = re.sub(r"<pre[^>]*>.*?</pre>", "", rendered, flags=re.S)
        assert "evil" not in outside.lower(), outside
        shown = "\n".join(code_blocks(rendered))
        for payload in payloads:
            assert payload.replace("\r\n", "\n").replace("\r", "\n") in shown, payload


def hostile_result() -> SubmissionResult:
    """A failed result with hostile text in every field a submission can reach, set after the result was
    built, so not even cleaned of carriage returns (the Markdown must hold without that)."""
    checks = [CheckResult(f"check_{i}", "what it verifies", 1, False, "x") for i in range(len(HOSTILE_TEXTS))]
    result = SubmissionResult("lenet5", "student", "/in/lenet5.py", checks + [CheckResult("builds", "", 1, True, "")])
    for check, text in zip(checks, HOSTILE_TEXTS):
        check.message = text
    result.status = "the submission's process said: " + HOSTILE_TEXTS[2]
    result.notes = list(HOSTILE_TEXTS[:20])
    result.output = "\n".join(HOSTILE_TEXTS)
    result.extra = {"root_cause": {"message": HOSTILE_TEXTS[0], "fix": HOSTILE_TEXTS[9],
                                   "checks": [HOSTILE_TEXTS[5], "check_1"]},
                    "layers": [{"op": text, "output_shape": [-1, text], "parameters": 3} for text in HOSTILE_TEXTS],
                    "training": {"history": [[100, 0.5, 1.0]], "test_accuracy": 0.1, "steps": 100,
                                 "classes": 10, "predictions_not_a_class": 12}}
    return result


def test_markdown_output_makes_no_link_image_or_html_of_submission_text():
    markdown = feedback_markdown(hostile_result(), output_kib=64)
    assert "12 test predictions were not a class 0\\-9" in markdown
    assert_nothing_rendered_from(markdown, HOSTILE_TEXTS)


def test_gradescope_results_render_no_link_from_the_submission(tmp_path):
    result = hostile_result()
    path = write_gradescope_results(result, tmp_path / "results.json", output_kib=64)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["output_format"] == "md" and data["score"] == 1
    # the written result was cleaned (carriage returns made newlines); the payloads still show verbatim
    assert_nothing_rendered_from(data["output"], HOSTILE_TEXTS)


def test_every_string_sits_in_one_code_block_that_only_its_fence_closes():
    """Any mix of backticks, tildes, line breaks (CR, LF, CRLF), indents and text: one code block that shows
    the text as it was written, with nothing after it swallowed or turned into markup."""
    rng = random.Random(1)
    pieces = ["`", "``", "```", "`" * 7, "~~~", "\r", "\n", "\r\n", "   ", "\t", "www.evil.example", "<b>", "-", "|"]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        markdown = f"before\n\n{fenced(text)}\n\n**after**\n"
        for rendered in render_gfm(markdown):
            blocks = code_blocks(rendered)
            want = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").rstrip()
            assert len(blocks) == 1 and blocks[0] == (want + "\n" if want else ""), (text, rendered)
            assert rendered.endswith("<p><strong>after</strong></p>\n"), (text, rendered)


def test_run_autograder_writes_results_json_under_the_same_cap(tmp_path, monkeypatch):
    """A result that would write 2 MB (here a 400-class confusion matrix and long messages) is cut, in
    Gradescope's run_autograder as in `autograder grade`, by the one cap both use."""
    import autograder.grading.batch as batch

    result = hostile_result()
    result.extra["training"]["confusion_matrix"] = [[i + j for j in range(400)] for i in range(400)]
    result.extra["layers"] *= 300
    uncapped = json.dumps(gradescope_results(result, output_kib=16), indent=2, ensure_ascii=False)
    assert len(uncapped.encode("utf-8")) > 2 * MAX_RESULTS_BYTES

    @contextlib.contextmanager
    def no_setup(**kwargs):
        yield None

    monkeypatch.setattr(batch, "grading_setup", no_setup)
    monkeypatch.setattr(batch, "grade_safely", lambda setup, submission: result)
    monkeypatch.setenv("AUTOGRADER_CONFIG", str(CONFIG))
    data = run_gradescope(assignment_id=ASSIGNMENT, submission=tmp_path, results=tmp_path / "out" / "results.json")
    size = (tmp_path / "out" / "results.json").stat().st_size
    assert size < MAX_RESULTS_BYTES and not list((tmp_path / "out").glob("*.partial"))
    assert data["score"] == 1 and data["output_format"] == "md"
    assert_nothing_rendered_from(data["output"], [])        # a cut never opens the way to markup
    grade_size = write_results_json(result, tmp_path / "grade" / "results.json").stat().st_size
    assert grade_size < MAX_RESULTS_BYTES


def test_gradescope_grades_the_trained_weights_handed_in_beside_the_model(tmp_path, monkeypatch):
    """A Gradescope upload of model.py and model.pt: the weights reach the grader's executor and are
    scored (random weights: a low accuracy); an upload without them is told what is missing."""
    import shutil

    import torch

    monkeypatch.setenv("AUTOGRADER_CONFIG", str(CONFIG))
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / "mnist_challenge" / "model.py", folder)
    defined: dict = {}
    exec((folder / "model.py").read_text(encoding="utf-8"), defined)
    torch.manual_seed(0)
    torch.save(defined["Net"]().state_dict(), folder / "model.pt")
    said = {}
    for handed_in in ("with", "without"):
        if handed_in == "without":
            (folder / "model.pt").unlink()
        data = run_gradescope(assignment_id="mnist_challenge", submission=folder,
                              results=tmp_path / handed_in / "results.json")
        said[handed_in] = " ".join(test.get("output", "") for test in data["tests"])
    assert "no model.pt was handed in" not in said["with"] and "parameters" in said["with"], said["with"]
    assert "no model.pt was handed in" in said["without"], said["without"]
