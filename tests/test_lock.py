"""tools.lock: the locked environment agrees with pyproject.toml, environment.yml and what is installed."""

import importlib.metadata
import re

from packaging.requirements import Requirement

from tools.lock import ENVIRONMENT, LOCK, UNLOCKED, declared, digest, environment_text, normalise, read_lock

MAKEFILE_TORCH = re.search(r"^TORCH_VERSION \?= (\S+)$", (LOCK.parents[1] / "Makefile").read_text(), re.M).group(1)


def test_the_lock_was_resolved_from_this_pyproject():
    first = LOCK.read_text().splitlines()[0]
    assert digest() in first, "pyproject.toml's dependencies changed since the lock was made: run `make lock`"


def test_every_declared_requirement_is_locked_at_a_version_it_allows():
    pins = read_lock()
    for group, requirements in declared().items():
        for text in requirements:
            requirement = Requirement(text)
            name = normalise(requirement.name)
            if name in UNLOCKED:
                continue
            assert name in pins, f"{group}: {text} is not in {LOCK.name}: run `make lock`"
            assert requirement.specifier.contains(pins[name], prereleases=True), \
                f"{group}: {text} does not allow the locked {name}=={pins[name]}: run `make lock`"


def test_the_conda_environment_pins_the_locked_versions():
    assert ENVIRONMENT.read_text() == environment_text(read_lock(), MAKEFILE_TORCH), "run `make lock`"


def test_the_installed_packages_are_the_locked_versions():
    pins = read_lock()
    installed = {normalise(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differ = {name: (installed[name], pins[name]) for name in pins if name in installed and installed[name] != pins[name]}
    assert not differ, f"installed (left) is not the lock (right): {differ}; reinstall with `make install`"
