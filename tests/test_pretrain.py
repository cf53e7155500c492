"""Masked-LM pretraining of the tiny model (dlfa.training.pretrain): its text, its training, how runs use it."""

import json

import pytest
import torch

from conftest import tiny_params
from dlfa.config.grid import grid
from dlfa.config.params import ParamsError
from dlfa.config.profiles import validate
from dlfa.data import corpora as data
from dlfa.data import lexicon, synthetic
from dlfa.training import pretrain, tiny


def test_pretraining_text_is_each_languages_usual_spellings_drawn_reproducibly():
    profiles = [synthetic.ENGLISH, data.synthetic_profile("de")]
    text = pretrain.pretraining_text(profiles, 50, seed=0)
    assert len(text) == 100 and text == pretrain.pretraining_text(profiles, 50, seed=0)  # reproducible
    assert text != pretrain.pretraining_text(profiles, 50, seed=1)
    english = {w for sentence in text[:50] for w in sentence.split()}
    assert english <= set(lexicon.WORDS) | {"."}
    assert not english & set(synthetic.SYNONYMS.values())  # a synonym's spelling is never seen here
    with pytest.raises(ValueError, match="sentences must be >= 1"):
        pretrain.pretraining_text(profiles, 0)


def test_pretraining_learns_the_masked_words_and_the_runs_start_from_its_encoder(tmp_path):
    from dlfa.config.fusion import DLFAConfig
    from dlfa.training.model import DLFAForSequenceClassification
    text = pretrain.pretraining_text([synthetic.ENGLISH], 1200, seed=0)
    shape = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "vocab_size": 300,
             "mlm_epochs": 8}
    tokenizer = tiny.prepare(tmp_path / "model", text, shape, 32, pretraining_text=text, seed=0)
    record = json.loads((tmp_path / "model" / "pretraining.json").read_text())
    first, last = record["history"][0], record["history"][-1]
    assert record["sentences"] == 1200 and len(record["history"]) == 8
    assert last["loss"] < first["loss"] - 0.5 and last["accuracy"] > first["accuracy"] + 0.1  # it learns
    model = DLFAForSequenceClassification.from_pretrained(tmp_path / "model", num_labels=2, dlfa=DLFAConfig())
    from safetensors.torch import load_file
    saved = load_file(tmp_path / "model" / "model.safetensors")
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, saved["bert.embeddings.word_embeddings.weight"])
    assert len(tokenizer) <= 300
    with pytest.raises(ValueError, match="no pretraining text"):
        tiny.prepare(tmp_path / "other", text, shape, 32)


def test_pretraining_is_part_of_a_runs_configuration_only_when_it_happens_and_needs_the_synthetic_corpus():
    from dlfa.config.identity import identity
    from dlfa.config.runs import run_config
    plain = tiny_params()
    shape = {**plain.to_dict()["tiny_model"], "mlm_epochs": 3}
    pretrained = tiny_params(tiny_model=shape)
    run = grid(plain, [])[0]
    assert run_config(pretrained, run)["tiny_model"]["mlm_epochs"] == 3
    assert run_config(pretrained, run)["tiny_model"]["mlm_sentences"] == 2000
    assert identity(run_config(pretrained, run)) != identity(run_config(plain, run))
    with pytest.raises(ParamsError, match="needs 'model: tiny' and 'data_source: synthetic'"):
        validate({**plain.to_dict(), "tiny_model": shape, "data_source": "hub"})


def test_a_run_of_a_pretrained_study_refuses_a_model_folder_without_its_weights(tmp_path):
    from dlfa.config.fusion import DLFAConfig
    from dlfa.training.train import build_model
    params = tiny_params(tiny_model={**tiny_params().to_dict()["tiny_model"], "mlm_epochs": 2})
    text = pretrain.pretraining_text([synthetic.ENGLISH], 20)
    tiny.prepare(tmp_path / "model", text, {"hidden_size": 16, "num_layers": 2, "num_heads": 2,
                                            "intermediate_size": 32, "vocab_size": 200}, 32)  # no weights
    with pytest.raises(FileNotFoundError, match="no pretrained weights .* run the data stage"):
        build_model(params, tmp_path, DLFAConfig(), 2)
