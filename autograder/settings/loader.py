"""grading.toml: every point, threshold, budget and limit the grader relies on.

Each key is declared once in ``settings/schema.py`` (or by its check kind in
``autograder.checks``) with its default and a one-line description. An unknown or mistyped key is an
error that names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from .model import LEADERBOARD_VALUES, ORDERS, Assignment, CheckSpec, Config, Key, Kit, Limits, Recipe
from .schema import (ASSIGNMENT_KEYS, COMMON_CHECK_KEYS, CONFIG_NAME, DEVICES, KIT_KEYS, LEADERBOARD_KEYS,
                     LIMIT_KEYS, RETIRED_KEYS, TRAINING_KEYS, VISIBILITIES)


def _unknown_key_error(where: str, key: str, known: dict[str, Key]) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if key in RETIRED_KEYS:
        hint = f"; {RETIRED_KEYS[key]}"
    return ConfigError(
        f"grading.toml: unknown key '{where}{key}'{hint} "
        f"(known keys there: {', '.join(sorted(known))})"
    )


def _check_type(where: str, key: str, value: Any, default: Any) -> Any:
    """Reject a value whose type differs from the default's; ints pass as floats."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:  # None default: any value
        ok = True
    if not ok:
        raise ConfigError(
            f"grading.toml: '{where}{key}' should be {type(default).__name__}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def _check_choice(where: str, key: str, value: Any, spec: Key) -> Any:
    """Reject a value the grader cannot run: one outside the key's ``choices`` (for a list: any item)."""
    if not spec.choices:
        return value
    for item in value if isinstance(value, list) else [value]:
        if item not in spec.choices:
            close = difflib.get_close_matches(str(item), [str(c) for c in spec.choices], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"grading.toml: '{where}{key}' is {item!r}, which the grader cannot run{hint} "
                              f"(it runs {', '.join(repr(c) for c in spec.choices)})")
    return value


def resolve_table(where: str, table: dict[str, Any], keys: dict[str, Key],
                  base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate one TOML table against its declared keys and fill in defaults.

    ``base`` supplies values that replace the declared defaults (used for
    per-assignment limits that override the kit-wide [limits]).
    """
    if not isinstance(table, dict):
        raise ConfigError(f"grading.toml: '{where.rstrip('.')}' should be a table")
    for key in table:
        if key not in keys:
            raise _unknown_key_error(where, key, keys)
    resolved: dict[str, Any] = {}
    for key, spec in keys.items():
        if key in table:
            resolved[key] = _check_choice(where, key, _check_type(where, key, table[key], spec.default), spec)
        elif spec.required:
            raise ConfigError(f"grading.toml: '{where}{key}' is required ({spec.description})")
        elif base is not None and key in base:
            resolved[key] = base[key]
        else:
            resolved[key] = spec.default
    return resolved


def _parse_checks(where: str, table: dict[str, Any], kit: Kit, kinds: Mapping[str, Any]) -> list[CheckSpec]:

    checks = []
    for name, raw in table.items():
        here = f"{where}{name}."
        if not isinstance(raw, dict):
            raise ConfigError(f"grading.toml: '{here.rstrip('.')}' should be a table")
        kind_name = raw.get("kind", name)
        if kind_name not in kinds:
            close = difflib.get_close_matches(kind_name, list(kinds), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"grading.toml: '{here}kind' names unknown check kind '{kind_name}'{hint} "
                f"(known kinds: {', '.join(sorted(kinds))})"
            )
        kind = kinds[kind_name]
        keys = {**COMMON_CHECK_KEYS, **kind.params}
        values = resolve_table(here, raw, keys)
        if values["visibility"] not in VISIBILITIES:
            raise ConfigError(
                f"grading.toml: '{here}visibility' must be one of {', '.join(VISIBILITIES)}"
            )
        params = {k: values[k] for k in kind.params}
        try:
            params = kind.configure(params, kit)
            kind.validate(params)
        except ValueError as exc:
            raise ConfigError(f"grading.toml: '{here.rstrip('.')}': {exc}") from None
        start = _partial_credit_from(here, kind, params, values["partial_credit_from"], kinds)
        checks.append(CheckSpec(
            name=name,
            kind=kind_name,
            points=values["points"],
            visibility=values["visibility"],
            description=values["description"],       # empty: filled in by describe() below
            params=params,
            requires=tuple(values["requires"]),
            partial_credit_from=start,
            extra_credit=values["extra_credit"],
        ))
    names = [check.name for check in checks]
    for check in checks:
        for needed in check.requires:
            if needed not in names or names.index(needed) >= names.index(check.name):
                raise ConfigError(f"grading.toml: '{where}{check.name}.requires' names '{needed}', which is not "
                                  "a check listed before it in the same assignment")
    return checks


def _partial_credit_from(here: str, kind, params: dict[str, Any], start: Any,
                         kinds: Mapping[str, Any]) -> float | None:
    """``partial_credit_from`` checked against the kind's pass mark: a number on the losing side of it."""
    if start is None:
        return None
    if not kind.grades_a_number(params):
        graded = ", ".join(sorted(name for name, k in kinds.items() if k.pass_mark))
        chosen = f" with scenario = {params['scenario']!r}" if "scenario" in params else ""
        raise ConfigError(f"grading.toml: '{here}partial_credit_from' is set, but a {kind.name} check{chosen} "
                          f"compares no measured number with a pass mark, so it has nothing to grade between "
                          f"(kinds that do: {graded})")
    if isinstance(start, bool) or not isinstance(start, (int, float)) or start != start:
        raise ConfigError(f"grading.toml: '{here}partial_credit_from' should be a number, got {start!r}")
    mark = params[kind.pass_mark]
    if kind.lower_is_better and not start > mark:
        raise ConfigError(f"grading.toml: '{here}partial_credit_from' is {start:g}, but lower is better for "
                          f"{kind.pass_mark} ({mark:g}): points start at a value above the pass mark")
    if not kind.lower_is_better and not start < mark:
        raise ConfigError(f"grading.toml: '{here}partial_credit_from' is {start:g}, but it should be below the "
                          f"pass mark {kind.pass_mark} ({mark:g}): points start there and grow up to the mark")
    return float(start)


def _leaderboard(where: str, table: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """``[assignments.<id>.leaderboard]`` as (value, order) pairs, each value one the grader measures."""
    values = resolve_table(where, table, LEADERBOARD_KEYS)
    ranked = []
    for entry in values["rank"]:
        if not isinstance(entry, dict) or set(entry) - {"value", "order"} or "value" not in entry:
            raise ConfigError(f"grading.toml: '{where}rank' should list tables like {{value = \"test_accuracy\", "
                              f"order = \"desc\"}}, got {entry!r}")
        value, order = entry["value"], entry.get("order", LEADERBOARD_VALUES.get(entry["value"], ("desc",))[0])
        if value not in LEADERBOARD_VALUES:
            close = difflib.get_close_matches(str(value), list(LEADERBOARD_VALUES), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"grading.toml: '{where}rank' names {value!r}, which the grader does not measure"
                              f"{hint} (it measures {', '.join(LEADERBOARD_VALUES)})")
        if order not in ORDERS:
            raise ConfigError(f"grading.toml: '{where}rank' orders {value} {order!r}; the order is 'asc' (lowest "
                              "first) or 'desc' (highest first)")
        ranked.append((value, order))
    if table and not ranked:
        raise ConfigError(f"grading.toml: '{where}rank' names no value to rank on")
    return tuple(ranked)


def _with_descriptions(assignment: Assignment, kinds: Mapping[str, Any]) -> Assignment:
    """Each check without a ``description`` gets its kind's, worded with its own numbers."""

    checks = [check if check.description else
              dataclasses.replace(check, description=kinds[check.kind].describe(check, assignment))
              for check in assignment.checks]
    checks = [dataclasses.replace(check, description=f"{check.description} (counts only when "
                                                     f"{' and '.join(check.requires)} passes)")
              if check.requires else check for check in checks]
    checks = [dataclasses.replace(check, description=f"Extra credit, on top of the total: {check.description}")
              if check.extra_credit else check for check in checks]
    return dataclasses.replace(assignment, checks=checks)


def find_config(start: Path | None = None) -> Path:
    """Locate grading.toml: $AUTOGRADER_CONFIG, then the current folder and its
    parents, then the folder the kit is installed from."""
    env = os.environ.get("AUTOGRADER_CONFIG")
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    beside_package = Path(__file__).resolve().parents[2] / CONFIG_NAME
    if beside_package.is_file():
        return beside_package
    raise ConfigError(
        f"no {CONFIG_NAME} found in {here} or its parents: run from the kit's folder, "
        "pass --config PATH, or set AUTOGRADER_CONFIG"
    )


def load_config(path: Path | str | None = None, *, kinds: Mapping[str, Any] | None = None) -> Config:
    """Read and validate grading.toml; every default filled in, every key checked.

    ``kinds`` is the check library's registry (``autograder.checks.KINDS``): each kind declares
    its own keys, so the checks are read only when the caller hands it in. Without it every
    assignment's checks are left out, and torch stays unimported: enough to start a batch's
    warm processes before the rest of the kit is loaded (processes/prestart.py).
    """
    checks = kinds is not None
    path = Path(path) if path else find_config()
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: pass the path of the kit's {CONFIG_NAME}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None

    top_keys = {
        "kit": Key({}, "how the kit runs"),
        "limits": Key({}, "default limits for every assignment"),
        "assignments": Key({}, "one table per assignment"),
    }
    for key in raw:
        if key not in top_keys:
            raise _unknown_key_error("", key, top_keys)
    kit = Kit(**resolve_table("kit.", raw.get("kit", {}), KIT_KEYS))
    if kit.device not in DEVICES:
        raise ConfigError("grading.toml: 'kit.device' must be 'auto', 'cpu' or 'cuda'")
    if kit.cluster_retries < 0 or kit.cluster_cpus_per_submission <= 0 or not \
            (kit.cluster_gpus_per_submission == 0 or 0 < kit.cluster_gpus_per_submission <= 1
             or float(kit.cluster_gpus_per_submission).is_integer()):
        raise ConfigError("grading.toml: kit.cluster_retries must be 0 or more, kit.cluster_cpus_per_submission "
                          "above 0, and kit.cluster_gpus_per_submission 0, a share of one GPU (0.25) or a whole "
                          "number of GPUs")
    limit_values = resolve_table("limits.", raw.get("limits", {}), LIMIT_KEYS)
    limits = Limits(**limit_values)

    assignments: dict[str, Assignment] = {}
    raw_assignments = raw.get("assignments", {})
    if not isinstance(raw_assignments, dict):
        raise ConfigError("grading.toml: 'assignments' should be a table of tables")
    for aid, table in raw_assignments.items():
        where = f"assignments.{aid}."
        values = resolve_table(where, table, ASSIGNMENT_KEYS)
        own_limits = resolve_table(where + "limits.", values["limits"], LIMIT_KEYS, base=limit_values)
        training = (
            Recipe(**resolve_table(where + "training.", values["training"], TRAINING_KEYS))
            if values["training"] else None
        )
        specs = _parse_checks(where + "checks.", values["checks"], kit, kinds) if checks else []
        if checks and not specs:
            raise ConfigError(f"grading.toml: '{where}checks' lists no checks")
        assignment = Assignment(
            id=aid,
            title=values["title"],
            file=values["file"],
            model=values["model"],
            model_args=values["model_args"],
            input_shape=[int(n) for n in values["input_shape"]],
            num_classes=values["num_classes"],
            training=training,
            limits=Limits(**own_limits),
            checks=specs,
            leaderboard=_leaderboard(where + "leaderboard.", values["leaderboard"]),
        )
        if checks and specs and all(check.extra_credit for check in specs):
            raise ConfigError(f"grading.toml: every check of '{where}checks' is extra credit: the assignment "
                              "needs a regular check for a maximum score to be earned against")
        assignments[aid] = _with_descriptions(assignment, kinds) if checks else assignment
    return Config(path=path.resolve(), root=path.resolve().parent, kit=kit,
                  limits=limits, assignments=assignments)
