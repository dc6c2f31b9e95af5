"""Offline still teaches: a student's `check` without the dataset runs every check that needs no data.

No data folder, no cache and downloads disabled (the suite's fast grading.toml sets
``allow_download = false``): the training check is listed as not run ("needs MNIST: see
README"), worth 0 points and said not to be the code's fault; everything else is graded as
usual, and the exit status (3) tells a script that checks could not run.
"""

from __future__ import annotations


from test_cli import ROOT, run

from autograder.cli import NOT_RUN


def test_check_without_mnist_grades_the_rest_and_says_what_did_not_run(fast_config, tmp_path):
    page = tmp_path / "page.html"
    done = run("check", "lenet5", str(ROOT / "solutions" / "lenet5" / "lenet5.py"), "--config", str(fast_config),
               "--device", "cpu", "--feedback-page", str(page),
               env={"AUTOGRADER_DATA": str(tmp_path / "nowhere"), "AUTOGRADER_CACHE": str(tmp_path / "cache")})
    assert done.returncode == NOT_RUN, done.stdout + done.stderr
    assert "Error:" not in done.stderr and "Traceback" not in done.stderr
    text = " ".join(done.stdout.split())
    assert "training │ 0/5 │ not run │ needs MNIST: see README" in text
    assert "builds │ 1/1 │ passed" in text and "gradient_flow │ 2/2 │ passed" in text
    assert "total: 15 / 20" in text
    assert "1 check (5 points) did not run (needs MNIST), through no fault of your code" in text
    assert "t10k-images-idx3-ubyte" in text            # where to put the files
    html = page.read_text(encoding="utf-8")
    assert "– not run" in html and "needs MNIST: see README" in html


def test_the_readme_says_where_the_data_comes_from():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme[readme.index("## Quickstart"):readme.index("## Commands")]
    for where in ("AUTOGRADER_DATA", "--data-dir", "download"):
        assert where in quickstart, where
    assert "needs MNIST: see README" in quickstart
