"""The loop with which the child and the executor answer the parent, and the words for what failed.

``answer_questions`` reads a question (wire/protocol.py), calls the handler its
``"op"`` names with its ``"args"``, and writes the answer with the seconds it took,
until the parent says ``"bye"`` or closes the pipe; then the process leaves at
once. An exception is an answer, never a crash: ``describe`` turns it into plain
data for the parent to word. A ``SubmissionFact`` (wire/answers.py) is a sentence
for the student as it stands (``"failure": true``); any other exception is
reported by its type, its message and, in the child, the submission's line.

The child passes the submission's file name: its code runs in this process, so
every exception, ``SystemExit`` and ``KeyboardInterrupt`` included, is answered,
and exits, interruptions, unfinished code and GPU calls get words of their own.
The executor passes none: it runs only the grader's code on a rebuilt graph, so
it answers an ``Exception`` only, and a graph that needs more memory than the
grader allows is said as a sentence.
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

from . import protocol
from .answers import SubmissionFact

CUDA_MARKERS = (
    "Torch not compiled with CUDA enabled",
    "Found no NVIDIA driver",
    "No CUDA GPUs are available",
    "CUDA driver initialization failed",
    "no kernel image is available",
)
GPU_HINT = ("the code asks for a GPU but this grader has none: use the device of the input (x.device) instead "
            "of .cuda() or device='cuda'")
MAX_MESSAGE = 1000
_ASKED_BYTES = re.compile(r"tried to allocate (\d+) bytes")


def _where(exc: BaseException, filename: str) -> str:
    """The last line of the submission's own code in the traceback."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).name == filename:
            where = f"{filename}, line {frame.lineno}, in {frame.name}"
    return where


def _submission_words(exc: BaseException, message: str, filename: str) -> tuple[str, str, str]:
    """(message, hint, where) for an exception raised where the submission's code runs."""
    hint = ""
    if isinstance(exc, SystemExit):
        message = f"the submission called sys.exit({exc.code!r})"
    elif isinstance(exc, KeyboardInterrupt):
        message = "the submission raised KeyboardInterrupt"
    elif isinstance(exc, NotImplementedError):
        hint = "not implemented yet"
    elif any(marker in message for marker in CUDA_MARKERS):
        hint = GPU_HINT
    if isinstance(exc, SyntaxError):
        message = str(exc.msg or message)       # str(exc) repeats the file and line that `where` gives
        return message, hint, f"{filename}, line {exc.lineno}"
    return message, hint, _where(exc, filename)


def _memory_sentence(exc: BaseException, message: str) -> str:
    """The sentence for a graph that asks for more memory than the grader allows; '' for anything else."""
    if not (isinstance(exc, MemoryError) or "can't allocate memory" in message
            or "out of memory" in message.lower()):
        return ""
    asked = _ASKED_BYTES.search(message)
    size = f" ({int(asked.group(1)) / 2**30:,.1f} GiB in one tensor)" if asked else ""
    return (f"the code asks for more memory than the grader allows{size}: keep every tensor to the sizes the "
            "exercise needs")


def describe(exc: BaseException, submission: str = "") -> dict:
    """A plain description of what went wrong, for the parent to word. ``submission`` is the
    submission's file name where its code runs in this process (the child), else ''."""
    message, hint, where = str(exc), "", ""
    failure = isinstance(exc, SubmissionFact)
    if submission:
        message, hint, where = _submission_words(exc, message, submission)
    else:
        sentence = _memory_sentence(exc, message)
        if sentence:
            message, failure = sentence, True
    described = {
        "type": type(exc).__name__,
        "message": message[:MAX_MESSAGE],
        "where": where,
        "hint": hint,
        "stage": getattr(exc, "stage", ""),
        "failure": failure,
    }
    # a forward() that could not be compiled was rerun eagerly for its words (child/trace_failures.py):
    # the batch it ran and the layers measured up to the error, for display only
    batch = getattr(exc, "batch", None)
    if isinstance(batch, int) and not isinstance(batch, bool):
        described["batch"] = batch
    layers = getattr(exc, "measured_layers", None)
    if isinstance(layers, list):
        described["layers"] = layers
    return described


def leave() -> NoReturn:
    """Exit now: flush what was printed, then skip the interpreter's teardown (unloading torch
    takes about a second, and a submission's atexit hooks must not run)."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # the submission may have replaced or closed them
            pass
    os._exit(0)


def answer_questions(requests: int, answers: int, handlers: Mapping[str, Callable[..., Any]], state: Any,
                     submission: str = "") -> NoReturn:
    """Answer questions read from fd ``requests`` on fd ``answers`` with ``handlers[op](state, **args)``
    until told "bye"; ``submission`` as for ``describe``."""
    caught = BaseException if submission else Exception
    while True:
        request = protocol.read_message(requests)
        if request is None or request.get("op") == "bye":
            leave()
        started = time.perf_counter()
        try:
            handler = handlers[request["op"]]
            answer = {"ok": True, "value": handler(state, **request.get("args", {}))}
        except caught as exc:  # a failure is an answer, not a crash
            answer = {"ok": False, "error": describe(exc, submission)}
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
