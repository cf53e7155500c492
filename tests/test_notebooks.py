"""dlfa.orchestration.notebooks: the stage notebooks' parameters and their execution."""

import papermill
import pytest

from dlfa.orchestration import notebooks


def test_a_kernel_that_dies_before_answering_is_started_again_and_other_errors_are_not(tmp_path, monkeypatch):
    calls = []

    def flaky(nb, output, **kwargs):  # the first kernel dies at start, the second runs the notebook
        calls.append(output)
        if len(calls) == 1:
            raise RuntimeError(notebooks.KERNEL_DIED)
        (tmp_path / "ran").write_text("yes")
        with open(output, "w") as f:
            f.write("{}")
    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    notebooks.execute("02_typology", tmp_path / "out.ipynb", {"params_file": "params/smoke.yaml"})
    assert len(calls) == 2 and (tmp_path / "out.ipynb").read_text() == "{}"

    def broken(nb, output, **kwargs):
        calls.append(output)
        raise RuntimeError("something else")
    monkeypatch.setattr(papermill, "execute_notebook", broken)
    calls.clear()
    with pytest.raises(RuntimeError, match="something else"):
        notebooks.execute("02_typology", tmp_path / "again.ipynb", {"params_file": "params/smoke.yaml"})
    assert len(calls) == 1  # not retried


def test_parameters_a_notebook_does_not_declare_are_refused(tmp_path):
    with pytest.raises(ValueError, match="has no parameter"):
        notebooks.execute("01_data", tmp_path / "out.ipynb", {"params_file": "x", "run_id": "r"})
