"""DLFAForSequenceClassification: baseline equivalence, fusion wiring, invariances, save/load, errors."""

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel, RobertaConfig, RobertaModel

from dlfa.fusion import DLFAConfig
from dlfa.model import DLFAForSequenceClassification, configure_fusion, dlfa_config


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
    hooks = dict(model.bert.encoder.layer[0]._forward_hooks)  # transformers' own output recorders
    lean = model(**batch)
    assert asked == [True, False]
    assert lean.hidden_states is None and len(full.hidden_states) == 4
    assert torch.equal(lean.logits, full.logits)
    assert model.bert.encoder.layer[0]._forward_hooks == hooks  # ours is removed after each forward


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


def test_non_bert_encoder_is_refused(tmp_path):
    RobertaModel(RobertaConfig(vocab_size=30, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=16)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="is a 'roberta' model; DLFAForSequenceClassification wraps BERT"):
        DLFAForSequenceClassification.from_pretrained(tmp_path)


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
