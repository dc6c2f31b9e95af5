"""What each command does, as keyword-only functions that also work from Python.

The command line (``cli.py``) only parses options and calls these.
"""

from __future__ import annotations

import dataclasses
import shutil
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .reports import plots
from .checks.authoring import KindInfo, kind_infos
from .grading.batch import grade_safely, grading_setup
from .intake.bulk import BulkDownloads
from .reports.class_report import write_class_report
from .settings.model import Assignment
from .checks import load_config
from .grading.datasets import TrainingData, data_key, test_data_folder, training_data
from .errors import AutograderError, DataError
from .settings.plan import data_folder, default_jobs
from .reports.feedback_page import page_beside, write_feedback_page
from .reports.results_files import print_result, summary_table, write_grades_csv, write_results_json
from .grading.results import CheckResult, SubmissionResult
from .grading.reference_weights import reference_submission
from .grading.grade import grade_submission
from .grading.shards import (RECORD_FILE, Shard, ShardRecord, check_complete, merged,
                              read_shard_record, write_shard_record)
from .grading.setup import needs_data
from .processes.live import interrupt_all, resume
from .processes.prestart import Prestarted
from .intake.names import unique_folder_names as _unique_names


def list_assignments(*, config_path: str | Path | None = None) -> list[Assignment]:
    return list(load_config(config_path).assignments.values())


def list_kinds(*, names: Sequence[str] | None = None) -> list[KindInfo]:
    """Every check kind grading.toml can use (or those in ``names``): its keys with their defaults,
    descriptions and the values they can take, and one example check."""
    return kind_infos(list(names) if names else None)


def default_submission(assignment: Assignment) -> Path:
    """`autograder check lenet5` with no file: ./lenet5.py, as a student would have it."""
    here = Path(assignment.file)
    if here.is_file():
        return here
    raise AutograderError(f"no {assignment.file} in the current folder: run this from the folder "
                          f"holding your {assignment.file}, or name the file: "
                          f"autograder check {assignment.id} path/to/{assignment.file}")


def _missing_data(config, assignment: Assignment, data_dir: str | Path | None,
                  datasets: dict[str, TrainingData]) -> str | None:
    """Why the dataset the assignment's training checks read is not here (None: it is, and it is now
    in ``datasets``, so the batch does not load it again)."""
    if not needs_data(assignment):
        return None
    name = assignment.dataset
    source = data_folder(config, data_dir)
    held = test_data_folder(assignment.training, config.root)
    try:
        datasets[data_key(name, held)] = training_data(name, source, allow_download=config.kit.allow_download,
                                                       test_data=held)
    except DataError as exc:
        return exc.message
    return None


def _checks_needing_data(assignment: Assignment) -> list[str]:
    """The checks that read the dataset, and those that require one of them to count."""
    from .checks import KINDS

    names: list[str] = []
    for check in assignment.checks:
        if KINDS[check.kind].needs_data or any(name in names for name in check.requires):
            names.append(check.name)
    return names


def _with_checks_not_run(result: SubmissionResult, assignment: Assignment, not_run: list[str],
                         problem: str) -> SubmissionResult:
    """``result`` of the checks that ran, with each check of ``not_run`` put back in its place: not passed,
    0 points, and a message that says it did not run for want of data, through no fault of the code."""
    dataset = assignment.dataset.upper()
    reason = (f"needs {dataset}: see README. Not run: {dataset} is not on this machine and could not be "
              "downloaded, so this check says nothing about your code. Run it again where the data is (the "
              "README's Quickstart says where it comes from: a download, AUTOGRADER_DATA or --data-dir)")
    graded = {check.name: check for check in result.checks}
    result.checks = [graded.get(check.name) or CheckResult(check.name, check.description, check.points, False,
                                                            reason, check.visibility,
                                                            extra_credit=check.extra_credit)
                     for check in assignment.checks]
    worth = sum(check.points for check in assignment.checks if check.name in not_run)
    result.notes.insert(0, f"{len(not_run)} check{'s' if len(not_run) != 1 else ''} ({', '.join(not_run)}; "
                           f"{worth:g} points) could not run without {dataset}: {problem}")
    result.extra["not_run"] = {name: f"needs {dataset}" for name in not_run}
    return result.sanitize()


def check_submission(*, assignment_id: str, path: str | Path | None = None,
                     config_path: str | Path | None = None, data_dir: str | Path | None = None,
                     device: str | None = None, seed: int | None = None,
                     feedback_page: str | Path | bool | None = None,
                     console: Console | None = None, prestarted: Prestarted | None = None) -> SubmissionResult:
    """A student's local run: grade one file and print its table of checks.

    ``feedback_page``: True writes the HTML feedback page beside the file (``<stem>_feedback.html``),
    a path writes it there, None writes none. Without the dataset (offline, no data folder) every check
    that needs no data still runs; the training checks are listed as not run (``extra["not_run"]``),
    worth 0 points, and say why. ``prestarted``: processes the command line started for this run
    (processes/prestart.py); the run owns them from here.
    """
    config = load_config(config_path)
    assignment = config.assignment(assignment_id)
    target = Path(path) if path else default_submission(assignment)
    if feedback_page:
        plots.preload()
    datasets: dict[str, TrainingData] = {}
    problem = _missing_data(config, assignment, data_dir, datasets)
    not_run = _checks_needing_data(assignment) if problem else []
    graded = (dataclasses.replace(assignment, checks=[c for c in assignment.checks if c.name not in not_run])
              if not_run else assignment)
    with grading_setup(config=config, assignment=graded, data_dir=data_dir, device=device,
                       seed=seed, datasets=datasets, prestarted=prestarted) as setup:
        result = grade_submission(setup, target)
    if not_run:
        result = _with_checks_not_run(result, assignment, not_run, problem)
    if console is not None:
        print_result(result, console)
    if feedback_page:
        page = page_beside(target) if feedback_page is True else Path(feedback_page)
        try:
            write_feedback_page(result, page, output_kib=config.kit.feedback_output_kib)
            if console is not None:
                console.print(f"feedback page: {page}", markup=False, highlight=False)
        except OSError as exc:       # a read-only folder must not hide the score
            if console is not None:
                console.print(f"could not write the feedback page {page} ({exc.strerror}): "
                              "pass --feedback-page PATH", markup=False, highlight=False)
    return result


class GradingPool(ThreadPoolExecutor):
    """The batch's threads. Leaving it on an exception (Ctrl-C) stops every child at once, cancels
    the submissions not started, and waits only for the threads to notice."""

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is not None:
            interrupt_all("grading was interrupted")
            self.shutdown(wait=True, cancel_futures=True)
            resume()
        return super().__exit__(exc_type, exc_value, traceback)


def _write_result(result: SubmissionResult, out: Path) -> None:
    """Write one results.json; a failure to write is recorded in the result, not raised."""
    try:
        write_results_json(result, out / result.name / "results.json")
    except (OSError, ValueError) as exc:
        result.status = f"{result.status}; results.json could not be written ({type(exc).__name__}: {exc})"


def _write_page(result: SubmissionResult, out: Path, output_kib: int) -> None:
    """Write one feedback.html; a failure to write is recorded in the result, not raised."""
    try:
        write_feedback_page(result, out / result.name / "feedback.html", output_kib=output_kib)
    except Exception as exc:  # noqa: BLE001 - a page that cannot be drawn must not cost the batch
        result.status = f"{result.status}; feedback.html could not be written ({type(exc).__name__}: {exc})"


def _graded_here(setup_args: dict, jobs: int, paths: dict[int, Path]) -> Iterator[tuple[int, SubmissionResult]]:
    """Grade ``paths`` (position in the batch -> submission) on this machine, ``jobs`` at once; yields each
    result as it is done. Closing the generator early (Ctrl-C) stops every child at once."""
    with grading_setup(jobs=jobs, **setup_args) as setup, GradingPool(max_workers=max(jobs, 1)) as pool:
        futures = {pool.submit(grade_safely, setup, path): position for position, path in paths.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()


def grade_submissions(*, assignment_id: str, submissions: Sequence[str | Path], out_dir: str | Path,
                      config_path: str | Path | None = None, data_dir: str | Path | None = None,
                      device: str | None = None, seed: int | None = None, jobs: int | None = None,
                      console: Console | None = None, prestarted: Prestarted | None = None,
                      shard: str | Shard | None = None, cluster: str | None = None) -> list[SubmissionResult]:
    """Grade a batch; write <out>/<name>/results.json and feedback.html for each, <out>/grades.csv
    and <out>/report.html. A .zip among the submissions is a course platform's bulk download:
    each student in it is graded under their name (see intake/bulk.py). ``prestarted``: processes the
    command line started for this batch (processes/prestart.py); the batch owns them from here.
    ``shard`` ('K/N'): grade only the K-th of N parts and write <out>/shard.json for `merge`
    (grading/shards.py). ``cluster`` (a Ray address, or 'auto'): grade on a Ray cluster's nodes
    instead of here (cluster/), with the same files as a result.

    One submission's failure never stops the batch: each gets a result, written
    as soon as it is graded. Ctrl-C (KeyboardInterrupt) stops every child at
    once and still writes grades.csv for the submissions graded so far.
    """
    if not submissions:
        raise AutograderError("no submissions given: name at least one file or folder")
    config = load_config(config_path)
    assignment = config.assignment(assignment_id)
    shard = Shard.parse(shard) if isinstance(shard, str) else shard
    out = Path(out_dir)
    say = (lambda message: console.print(message, markup=False, highlight=False)) if console else None
    bulk = BulkDownloads(max_mib=config.kit.bulk_unpacked_mib, max_files=config.kit.bulk_max_files,
                         expected_file=assignment.file, duplicates=config.kit.bulk_duplicates, say=say)
    submissions = bulk.expand(submissions)      # each .zip becomes its students' folders
    names = _unique_names(submissions, assignment.file)
    picked = shard.picks(names) if shard is not None else list(range(len(submissions)))
    paths = {position: Path(submissions[position]) for position in picked}
    jobs = jobs or default_jobs(len(picked))
    done: dict[int, SubmissionResult] = {}
    plots.preload()
    setup_args = dict(config=config, assignment=assignment, data_dir=data_dir, device=device, seed=seed)
    try:
        if cluster is not None:
            require_extra("ray", "--cluster")
            from .cluster.driver import graded_on_cluster

            graded = graded_on_cluster(cluster, setup_args, paths, say=say)
        else:
            graded = _graded_here(dict(setup_args, prestarted=prestarted), jobs, paths)
        progress = Progress(TextColumn("grading {task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console or Console(stderr=True), disable=console is None)
        with progress, closing(graded):
            task = progress.add_task(assignment.id + (f" (shard {shard})" if shard else ""), total=len(paths))
            for position, result in graded:
                if position in done:        # never written twice
                    continue
                result.name = names[position]
                result.notes += bulk.notes_for(submissions[position])
                _write_result(result, out)
                _write_page(result, out, config.kit.feedback_output_kib)
                done[position] = result
                progress.advance(task)
    finally:
        bulk.cleanup()
        results = [done[i] for i in sorted(done)]
        whose = {i: bulk.identity_for(submissions[i]) for i in sorted(done)}     # None: not from a zip
        if results:
            write_grades_csv(results, out / "grades.csv", [who.columns() if who else None for who in whose.values()])
            write_class_report(results, out / "report.html", assignment=assignment.id, refused=bulk.refused,
                               lookalikes=bulk.lookalikes, duplicates=bulk.duplicates)
        if shard is not None:
            write_shard_record(ShardRecord(
                folder=out, assignment=assignment.id, shard=shard, total=len(submissions),
                expected={position: names[position] for position in picked}, results=done,
                identities={i: who.columns() for i, who in whose.items() if who}, refused=bulk.refused,
                lookalikes=bulk.lookalikes, duplicates=bulk.duplicates))
    if console is not None:
        console.print(summary_table(results))
        console.print(f"wrote {len(results)} results.json and feedback.html, {out / 'grades.csv'} and "
                      f"{out / 'report.html'}" + (f" and {out / RECORD_FILE}" if shard else ""),
                      markup=False, highlight=False)
    return results


def merge_shards(*, shard_dirs: Sequence[str | Path], out_dir: str | Path,
                 console: Console | None = None) -> list[SubmissionResult]:
    """Join the --out folders of one batch's N ``--shard K/N`` runs into ``out_dir``: every submission's
    folder, and one grades.csv and report.html, as a single run over the whole batch writes them."""
    if not shard_dirs:
        raise AutograderError("no shard folders given: name the --out folder of every shard")
    records = [read_shard_record(folder) for folder in shard_dirs]
    check_complete(records)
    out = Path(out_dir)
    positions, results, unfinished = merged(records)
    where = {position: record.folder for record in records for position in record.results}
    for position in positions:
        source, target = where[position] / results[position].name, out / results[position].name
        if source.is_dir() and source.resolve() != target.resolve():
            shutil.copytree(source, target, dirs_exist_ok=True)
    identities = {position: identity for record in records for position, identity in record.identities.items()}
    ordered = [results[position] for position in positions]
    write_grades_csv(ordered, out / "grades.csv", [identities.get(position) for position in positions])
    first = records[0]
    write_class_report(ordered, out / "report.html", assignment=first.assignment, refused=first.refused,
                       lookalikes=first.lookalikes, duplicates=first.duplicates)
    if console is not None:
        console.print(summary_table(ordered))
        console.print(f"merged {len(records)} shards: {len(ordered)} of {first.total} submissions graded; wrote "
                      f"{out / 'grades.csv'} and {out / 'report.html'}", markup=False, highlight=False)
        if unfinished:
            console.print(f"not graded (their shard stopped before them): {', '.join(unfinished)}. Grade "
                          "those shards again, then merge", markup=False, highlight=False)
    return ordered


@dataclass
class VerifyOutcome:
    assignment: str
    role: str            # "solution" or "stub"
    result: SubmissionResult

    @property
    def ok(self) -> bool:
        """The solution earns the regular maximum (extra credit is optional on top); the stub earns nothing,
        extra credit included."""
        if self.role == "solution":
            return self.result.regular_score == self.result.max_score
        return self.result.score == 0


def verify_kit(*, config_path: str | Path | None = None, data_dir: str | Path | None = None,
               device: str | None = None, seed: int | None = None,
               assignment_ids: Sequence[str] | None = None,
               console: Console | None = None) -> list[VerifyOutcome]:
    """Every reference solution earns full marks and every stub earns zero."""
    config = load_config(config_path)
    ids = list(assignment_ids or config.assignments)
    datasets: dict[str, TrainingData] = {}
    outcomes = []
    for assignment_id in ids:
        assignment = config.assignment(assignment_id)
        with grading_setup(config=config, assignment=assignment, data_dir=data_dir, device=device,
                           seed=seed, datasets=datasets) as setup:
            for role, folder in (("solution", config.solution_dir(assignment_id)),
                                 ("stub", config.assignment_dir(assignment_id))):
                path = folder / assignment.file
                if not path.is_file():
                    raise AutograderError(f"{path} is missing: every assignment needs a stub in assignments/ "
                                          "and a reference solution in solutions/")
                if role == "solution":     # a trained-weights reference: its model file and the weights
                    path = reference_submission(assignment, path, setup.data_dir,
                                                say=console.print if console is not None else None)
                outcome = VerifyOutcome(assignment_id, role, grade_submission(setup, path))
                outcomes.append(outcome)
                if console is not None:
                    mark = "[green]ok[/green]" if outcome.ok else "[red]FAIL[/red]"
                    want = "full marks" if role == "solution" else "zero"
                    r = outcome.result
                    extra = f" (+{r.extra_score:g} of {r.extra_max:g} extra credit)" if r.extra_max else ""
                    console.print(f"{mark} {assignment_id} {role}: {r.regular_score:g}/{r.max_score:g}"
                                  f"{extra} (wants {want}, {r.seconds:.1f} s)")
                    if not outcome.ok:
                        print_result(r, console)
    return outcomes


# Optional parts of the kit: the extra of pyproject.toml that installs each, by the module it brings.
EXTRAS = {"nbgrader": "nbgrader", "ray": "cluster"}


def require_extra(module: str, what: str) -> None:
    """Stop with the install command when ``module``, which only an extra of the kit installs, is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        extra = EXTRAS[module]
        raise AutograderError(f"{what} needs {module}, which the kit installs only with its '{extra}' extra: "
                              f"pip install -e \".[{extra}]\" in the kit's folder (or pip install "
                              f"\"autograder[{extra}]\")")


def export_nbgrader_course(*, out_dir: str | Path, config_path: str | Path | None = None,
                           assignment_ids: Sequence[str] | None = None) -> list[Path]:
    """Write an nbgrader course folder (nbgrader_config.py, source/<id>/<id>.ipynb) graded by the kit.
    Needs the kit's nbgrader extra, which a student's install leaves out."""
    require_extra("nbgrader", "the nbgrader export")
    from .integrations.nbgrader import export_nbgrader

    return export_nbgrader(out_dir=out_dir, config_path=config_path,
                           assignment_ids=list(assignment_ids) if assignment_ids else None)


def export_gradescope_archive(*, assignment_id: str, out_zip: str | Path, config_path: str | Path | None = None,
                              data_dir: str | Path | None = None) -> Path:
    """Write a Gradescope autograder zip for one assignment (with data_dir: the data its checks read)."""
    from .integrations.gradescope import export_gradescope

    return export_gradescope(assignment_id=assignment_id, out_zip=out_zip, config_path=config_path,
                             data_dir=data_dir)


def archived_data(archive: str | Path) -> list[str]:
    """The data folders a Gradescope archive carries (``MNIST``, ``cifar-10-batches-py``)."""
    import zipfile

    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    return sorted({name.split("/")[1] for name in names if name.startswith("data/") and name.count("/") > 1})


def audit_assignments(*, assignment_ids: Sequence[str], out_dir: str | Path | None = None,
                      config_path: str | Path | None = None, data_dir: str | Path | None = None,
                      device: str | None = None, seed: int | None = None, jobs: int | None = None,
                      max_mutants: int | None = None, operators: Sequence[str] | None = None,
                      console: Console | None = None) -> list:
    """Grade mutants of each assignment's reference solution (the mistakes students make, see
    audit/mutations/) in one warm batch per assignment and report the mutation score: the share of
    non-equivalent mutants that lost at least one point. With ``out_dir``: DIR/audit.json,
    DIR/audit.html and the mutants. See audit/run.py."""
    from .audit.report import print_audit, write_audit_html, write_audit_json
    from .audit.run import audit_assignments as audit

    audits = audit(assignment_ids=assignment_ids, out_dir=out_dir, config_path=config_path, data_dir=data_dir,
                   device=device, seed=seed, jobs=jobs, max_mutants=max_mutants, operators=operators,
                   console=console)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        write_audit_json(audits, out / "audit.json")
        write_audit_html(audits, out / "audit.html")
    if console is not None:
        print_audit(audits, console, out)
    return audits
