"""Grade a batch on a Ray cluster: the driver's side of ``autograder grade ... --cluster ADDRESS``.

The driver connects to the cluster, starts one grading slot (cluster/actor.py) per share of the
cluster's cores (``kit.cluster_cpus_per_submission``) or GPUs (``kit.cluster_gpus_per_submission``),
spread over the nodes, and hands each free slot the next submission as bytes. Results come back as
they are done; commands.py writes every file exactly as for a local run.

Faults: a slot that dies (its node left the cluster, its process was killed) takes no result with
it. The submission it held is handed to another slot, at most ``kit.cluster_retries`` times, and
is then reported as a grader fault with the reason: never dropped, never written twice. A lost
slot is not replaced during the batch. Ctrl-C stops every slot's submission at once.

Ray is imported only here, and only when a cluster is asked for (the kit's ``cluster`` extra).
"""

from __future__ import annotations

from collections import Counter, deque
from pathlib import Path
from typing import Callable, Iterator

from ..errors import AutograderError
from ..grading.batch import mark_not_graded
from ..grading.results import SubmissionResult, every_check_failed
from ..settings.plan import data_folder
from .actor import GradingSlot
from .bundle import TooLarge, course_bundle, submission_bundle

# How long slots may take to start (import torch, load the node's data) before the batch goes on
# without those still starting.
SLOT_START_SECONDS = 600.0
STOP_SECONDS = 30.0


def connect(address: str):
    """Connect this process to the Ray cluster at ``address`` ('auto', 'ray://host:10001', host:port)."""
    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise AutograderError(f"could not connect to the Ray cluster at {address} ({exc}): start it first "
                                  "(`ray start --head` on one node, `ray start --address HEAD:6379` on the others), "
                                  "then pass --cluster auto on a node of it, or --cluster ray://HEAD:10001") from None
    return ray


def slot_count(resources: dict, cpus: float, gpus: float, submissions: int) -> int:
    """Grading slots the cluster holds: one per ``cpus`` cores (and ``gpus`` of a GPU, when asked), at most
    one per submission."""
    slots = int(resources.get("CPU", 0) // cpus)
    if gpus > 0:
        slots = min(slots, int(resources.get("GPU", 0) // gpus))
    return max(0, min(slots, submissions))


def _reason(exc: BaseException, limit: int = 300) -> str:
    """The last informative line of a Ray error, which carries a remote traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[-1] if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _fault(assignment, path: Path, why: str) -> SubmissionResult:
    return mark_not_graded(every_check_failed(assignment, path.stem, str(path), why), why)


def graded_on_cluster(address: str, setup_args: dict, paths: dict[int, Path], *,
                      say: Callable[[str], object] | None = None) -> Iterator[tuple[int, SubmissionResult]]:
    """Grade ``paths`` (position in the batch -> submission) on the cluster; yields each result as it is done.
    ``setup_args``: the config, assignment, data_dir, device and seed a local batch would get."""
    ray = connect(address)
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

    config, assignment = setup_args["config"], setup_args["assignment"]
    kit = config.kit
    count = slot_count(ray.cluster_resources(), kit.cluster_cpus_per_submission, kit.cluster_gpus_per_submission,
                       len(paths))
    if count == 0 and paths:
        raise AutograderError(
            f"the Ray cluster at {address} has no room for one grading slot ({kit.cluster_cpus_per_submission:g} "
            f"cores{f' and {kit.cluster_gpus_per_submission:g} GPU' if kit.cluster_gpus_per_submission else ''} "
            f"each; it has {ray.cluster_resources()}): add nodes, or lower kit.cluster_cpus_per_submission or "
            "kit.cluster_gpus_per_submission in grading.toml")
    remote = ray.remote(GradingSlot).options(
        num_cpus=kit.cluster_cpus_per_submission, num_gpus=kit.cluster_gpus_per_submission,
        scheduling_strategy="SPREAD", max_restarts=0, max_concurrency=2)   # 2: stop() while grade() runs
    course = ray.put(course_bundle(config, assignment))
    data_dir = setup_args.get("data_dir")
    slots = [remote.remote(course, assignment.id, data_dir=str(data_dir) if data_dir else None,
                           fallback_data_dir=str(data_folder(config, data_dir)), device=setup_args.get("device"),
                           seed=setup_args.get("seed"), threads=max(1, int(kit.cluster_cpus_per_submission)))
             for _ in range(count)]
    running: dict = {}          # ObjectRef -> (position, path, slot)
    try:
        idle = _started(ray, slots, say)
        queue = deque(paths.items())
        attempts: Counter = Counter()
        while queue or running:
            while idle and queue:
                position, path = queue.popleft()
                try:
                    bundle = submission_bundle(path)
                except (TooLarge, OSError) as exc:
                    yield position, every_check_failed(assignment, path.stem, str(path),
                                                       f"{path.name} cannot be handed to the grader ({exc})")
                    continue
                slot = idle.pop(0)
                running[slot.grade.remote(bundle, path.name)] = (position, path, slot)
            if not running:
                for position, path in queue:     # every slot is gone: nothing is dropped silently
                    yield position, _fault(assignment, path, "no grading slot is left on the cluster: every one "
                                                             "was lost")
                queue.clear()
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            position, path, slot = running.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except RayActorError as exc:        # the slot died: its node left, or its process was killed
                attempts[position] += 1
                why = f"the cluster slot grading it was lost: {_reason(exc)}"
                if say is not None:
                    say(f"{path.name}: {why}" + ("; grading it again on another slot"
                                                 if attempts[position] <= kit.cluster_retries else ""))
                if attempts[position] <= kit.cluster_retries:
                    queue.appendleft((position, path))
                else:
                    yield position, _fault(assignment, path, f"{why}, {attempts[position]} times")
                continue
            except (RayTaskError, GetTimeoutError) as exc:      # the grader failed on the node
                idle.append(slot)
                yield position, _fault(assignment, path, f"the grader failed on the cluster: {_reason(exc)}")
                continue
            idle.append(slot)
            result.source = str(path)
            if attempts[position]:
                result.notes.insert(0, f"graded again on another cluster slot: the slot grading it first was lost "
                                       f"({attempts[position]} time{'s' if attempts[position] > 1 else ''})")
            yield position, result
    finally:
        _stop(ray, slots, stopping=bool(running))


def _started(ray, slots: list, say) -> list:
    """The slots that started; those that failed or did not start in time are dropped, with why."""
    asked = {slot.where.remote(): slot for slot in slots}
    ready, late = ray.wait(list(asked), num_returns=len(asked), timeout=SLOT_START_SECONDS)
    started, problems = [], []
    for ref in ready:
        try:
            ray.get(ref)
            started.append(asked[ref])
        except Exception as exc:  # noqa: BLE001 - a slot that cannot start is reported, not raised
            problems.append(_reason(exc))
    for ref in late:
        ray.kill(asked[ref])
        problems.append(f"did not start within {SLOT_START_SECONDS:g} s")
    if problems and say is not None:
        say(f"{len(problems)} of {len(slots)} grading slots could not start: {problems[0]}")
    if not started:
        raise AutograderError(f"no grading slot could start on the cluster: {problems[0] if problems else '?'}")
    return started


def _stop(ray, slots: list, *, stopping: bool) -> None:
    """Close every slot (its zygote and executor); on Ctrl-C first stop what they are grading."""
    try:
        if stopping:
            ray.wait([slot.stop.remote() for slot in slots], num_returns=len(slots), timeout=STOP_SECONDS)
        ray.wait([slot.close.remote() for slot in slots], num_returns=len(slots), timeout=STOP_SECONDS)
    finally:
        for slot in slots:
            ray.kill(slot)
