"""The locked environment: every dependency of the project and its extras at one exact version.

``python -m tools.lock`` (``make lock``) asks pip's own resolver, the one ``make install`` uses, what
it would install for ``torch==$TORCH_VERSION -e .[every extra]`` on this machine
(``pip install --dry-run --report``), and writes

- ``requirements/lock.txt``: ``name==version`` for every package but torch (chosen per machine: its
  CPU or CUDA build, ``TORCH_VERSION``), what only torch needs, and the project itself; ``make
  install`` passes it to pip as constraints, so whatever extras it installs come at these versions;
- ``environment.yml``: the same pins for a conda environment.

The lock's first line is the digest of pyproject.toml's dependency lists it was resolved from; a
test fails when they disagree (refresh with ``make lock``). Versions are pinned without hashes: a
wheel's hash is that of one platform, and the lock serves Linux, macOS and conda alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements" / "lock.txt"
ENVIRONMENT = ROOT / "environment.yml"
# torch: per machine (TORCH_VERSION); dlfa: the project, installed editable; sympy and mpmath: only
# torch needs them, and some torch releases pin sympy exactly (2.5.1: sympy==1.13.1)
UNLOCKED = {"torch", "dlfa", "sympy", "mpmath"}
CONDA_PYTHON = "3.11"


def declared(pyproject: Path = PYPROJECT) -> dict[str, list[str]]:
    """pyproject.toml's requirements: ``dependencies`` and each extra's."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return {"dependencies": list(project["dependencies"]), **project.get("optional-dependencies", {})}


def digest(pyproject: Path = PYPROJECT) -> str:
    """What the lock was resolved from: a digest of the requirement lists (not of comments or layout)."""
    return hashlib.sha256(json.dumps(declared(pyproject), sort_keys=True).encode()).hexdigest()[:16]


def header(pyproject: Path = PYPROJECT) -> str:
    return f"# resolved from pyproject.toml {digest(pyproject)} by `make lock` (python -m tools.lock); torch is chosen per machine"


def read_lock(lock: Path = LOCK) -> dict[str, str]:
    """The lock's pins, name (normalised) -> version."""
    pins = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[normalise(name)] = version
    return pins


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def resolve(torch_version: str, extras: list[str]) -> dict[str, str]:
    """name -> version of what pip would install here for torch and the project with ``extras``."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                   "--report", str(report), f"torch=={torch_version}", "-e", f"{ROOT}[{','.join(extras)}]"]
        subprocess.run(command, check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        installed = json.loads(report.read_text())["install"]
    return {normalise(p["metadata"]["name"]): p["metadata"]["version"] for p in installed}


def lock_text(pins: dict[str, str]) -> str:
    return "\n".join([header(), *(f"{name}=={pins[name]}" for name in sorted(pins) if name not in UNLOCKED)]) + "\n"


def environment_text(pins: dict[str, str], torch_version: str) -> str:
    """environment.yml: Python, then pip installs torch, the locked versions and the project."""
    lines = ["# Conda users: `conda env create -f environment.yml && conda activate dlfa`, then `make test` /",
             "# `make study` use this environment. Generated with requirements/lock.txt by `make lock`.",
             "name: dlfa", "channels:", "  - conda-forge", "dependencies:", f"  - python={CONDA_PYTHON}", "  - pip",
             "  - pip:", f"      - torch=={torch_version}"]
    lines += [f"      - {name}=={pins[name]}" for name in sorted(pins) if name not in UNLOCKED]
    lines += ["      - -e .[notebooks,dev]"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default=os.environ.get("TORCH_VERSION") or "2.13.0", help="torch to resolve beside")
    args = parser.parse_args(argv)
    extras = [name for name in declared() if name != "dependencies"]
    pins = resolve(args.torch, extras)
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(lock_text(pins))
    ENVIRONMENT.write_text(environment_text(pins, args.torch))
    print(f"{LOCK.relative_to(ROOT)}: {len(pins) - len(UNLOCKED & set(pins))} packages (extras: {', '.join(extras)}); "
          f"{ENVIRONMENT.relative_to(ROOT)} pins the same")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
