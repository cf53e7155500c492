"""Locks in the study folder, so that two processes never write the same products at once.

``flock`` locks belong to the open file: the kernel releases them when the holder exits, killed or
not, so a crashed study never leaves a stale lock behind. The file keeps the holder's pid, host and
command, to name it in the refusal.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dlfa.layout import StudyLayout


class Busy(RuntimeError):
    """Another process holds the lock."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return (f"pid {info['pid']} on {info['host']}, since {info['since']}: {info['command']}")
    except (OSError, ValueError, KeyError):
        return "another process"


@contextmanager
def hold(path: str | os.PathLike, what: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock file ``path`` for the block; raise Busy naming the holder (unless ``wait``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise Busy(f"{what} is in use by {_holder(path)}. Wait for it to finish (or stop it); "
                       f"the lock is released as soon as that process exits") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def study_lock(study: Path):
    """The lock of a whole study folder (``dlfa run``, ``prepare``, ``report``)."""
    return hold(Path(study) / ".lock", f"study folder {study}")


def run_lock(study: Path, run_id: str, wait: bool = False):
    """The lock of one run: whoever holds it is the only one training it."""
    return hold(StudyLayout(Path(study)).run(run_id).folder / ".lock", f"run {run_id}", wait)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete what an interrupted atomic write left behind (``.<name>.*.tmp*`` files, ``.<name>.tmp-<pid>``
    folders) under ``folder``; only safe while holding the folder's lock. Returns what was removed."""
    import shutil
    removed = []
    for path in sorted(Path(folder).rglob(".*.tmp*")):
        if not path.exists():  # inside a folder removed just before
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
        removed.append(path)
    return removed
