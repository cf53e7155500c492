"""Where things live. Paths resolve from the project root, never from the caller's cwd."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "params"


def outputs_root(override: str | os.PathLike | None = None) -> Path:
    """The folder holding one sub-folder per study: ``override``, else $DLFA_OUTPUTS, else outputs/."""
    chosen = override or os.environ.get("DLFA_OUTPUTS") or ROOT / "outputs"
    return resolve(chosen)


def study_dir(study: str, outputs: str | os.PathLike | None = None) -> Path:
    return outputs_root(outputs) / study


def resolve(path: str | os.PathLike) -> Path:
    """A user-given path: absolute as is, relative to the project root otherwise."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (ROOT / p).resolve()
