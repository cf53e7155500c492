"""DLFAForSequenceClassification: baseline equivalence, fusion wiring, invariances, save/load, errors."""

import pytest
import torch
from transformers import (BertConfig, BertForSequenceClassification, BertModel, GPT2Config, GPT2Model, XLMRobertaConfig,
                          XLMRobertaForSequenceClassification, XLMRobertaModel)

from dlfa.config.fusion import DLFAConfig
from dlfa.training.model import (DLFAForSequenceClassification, DLFAForXLMRobertaSequenceClassification,
                                 configure_fusion, dlfa_config)


@pytest.fixture
def config():
    return BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=32, num_labels=2)


def _batch(lengths, T, vocab=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), T, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, vocab, (n,), generator=g)
        mask[i, :n] = 1
    types = (torch.arange(T) >= 3).long().expand(len(lengths), T) * mask
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types)


def _trained_briefly(model, steps=3):
    """A few training steps, so BatchNorm running statistics and weights are not at their init."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for s in range(steps):
        out = model(**_batch([5, 3, 7], T=7, seed=s), labels=torch.tensor([0, 1, 1]))
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


def test_baseline_gives_exactly_bert_for_sequence_classification_logits(config):
    torch.manual_seed(0)
    ours = DLFAForSequenceClassification.from_config(config).eval()
    ref = BertForSequenceClassification(config).eval()
    ref.load_state_dict(ours.state_dict())  # same parameter names, both ways
    batch = _batch([6, 2, 4], T=6)
    assert torch.equal(ours(**batch).logits, ref(**batch).logits)
    labels = torch.tensor([1, 0, 1])
    assert torch.equal(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)


def test_fused_model_pools_the_dlfa_output(config):
    torch.manual_seed(0)
    model = _trained_briefly(DLFAForSequenceClassification.from_config(config, DLFAConfig(1)))
    batch = _batch([6, 2], T=6)
    hidden = model.bert(**batch, output_hidden_states=True).hidden_states
    fused = model.dlfa(hidden[1], hidden[3], batch["attention_mask"])
    expected = model.classifier(model.bert.pooler(fused))
    torch.testing.assert_close(model(**batch).logits, expected)
    baseline_logits = model.classifier(model.bert.pooler(hidden[3]))
    assert not torch.allclose(model(**batch).logits, baseline_logits)


@pytest.mark.parametrize("fusion_layer", [None, 1, 2])
def test_eval_logits_ignore_padding_and_batch_composition(config, fusion_layer):
    torch.manual_seed(0)
    model = _trained_briefly(DLFAForSequenceClassification.from_config(config, DLFAConfig(fusion_layer)))
    batch = _batch([7, 3, 5], T=9, seed=4)
    together = model(**batch).logits
    for i, n in enumerate([7, 3, 5]):
        alone = model(**{k: v[i:i + 1, :n] for k, v in batch.items()}).logits
        torch.testing.assert_close(together[i], alone[0], atol=1e-5, rtol=1e-5)


def test_training_loss_ignores_padding(config):
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_config(config, DLFAConfig(2))
    model.config.hidden_dropout_prob = 0.0
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    short, long = _batch([4, 2], T=4, seed=1), _batch([4, 2], T=8, seed=1)
    labels = torch.tensor([1, 0])
    torch.testing.assert_close(model(**short, labels=labels).loss, model(**long, labels=labels).loss)


def test_gradients_reach_every_parameter(config):
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_config(config, DLFAConfig(1, iterative=True))
    out = model(**_batch([5, 3], T=5), labels=torch.tensor([0, 1]))
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_output_hidden_states_on_request(config):
    model = DLFAForSequenceClassification.from_config(config, DLFAConfig(1)).eval()
    assert model(**_batch([3], T=3)).hidden_states is None
    assert len(model(**_batch([3], T=3), output_hidden_states=True).hidden_states) == 4


def test_fusion_keeps_only_the_fused_layer_unless_hidden_states_are_asked_for(config):
    """All L + 1 hidden states are not kept for a fusion that reads one of them (memory, evaluation)."""
    torch.manual_seed(0)
    model = _trained_briefly(DLFAForSequenceClassification.from_config(config, DLFAConfig(1)))
    asked = []
    encoder_forward = model.bert.forward
    model.bert.forward = lambda *a, **kw: asked.append(kw["output_hidden_states"]) or encoder_forward(*a, **kw)
    batch = _batch([6, 2], T=6)
    full = model(**batch, output_hidden_states=True)
    layer, registered = model.bert.encoder.layer[0], []
    register = layer.register_forward_hook

    def spy(*args, **kwargs):  # every hook put on the fused layer, and whether it was removed
        handle = register(*args, **kwargs)
        remove, entry = handle.remove, {"removed": False}
        handle.remove = lambda: entry.update(removed=True) or remove()
        registered.append(entry)
        return handle
    layer.register_forward_hook = spy
    lean = model(**batch)
    assert asked == [True, False]
    assert lean.hidden_states is None and len(full.hidden_states) == 4
    assert torch.equal(lean.logits, full.logits)
    assert registered == [{"removed": True}]  # one hook on layer k, removed after the forward


def test_save_and_reload_round_trip_exactly(config, tmp_path):
    torch.manual_seed(0)
    model = _trained_briefly(DLFAForSequenceClassification.from_config(
        config, DLFAConfig(fusion_layer=2, reduction=2, norm="batch", weight="scaled")))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = DLFAForSequenceClassification.from_pretrained(tmp_path).eval()
    assert loaded.fusion_layer == 2
    assert dlfa_config(loaded.config) == DLFAConfig(fusion_layer=2, reduction=2, norm="batch", weight="scaled")
    assert loaded.config.dlfa == {"fusion_layer": 2, "reduction": 2, "norm": "batch", "weight": "scaled",
                                  "iterative": False}  # in config.json, with the weights
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    batch = _batch([5, 2], T=5)
    assert torch.equal(model(**batch).logits, loaded(**batch).logits)


def test_from_pretrained_encoder_adds_fresh_fusion_and_head(config, tmp_path):
    torch.manual_seed(0)
    encoder = BertModel(config)
    encoder.save_pretrained(tmp_path)
    model = DLFAForSequenceClassification.from_pretrained(tmp_path, num_labels=3, dlfa=DLFAConfig(1, norm="layer"))
    assert model.classifier.out_features == 3
    assert model.dlfa.aif.norm == "layer"
    for name, p in encoder.state_dict().items():
        assert torch.equal(model.bert.state_dict()[name], p), name
    for name, buf in model.dlfa.named_buffers():
        assert torch.isfinite(buf).all(), name
    assert model(**_batch([4], T=4), labels=torch.tensor([2])).loss.isfinite()


def test_from_pretrained_classifier_baseline_matches_it(config, tmp_path):
    torch.manual_seed(0)
    ref = BertForSequenceClassification(config).eval()
    ref.save_pretrained(tmp_path)
    ours = DLFAForSequenceClassification.from_pretrained(tmp_path).eval()
    batch = _batch([5, 3], T=5)
    assert torch.equal(ours(**batch).logits, ref(**batch).logits)


def test_a_checkpoint_saved_before_dlfa_config_keeps_its_fusion(config, tmp_path):
    legacy = BertConfig(**config.to_dict())
    legacy.fusion_layer, legacy.fusion_options = 2, {"reduction": 2}
    assert dlfa_config(legacy) == DLFAConfig(fusion_layer=2, reduction=2)


def test_fusion_can_be_switched_off_when_reloading(config, tmp_path):
    DLFAForSequenceClassification.from_config(config, DLFAConfig(1)).save_pretrained(tmp_path)
    assert DLFAForSequenceClassification.from_pretrained(tmp_path, dlfa=DLFAConfig()).dlfa is None


@pytest.mark.parametrize("layer", [0, 3, -1, 1.5, True, "6"])
def test_fusion_layer_outside_range_is_refused(config, layer):
    with pytest.raises(ValueError, match=r"fusion_layer must be None \(baseline\) or an integer in 1\.\.2 "
                                         r"for a 3-layer encoder"):
        DLFAForSequenceClassification.from_config(config, DLFAConfig(layer))


def test_unknown_or_bad_fusion_options_are_refused(config, tmp_path):
    with pytest.raises(ValueError, match=r"unknown fusion option\(s\) \['ratio'\]; allowed"):
        DLFAConfig.from_dict({"fusion_layer": 1, "ratio": 4})
    with pytest.raises(ValueError, match=r"reduction 3 does not divide the hidden size 16; allowed: \[1, 2, 4, 8, 16\]"):
        DLFAForSequenceClassification.from_config(config, DLFAConfig(1, reduction=3))
    BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="norm must be one of"):
        DLFAForSequenceClassification.from_pretrained(tmp_path, dlfa=DLFAConfig(1, norm="group"))


def test_an_encoder_of_another_family_is_refused(tmp_path):
    GPT2Model(GPT2Config(vocab_size=30, n_embd=8, n_layer=2, n_head=2)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="is a 'gpt2' model; DLFAForSequenceClassification wraps BERT"):
        DLFAForSequenceClassification.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="DLFAForXLMRobertaSequenceClassification wraps"):
        DLFAForXLMRobertaSequenceClassification.from_pretrained(tmp_path)


@pytest.fixture
def xlmr_config():
    return XLMRobertaConfig(vocab_size=60, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=40, num_labels=2, pad_token_id=1)


def _xlmr_batch(lengths, T, seed=0):
    batch = _batch(lengths, T, seed=seed)
    batch["input_ids"] = torch.where(batch["attention_mask"].bool(), batch["input_ids"].clamp(min=3), 1)  # pad id 1
    return {k: batch[k] for k in ("input_ids", "attention_mask")}  # XLM-R's tokenizer gives no token types


def test_xlmr_baseline_gives_exactly_xlm_roberta_for_sequence_classification_both_ways(xlmr_config, tmp_path):
    torch.manual_seed(0)
    ours = DLFAForSequenceClassification.from_config(xlmr_config).eval()  # dispatched on the config's type
    assert isinstance(ours, DLFAForXLMRobertaSequenceClassification) and ours.backbone is ours.roberta
    ref = XLMRobertaForSequenceClassification(xlmr_config).eval()
    ref.load_state_dict(ours.state_dict())  # the same parameter names: no pooler, the head's own
    batch, labels = _xlmr_batch([6, 2, 4], T=6), torch.tensor([1, 0, 1])
    assert torch.equal(ours(**batch).logits, ref(**batch).logits)
    assert torch.equal(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)
    torch.manual_seed(1)
    other = XLMRobertaForSequenceClassification(xlmr_config).eval()  # the other way: a saved HF model
    other.save_pretrained(tmp_path / "hf")
    loaded = DLFAForSequenceClassification.from_pretrained(tmp_path / "hf").eval()
    assert isinstance(loaded, DLFAForXLMRobertaSequenceClassification) and loaded.dlfa is None
    assert torch.equal(loaded(**batch, labels=labels).loss, other(**batch, labels=labels).loss)
    loaded.save_pretrained(tmp_path / "ours")
    back = XLMRobertaForSequenceClassification.from_pretrained(tmp_path / "ours").eval()
    assert torch.equal(back(**batch).logits, other(**batch).logits)


def test_xlmr_fusion_feeds_the_head_the_fused_sequence_and_reloads(xlmr_config, tmp_path):
    torch.manual_seed(0)
    XLMRobertaModel(xlmr_config, add_pooling_layer=False).save_pretrained(tmp_path / "encoder")
    model = _trained_briefly_xlmr(DLFAForSequenceClassification.from_pretrained(
        tmp_path / "encoder", num_labels=3, dlfa=DLFAConfig(1)))
    batch = _xlmr_batch([6, 2], T=6)
    hidden = model.roberta(**batch, output_hidden_states=True).hidden_states
    fused = model.dlfa(hidden[1], hidden[3], batch["attention_mask"])
    torch.testing.assert_close(model(**batch).logits, model.classifier(fused))  # <s> of the fused sequence
    assert not torch.allclose(model(**batch).logits, model.classifier(hidden[3]))
    model.save_pretrained(tmp_path / "dlfa")
    again = DLFAForSequenceClassification.from_pretrained(tmp_path / "dlfa").eval()
    assert again.fusion_layer == 1 and torch.equal(again(**batch).logits, model(**batch).logits)
    with pytest.raises(ValueError, match="fusion_layer"):
        DLFAForSequenceClassification.from_config(xlmr_config, DLFAConfig(3))  # 1..L-1


def _trained_briefly_xlmr(model, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for s in range(steps):
        model(**_xlmr_batch([5, 3, 7], T=7, seed=s), labels=torch.tensor([0, 1, 2])).loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


def test_configure_fusion_does_not_touch_the_callers_config(config):
    configured = configure_fusion(config, DLFAConfig(2, reduction=2))
    assert dlfa_config(configured) == DLFAConfig(2, reduction=2) and not hasattr(config, "dlfa")


@pytest.mark.parametrize("fusion_layer", [None, 1])
def test_trains_under_bf16_autocast(config, fusion_layer):
    """Trainer(bf16=True) on a GPU runs the model under autocast: MaskedBatchNorm's running statistics
    (float32 buffers) must take the update, computed in float32, not fail on a bfloat16 one."""
    torch.manual_seed(0)
    model = DLFAForSequenceClassification.from_config(config, DLFAConfig(fusion_layer)).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**_batch([5, 3, 4], T=5), labels=torch.tensor([0, 1, 1]))
    out.loss.backward()
    assert torch.isfinite(out.loss)
    for name, buf in model.named_buffers():
        if "running" in name:
            assert buf.dtype == torch.float32 and torch.isfinite(buf).all(), name
    if fusion_layer:
        assert model.dlfa.aif.local_att.norm1.num_batches_tracked.item() == 1
