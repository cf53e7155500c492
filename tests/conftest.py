import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
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
    from dlfa.params import validate
    return validate({**STUDY_KEYS, **(values or {}), **changes})
