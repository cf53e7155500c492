"""The stage notebooks (``notebooks/*.py``, jupytext percent files) and their execution with papermill.

Every notebook takes the study's params file as its one parameter (``params_file``), plus where
study folders live (``outputs_dir``) and, for 03, the run (``run_id``); it reads the rest of the
study's parameters from that file, so the keys are declared in one place (``dlfa.config.params``) and
plain papermill runs a stage as well as ``dlfa run`` does.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import re
import signal
from pathlib import Path
from typing import Any

from dlfa.io import atomic_path
from dlfa.paths import NOTEBOOKS

STAGES = ("01_data", "02_typology", "03_train", "04_analysis")


class NotebookFailed(RuntimeError):
    """A stage's notebook stopped with an error; the executed notebook shows where."""


@functools.lru_cache(maxsize=None)  # a study asks once per stage and run; the source does not change
def declared_parameters(name: str) -> dict[str, Any]:
    """The names and default values assigned in a notebook's cell tagged ``parameters``."""
    import jupytext  # not needed to read a study's records
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"notebooks/{name}.py must have exactly one cell tagged 'parameters'; found {len(cells)}")
    found = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def parameters(name: str, params_file: str | Path, outputs_dir: str | Path, run_id: str | None = None) -> dict:
    """What a stage is executed with: the study's params file, where study folders live, and its run."""
    values = {"params_file": str(params_file), "outputs_dir": str(outputs_dir)}
    if run_id is not None:
        values["run_id"] = run_id
    return values


KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]  # no TCP warning

# Run in a reused kernel before each notebook but its first: a new IPython session (empty namespace,
# execution count 1, as a fresh kernel has) with the last notebook's figures closed.
_FRESH_SESSION = """
import sys
if "matplotlib.pyplot" in sys.modules:
    sys.modules["matplotlib.pyplot"].close("all")
get_ipython().reset(new_session=True)
__import__("gc").collect()
"""


class ReusedKernel:
    """One kernel for a sequence of notebooks in this process (``with ReusedKernel() as kernel``, then
    ``execute(..., kernel=kernel)``): started on first use, shut down at the end, started afresh if it
    died. Each notebook after the first starts in a new IPython session, so no name it defined
    survives, while the modules it imported stay imported: torch, transformers and datasets are paid
    once per study (``dlfa run``: every stage and local run) or per worker instead of once per
    notebook. What a module keeps at module level does survive; the train notebook's runs set their
    seeds and read everything else from files.

    Like a kernel papermill starts, it exits by itself when this process dies (ipykernel polls its
    parent), so a killed study leaves no kernel behind.
    """

    def __init__(self, ignored_signals: tuple[int, ...] = ()):
        self.manager = None
        self.used = False
        self.ignored_signals = ignored_signals  # the kernel ignores these (it inherits SIG_IGN)

    def __enter__(self) -> "ReusedKernel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ready(self):
        """The kernel manager for the next notebook: started, alive and with a fresh session."""
        if self.manager is not None and not self.manager.is_alive():
            self.close()
        if self.manager is not None and self.used and not self._fresh_session():
            self.close()  # a kernel that cannot start a new session is replaced, not trusted
        if self.manager is None:
            from jupyter_client.manager import KernelManager

            class _Manager(KernelManager):  # keeps the clients nbclient opens, to close them after each notebook
                def client(self, **kwargs):
                    client = super().client(**kwargs)
                    self.opened.append(client)
                    return client

            self.manager = _Manager(kernel_name="python3")
            self.manager.opened = []
            handlers = {s: signal.signal(s, signal.SIG_IGN) for s in self.ignored_signals}
            try:
                self.manager.start_kernel(extra_arguments=KERNEL_ARGUMENTS, cwd=str(NOTEBOOKS))
            finally:
                for number, handler in handlers.items():
                    signal.signal(number, handler)
        self.used = True
        return self.manager

    def _fresh_session(self) -> bool:
        client = self.manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            # output_hook: the cell's value (gc.collect()'s count) is not printed on this process's stdout
            reply = client.execute_interactive(_FRESH_SESSION, store_history=False, timeout=60,
                                               output_hook=lambda msg: None)
            return reply["content"]["status"] == "ok"
        except (RuntimeError, TimeoutError):
            return False
        finally:
            self.release()

    def release(self) -> None:
        """Close the clients opened on the kernel (their channels and heartbeat thread)."""
        if self.manager is not None:
            for client in self.manager.opened:
                client.stop_channels()
            self.manager.opened.clear()

    def close(self) -> None:
        if self.manager is not None:
            self.release()
            if self.manager.is_alive():
                # Closed between notebooks, never during one: nothing of a study is left to write in
                # the kernel, so it is stopped at once (a graceful shutdown waited 1.7 s for it).
                self.manager.shutdown_kernel(now=True)
            self.manager.cleanup_resources()
            self.manager = None


# A kernel that dies before it answers has run nothing of the notebook: start another. (Seen when
# the jobs of an array start their kernels at the same moment on a loaded machine.)
KERNEL_DIED = "Kernel died before replying to kernel_info"
KERNEL_START_RETRIES = 2


def execute(name: str, out_path: Path, parameters: dict[str, Any], log_path: Path | None = None,
            kernel: ReusedKernel | None = None) -> None:
    """Execute notebooks/<name>.py into ``out_path`` with the parameters it declares; the kernel's
    output also goes to ``log_path`` as it runs, if given. ``kernel``: run in that reused kernel
    instead of a kernel of its own."""
    import jupytext
    import papermill as pm
    unknown = set(parameters) - set(declared_parameters(name))
    if unknown:  # papermill would only warn
        raise ValueError(f"notebooks/{name}.py has no parameter(s) {sorted(unknown)}")
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")  # its kernelspec comes from the file's header
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    with atomic_path(out_path) as tmp, log or contextlib.nullcontext():  # the notebook appears whole, failed or not
        try:
            reused = {"km": kernel.ready()} if kernel is not None else {}
            attempts = 1 if kernel is not None else 1 + KERNEL_START_RETRIES  # a reused kernel is not restarted
            for attempt in range(attempts):
                try:
                    pm.execute_notebook(nb, str(tmp), parameters=parameters, progress_bar=False,
                                        cwd=str(NOTEBOOKS), stdout_file=log, stderr_file=log,
                                        extra_arguments=KERNEL_ARGUMENTS, **reused)
                    break
                except RuntimeError as err:  # before any cell ran: a kernel that lost a port race
                    if KERNEL_DIED not in str(err) or attempt == attempts - 1:
                        raise
        except pm.PapermillExecutionError as err:
            os.replace(tmp, out_path)
            where = ""
            if not err.evalue:  # e.g. a bare assert: show where it happened
                lines = [re.sub(r"\x1b\[[0-9;]*m", "", t).strip() for t in "\n".join(err.traceback).splitlines()]
                where = "\n    " + "\n    ".join([t for t in lines if t][-3:])
            raise NotebookFailed(f"{name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}{where}\n"
                                 f"  executed notebook: {out_path}") from None
        finally:
            if kernel is not None:
                kernel.release()
