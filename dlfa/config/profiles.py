"""Params files: read (a profile over the one its ``base`` names), validated with the files they
name, and written back. A process reads each file once: ``load`` returns the same ``Params`` while
the files are unchanged."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from dlfa.config.grid import local_file_problems
from dlfa.config.params import Params, ParamsError, checked_params
from dlfa.paths import resolve


def validate(raw: Any, source: str = "params") -> Params:
    """The study's ``Params``, or ParamsError naming every problem: its keys and values, then (once
    those are sound) every local file the study would read."""
    params = checked_params(raw, source)
    problems = local_file_problems(params)
    if problems:
        raise ParamsError(source, problems)
    return params


BASE_KEY = "base"  # a profile may state only what differs from another: base: paper.yaml


def read_profile(path: str | Path, seen: tuple[Path, ...] = (), read: list[Path] | None = None) -> dict[str, Any]:
    """A params file's keys, over those of the file its ``base`` names (relative to it, and so on),
    without ``base``; ParamsError names the file and what is wrong."""
    path = resolve(path)
    if not path.is_file():
        named = f" (the '{BASE_KEY}' of {seen[-1].name})" if seen else ""
        raise ParamsError(str(path), [f"no such file{named}; the shipped ones are in params/ (e.g. params/smoke.yaml)"])
    if path in seen:
        raise ParamsError(str(path), [f"'{BASE_KEY}' goes round in a circle: "
                                      + " -> ".join(p.name for p in (*seen, path))])
    if read is not None:
        read.append(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(str(path), [f"not valid YAML: {err}"]) from None
    if not isinstance(raw, dict) or BASE_KEY not in raw:
        return raw
    base = raw.pop(BASE_KEY)
    if not isinstance(base, str):
        raise ParamsError(str(path), [f"'{BASE_KEY}' must name another params file; got {base!r}"])
    return {**read_profile(path.parent / base, (*seen, path), read), **raw}


_LOADED: dict[Path, tuple[tuple, Params]] = {}  # path -> (its files' stamps, its Params)


def _stamps(paths: list[Path]) -> tuple:
    return tuple((p, s.st_mtime_ns, s.st_size) for p, s in ((p, os.stat(p)) for p in paths))


def load(path: str | Path) -> Params:
    """Read and validate a params file (over its ``base``, if it names one); ParamsError names the
    file and every problem. Read once per process: the same ``Params`` while its files are unchanged."""
    path = resolve(path)
    cached = _LOADED.get(path)
    if cached is not None:
        try:
            if _stamps([p for p, *_ in cached[0]]) == cached[0]:
                return cached[1]
        except OSError:
            pass
    read: list[Path] = []
    params = validate(read_profile(path, read=read), str(path))
    _LOADED[path] = (_stamps(read), params)
    return params


def dump(params: Params) -> str:
    """The params as a params file (what ``load`` reads back equal)."""
    return yaml.safe_dump(params.to_dict(), sort_keys=False)
