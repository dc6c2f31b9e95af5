"""The child's main loop: read a question, run its probe, send the answer.

Started by the parent as
``python -I -c "<bootstrap>" --requests FD --answers FD --submission FILE ...``.
Every exception the submission raises, ``SystemExit`` and
``KeyboardInterrupt`` included, becomes an answer describing it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from ..wire import protocol
from .probes import ANSWERS, AnswerFailure, ChildState

CUDA_MARKERS = (
    "Torch not compiled with CUDA enabled",
    "Found no NVIDIA driver",
    "No CUDA GPUs are available",
    "CUDA driver initialization failed",
    "no kernel image is available",
)


def _where(exc: BaseException, filename: str) -> str:
    """The last line of the submission's own code in the traceback."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).name == filename:
            where = f"{filename}, line {frame.lineno}, in {frame.name}"
    return where


def describe(exc: BaseException, filename: str) -> dict:
    """A plain description of what went wrong, for the parent to word."""
    kind = type(exc).__name__
    message = str(exc)
    hint = ""
    if isinstance(exc, SystemExit):
        message = f"the submission called sys.exit({exc.code!r})"
    elif isinstance(exc, KeyboardInterrupt):
        message = "the submission raised KeyboardInterrupt"
    elif isinstance(exc, NotImplementedError):
        hint = "not implemented yet"
    elif any(marker in message for marker in CUDA_MARKERS):
        hint = ("the code asks for a GPU but this grader has none: use the device of the "
                "input (x.device) instead of .cuda() or device='cuda'")
    if isinstance(exc, SyntaxError):
        message = str(exc.msg or message)       # str(exc) repeats the file and line that `where` gives
        where = f"{filename}, line {exc.lineno}"
    else:
        where = _where(exc, filename)
    described = {
        "type": kind,
        "message": message[:1000],
        "where": where,
        "hint": hint,
        "stage": getattr(exc, "stage", ""),
        "failure": isinstance(exc, AnswerFailure),
    }
    # a forward() that could not be compiled was rerun eagerly for its words (compile.py): the batch it
    # ran and the layers measured up to the error, for display only
    batch = getattr(exc, "batch", None)
    if isinstance(batch, int) and not isinstance(batch, bool):
        described["batch"] = batch
    layers = getattr(exc, "measured_layers", None)
    if isinstance(layers, list):
        described["layers"] = layers
    return described


def register_answers() -> None:
    """Import every module of questions: each registers its handlers with ``@answers`` as it is
    imported, so this list is where a new module of questions is added."""
    from . import probes_functions, probes_regression, probes_training_code  # noqa: F401


def _leave() -> None:
    """Exit now: flush what the submission printed, then skip the interpreter's teardown
    (unloading torch takes about a second, and the submission's atexit hooks must not run)."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # the submission may have replaced or closed them
            pass
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--answers", type=int, required=True)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--data", default="")
    args = parser.parse_args(argv)
    return serve(args.requests, args.answers, Path(args.submission), device=args.device, seed=args.seed,
                 threads=args.threads, data=args.data)


def serve(requests: int, answers: int, submission: Path, *, device: str, seed: int, threads: int,
          data: str) -> int:
    """Answer questions about ``submission`` until told "bye" (also the entry of a forked child)."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    register_answers()
    state = ChildState(
        submission=submission,
        device=device,
        seed=seed,
        data_file=Path(data) if data else None,
    )
    sys.argv = [submission.name]  # scripts that read sys.argv see no grader flags
    sys.path.insert(0, str(submission.parent))

    while True:
        request = protocol.read_message(requests)
        if request is None or request.get("op") == "bye":
            _leave()
        started = time.perf_counter()
        try:
            handler = ANSWERS[request["op"]]
            answer = {"ok": True, "value": handler(state, **request.get("args", {}))}
        except BaseException as exc:  # the submission's errors are answers, not crashes
            answer = {"ok": False, "error": describe(exc, submission.name)}
        answer["seconds"] = time.perf_counter() - started
        try:
            protocol.write_message(answers, answer)
        except Exception as exc:  # e.g. a value torch cannot serialise
            protocol.write_message(answers, {
                "ok": False,
                "seconds": answer["seconds"],
                "error": {"type": type(exc).__name__, "message": f"the result could not be sent back: {exc}",
                          "where": "", "hint": "", "stage": "", "failure": True},
            })
