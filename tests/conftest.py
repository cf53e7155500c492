import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # `make test` runs two pytest workers on two cores: one torch thread each (and in the studies
    # they start), not two each competing for both cores. Set before any test module imports torch.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")

# Tests that share an expensive module fixture run in one xdist worker, so it is built once.
SHARED_FIXTURES = {"finished_study": "e2e-study", "prepared": "prepared-grid", "tiny_study": "resume-study"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, group in SHARED_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))
SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pawsx-sample"


@pytest.fixture
def pawsx_sample() -> Path:
    if not (SHARED_SAMPLE / "en" / "dev_2k.tsv").is_file():
        pytest.skip(f"the real PAWS-X sample is not at {SHARED_SAMPLE} (it lives in ../shared/data beside the checkout)")
    return SHARED_SAMPLE


PAWSX_MINI = SHARED_SAMPLE.parent / "pawsx-mini"


@pytest.fixture
def pawsx_mini() -> Path:
    if not (PAWSX_MINI / "en" / "dev_2k.tsv").is_file():
        pytest.skip(f"the real PAWS-X rows are not at {PAWSX_MINI} (they live in ../shared/data beside the checkout)")
    return PAWSX_MINI


XNLI_MINI = SHARED_SAMPLE.parent / "xnli-mini"


@pytest.fixture
def xnli_mini() -> Path:
    if not (XNLI_MINI / "en" / "validation.tsv").is_file():
        pytest.skip(f"the real XNLI rows are not at {XNLI_MINI} (they live in ../shared/data beside the checkout)")
    return XNLI_MINI


STUDY_KEYS = {"study": "test", "model": "tiny", "data_source": "synthetic"}  # the keys without a default


def tiny_params(values=None, **changes):
    """A validated study of the tiny model on synthetic data: ``values`` and ``changes`` over the required keys."""
    from dlfa.config.profiles import validate
    return validate({**STUDY_KEYS, **(values or {}), **changes})
