"""The `autograder` command line: thin click commands over autograder.commands."""

from __future__ import annotations

import os
import signal
import sys
import threading

import click
from rich.console import Console
from rich.table import Table

from .errors import AutograderError
from .settings.schema import DEVICES

DEVICE = click.Choice(DEVICES)


def _kit(prestarted=None):
    """The kit's commands, imported when a command runs: they load torch, and `grade` and `check`
    first start the batch's warm processes so that those import torch alongside (processes/prestart.py);
    an executor put off until torch is loaded starts here."""
    from . import commands

    if prestarted is not None:
        prestarted.start_deferred()
    return commands


def _terminate(signum, frame):
    """SIGTERM ends a command as Ctrl-C does: children stopped, reports of what was graded written."""
    raise KeyboardInterrupt


class KitGroup(click.Group):
    """Turns AutograderError into `Error: ...` and its exit status, and Ctrl-C into a short
    message and status 130, without a traceback."""

    def invoke(self, ctx):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _terminate)
        try:
            return super().invoke(ctx)
        except AutograderError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted: every submission's process was stopped; the reports hold what was "
                       "graded before.", err=True)
            sys.exit(130)


def toml_value(value) -> str:
    from .checks.authoring import toml_value as written

    return written(value)


def common_options(func):
    func = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        help="grading.toml to use (default: found from the current folder)")(func)
    func = click.option("--data-dir", type=click.Path(file_okay=False),
                        help="folder holding MNIST/raw/ (default: $AUTOGRADER_DATA, grading.toml, ./data)")(func)
    func = click.option("--device", type=DEVICE, default=None,
                        help="where training checks run (default: grading.toml's, GPU when present)")(func)
    func = click.option("--seed", type=int, default=None, help="seed for every child (default: grading.toml's)")(func)
    return func


@click.group(cls=KitGroup)
@click.version_option(package_name="autograder")
def main():
    """Grade PyTorch assignments: shapes, layers, gradients and a short training run."""


@main.command("list")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="grading.toml to use")
def list_command(config_path):
    """List the assignments and their checks with points."""
    console = Console()
    for assignment in _kit().list_assignments(config_path=config_path):
        table = Table(title=f"{assignment.id}: {assignment.title} (submit {assignment.file})")
        table.add_column("check")
        table.add_column("points", justify="right")
        table.add_column("what it verifies", overflow="fold")
        for check in assignment.checks:
            table.add_row(check.name, f"{check.points:g}", check.description)
        table.add_row("[bold]total[/bold]", f"[bold]{assignment.max_score:g}[/bold]", "")
        console.print(table)


@main.command("kinds")
@click.argument("names", nargs=-1)
def kinds_command(names):
    """List the check kinds grading.toml can use (or NAMES): keys, defaults, descriptions, an example."""
    from rich.text import Text

    console = Console()
    for info in _kit().list_kinds(names=names or None):
        title = Text.assemble((info.name, "bold"), f": {info.summary}",
                              " (reads the [training] recipe's dataset)" if info.needs_data else "")
        table = Table(title=title, title_justify="left")
        table.add_column("key")
        table.add_column("default", overflow="fold")
        table.add_column("what it means", overflow="fold")
        for key in info.keys:
            choices = f" (one of: {', '.join(toml_value(c) for c in key.choices)})" if key.choices else ""
            table.add_row(key.name, "required" if key.required else toml_value(key.default),
                          key.description + choices)
        if info.keys:
            console.print(table)
        else:
            console.print(title, Text("(no keys of its own)", style="dim"))
        console.print(Text("example:", style="dim"))
        console.print(Text(info.example), highlight=False)


@main.command("check")
@click.argument("assignment")
@click.argument("file", required=False, type=click.Path())
@click.option("--feedback-page", type=click.Path(dir_okay=False),
              help="where to write the HTML feedback page (default: <file stem>_feedback.html beside FILE)")
@common_options
def check_command(assignment, file, feedback_page, config_path, data_dir, device, seed):
    """Grade your FILE (default: ./<assignment file>), show every check and write a feedback page."""
    from .processes.prestart import start_processes

    prestarted = start_processes(assignment_id=assignment, config_path=config_path, data_dir=data_dir,
                                 device=device, seed=seed, jobs=1, submissions=[file or "."])
    try:
        result = _kit(prestarted).check_submission(assignment_id=assignment, path=file, config_path=config_path,
                                                   data_dir=data_dir, device=device, seed=seed,
                                                   feedback_page=feedback_page or True, console=Console(),
                                                   prestarted=prestarted)
    finally:        # whatever the batch did not take (the data was missing, say)
        if prestarted is not None:
            prestarted.close()
    sys.exit(check_exit_status(result))


# `autograder check`'s exit status: every check passed; a check failed; the only checks not passed could
# not run for want of data (offline, no data folder), so the code was not faulted.
PASSED, FAILED, NOT_RUN = 0, 1, 3


def check_exit_status(result) -> int:
    not_run = result.extra.get("not_run") if isinstance(result.extra, dict) else None
    not_run = not_run if isinstance(not_run, dict) else {}
    if any(not c.passed and c.name not in not_run for c in result.checks):
        return FAILED
    return NOT_RUN if not_run else PASSED


@main.command("grade")
@click.argument("assignment")
@click.argument("submissions", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder for <name>/results.json, <name>/feedback.html, grades.csv and report.html")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="submissions graded at once  [default: one per usable core, at most one per submission]")
@click.option("--shard", default=None, metavar="K/N",
              help="grade only the K-th of N parts of the batch (K from 0), for `autograder merge` to join")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="grade on a Ray cluster: ray://HOST:10001, or auto for one started on this machine "
                   "(needs the kit's cluster extra)")
@common_options
def grade_command(assignment, submissions, out_dir, jobs, shard, cluster, config_path, data_dir, device, seed):
    """Grade each SUBMISSION (a file, a folder holding the assignment's file, or a course platform's
    bulk download as a .zip: Canvas, Moodle or Gradescope's export)."""
    from .processes.prestart import start_processes

    if shard is not None:        # refused before anything starts
        from .grading.shards import Shard

        shard = Shard.parse(shard)
    if cluster is not None:      # the cluster's nodes grade: nothing to start here
        _kit().require_extra("ray", "--cluster")
        prestarted = None
    else:
        prestarted = start_processes(assignment_id=assignment, config_path=config_path, data_dir=data_dir,
                                     device=device, seed=seed, jobs=jobs, submissions=submissions)
    try:
        _kit(prestarted).grade_submissions(assignment_id=assignment, submissions=submissions, out_dir=out_dir,
                                           config_path=config_path, data_dir=data_dir, device=device, seed=seed,
                                           jobs=jobs, console=Console(), prestarted=prestarted, shard=shard,
                                           cluster=cluster)
    finally:        # whatever the batch did not take (the data was missing, say)
        if prestarted is not None:
            prestarted.close()


@main.command("merge")
@click.argument("shard_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder for every submission's folder, grades.csv and report.html")
def merge_command(shard_dirs, out_dir):
    """Join the --out folders of `autograder grade ... --shard K/N` runs (all N of them) into one."""
    _kit().merge_shards(shard_dirs=shard_dirs, out_dir=out_dir, console=Console())


@main.command("verify")
@click.argument("assignments", nargs=-1)
@common_options
def verify_command(assignments, config_path, data_dir, device, seed):
    """Check that every solution earns full marks and every stub earns zero."""
    outcomes = _kit().verify_kit(config_path=config_path, data_dir=data_dir, device=device, seed=seed,
                                 assignment_ids=assignments or None, console=Console())
    sys.exit(0 if all(o.ok for o in outcomes) else 1)


@main.command("audit")
@click.argument("assignments", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="folder for audit.json, audit.html and the mutants (default: the console summary only)")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="mutants graded at once  [default: one per usable core]")
@click.option("--max-mutants", type=click.IntRange(1, None), default=None,
              help="grade at most N mutants per assignment, spread evenly over the operators  [default: all]")
@click.option("--operator", "operators", multiple=True,
              help="only this mutation operator (repeatable; default: every one)")
@common_options
def audit_command(assignments, out_dir, jobs, max_mutants, operators, config_path, data_dir, device, seed):
    """Prove each ASSIGNMENT's checks catch the mistakes students make: grade mutants of its reference
    solution and report the mutation score, operator by operator, with every surviving mutant."""
    _kit().audit_assignments(assignment_ids=assignments, out_dir=out_dir, config_path=config_path,
                             data_dir=data_dir, device=device, seed=seed, jobs=jobs, max_mutants=max_mutants,
                             operators=operators or None, console=Console())


@main.group("export", cls=KitGroup)
def export_group():
    """Export the assignments to nbgrader or Gradescope."""


@export_group.command("nbgrader")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--assignment", "assignments", multiple=True,
              help="assignment to export (repeatable; default: every one with a stub and a solution)")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="grading.toml to use")
def export_nbgrader_command(out_dir, assignments, config_path):
    """Write an nbgrader course folder in OUT_DIR whose test cells run the kit's checks."""
    written = _kit().export_nbgrader_course(out_dir=out_dir, config_path=config_path,
                                            assignment_ids=assignments or None)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo("next: cd into it and run `nbgrader generate_assignment <id>`; set AUTOGRADER_DATA before "
               "`nbgrader autograde <id>`")


@export_group.command("gradescope")
@click.argument("assignment")
@click.argument("out_zip", type=click.Path(dir_okay=False))
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="folder holding MNIST/raw/ to put in the archive, for assignments that train on MNIST "
                   "(default: setup.sh downloads it)")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="grading.toml to use")
def export_gradescope_command(assignment, out_zip, data_dir, config_path):
    """Write a Gradescope autograder archive OUT_ZIP for ASSIGNMENT."""
    path = _kit().export_gradescope_archive(assignment_id=assignment, out_zip=out_zip,
                                            config_path=config_path, data_dir=data_dir)
    click.echo(f"wrote {path}: upload it as the assignment's autograder on Gradescope")
    if data_dir and not _kit().archived_data(path):
        click.echo(f"note: {assignment} reads no dataset, so the archive holds none (--data-dir was not needed)")


def run() -> None:
    """The console script: run the command, then leave at once.

    Every report is written and closed by the time a command returns, so the
    process skips the interpreter's teardown, which spends about half a second
    unloading torch. (Tests call ``main`` itself, which returns normally.)
    """
    try:
        main()
        status = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            status = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # e.g. `autograder list | head`: the reader is gone
            pass
    os._exit(status)
