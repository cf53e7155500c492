"""Layer-wise cross-lingual similarity on parallel rows."""

import datasets
import pytest
import torch
from transformers import BertConfig, DataCollatorWithPadding, XLMRobertaConfig

from dlfa.config.fusion import DLFAConfig
from dlfa.training.model import DLFAForSequenceClassification
from dlfa.training.similarity import layer_similarity, pooled_layers, similarity_table


class _Pad:  # what DataCollatorWithPadding needs of a tokenizer
    pad_token_id, padding_side, model_input_names = 0, "right", ["input_ids", "token_type_ids", "attention_mask"]

    def pad(self, features, **kwargs):
        width = max(len(f["input_ids"]) for f in features)
        return {k: torch.tensor([f[k] + [0] * (width - len(f[k])) for f in features]) for k in features[0]}


def _rows(seed, n=30, ids=None):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        ids_ = torch.randint(5, 60, (int(torch.randint(4, 20, (1,), generator=g)),), generator=g).tolist()
        rows.append({"id": (ids or list(range(n)))[i], "input_ids": ids_, "token_type_ids": [0] * len(ids_),
                     "attention_mask": [1] * len(ids_), "labels": 0})
    return datasets.Dataset.from_list(rows)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32)
    return DLFAForSequenceClassification.from_config(config, DLFAConfig(1))


def test_pooling_ignores_padding_and_batch_composition(model):
    rows = _rows(1)
    collator = DataCollatorWithPadding(_Pad())
    one_by_one = pooled_layers(model, rows, collator, batch_size=1)
    batched = pooled_layers(model, rows, collator, batch_size=16)
    assert one_by_one.shape == (30, 4, 16)  # embeddings + 3 layers
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=1e-5)
    assert model.training  # left as it was found


def test_an_xlmr_encoder_is_pooled_the_same_way_without_token_types():
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                              intermediate_size=32, pad_token_id=1)
    xlmr = DLFAForSequenceClassification.from_config(config, DLFAConfig(1))  # XLM-R by its config
    rows = _rows(1).remove_columns("token_type_ids")  # what XLM-R's tokenizer gives
    collator = DataCollatorWithPadding(_Pad())
    pooled = pooled_layers(xlmr, rows, collator, batch_size=8)
    assert pooled.shape == (30, 4, 16)
    with torch.no_grad():
        first = xlmr.eval().roberta(input_ids=torch.tensor([rows[0]["input_ids"]]), output_hidden_states=True).hidden_states
    torch.testing.assert_close(pooled[0, 3], first[3][0].mean(0), atol=1e-5, rtol=1e-5)


def test_similarity_is_one_for_identical_rows_and_lower_for_others(tmp_path, model):
    _rows(1).save_to_disk(tmp_path / "en")
    _rows(1).save_to_disk(tmp_path / "de")  # a perfect "translation"
    _rows(2, ids=list(range(10, 40))).save_to_disk(tmp_path / "ja")  # overlaps English on ids 10..29
    path = lambda task, lang, split: tmp_path / lang  # noqa: E731
    result = layer_similarity(model, path, ["en", "de", "ja"], DataCollatorWithPadding(_Pad()))
    assert set(result) == {"de", "ja"} and len(result["de"]) == 4
    assert result["de"] == pytest.approx([1.0] * 4, abs=1e-5)
    assert all(-1 <= v < 0.9 for v in result["ja"])
    metrics = [{"run_id": "baseline__none__s1", "config": {"variant": "baseline", "intermediate_language": None,
                                                            "seed": 1}, "similarity": {"base": result}}]
    table = similarity_table(metrics)
    assert len(table) == 8 and set(table.layer) == {0, 1, 2, 3} and set(table.model) == {"base"}


def test_the_source_is_pooled_once_per_id_set_and_every_language_reads_as_on_its_own(tmp_path, model, monkeypatch):
    from dlfa.training import similarity
    for lang, seed in (("en", 1), ("de", 3), ("fr", 4)):
        _rows(seed).save_to_disk(tmp_path / lang)
    _rows(2, ids=list(range(10, 40))).save_to_disk(tmp_path / "ja")
    path = lambda task, lang, split: tmp_path / lang  # noqa: E731
    collator = DataCollatorWithPadding(_Pad())
    alone = {lang: layer_similarity(model, path, ["en", lang], collator)[lang] for lang in ("de", "fr", "ja")}
    passes = []
    real = similarity.pooled_layers
    monkeypatch.setattr(similarity, "pooled_layers", lambda m, rows, c: passes.append(len(rows)) or real(m, rows, c))
    together = layer_similarity(model, path, ["en", "de", "fr", "ja"], collator)
    assert together == alone  # exactly: the same rows give the same states
    assert sorted(passes) == [20, 20, 30, 30, 30]  # en once for de and fr (ids 0..29), once for ja (10..29)


def test_alignment_retrieves_every_translation_of_identical_rows_and_counts_by_hand(tmp_path, model):
    from dlfa.training.similarity import layer_alignment
    _rows(1).save_to_disk(tmp_path / "en")
    _rows(1).save_to_disk(tmp_path / "de")  # identical: every pair retrieves its own translation
    _rows(5).save_to_disk(tmp_path / "ja")  # the same ids, other rows
    path = lambda task, lang, split: tmp_path / lang  # noqa: E731
    collator = DataCollatorWithPadding(_Pad())
    table = layer_alignment(model, path, ["en", "de", "ja"], collator)
    assert list(table.columns) == ["layer", "language", "cosine", "r_at_1", "pairs"] and len(table) == 8
    de = table[table.language == "de"]
    assert de.r_at_1.tolist() == [1.0] * 4 and de.cosine.tolist() == pytest.approx([1.0] * 4, abs=1e-5)
    # by hand for ja at the last layer: centred, normalised, nearest by cosine
    ha, hb = pooled_layers(model, _rows(1), collator), pooled_layers(model, _rows(5), collator)
    a, b = ha[:, 3] - ha[:, 3].mean(0), hb[:, 3] - hb[:, 3].mean(0)
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    hits = float(((a @ b.T).argmax(1) == torch.arange(30)).float().mean())
    row = table[(table.language == "ja") & (table.layer == 3)].iloc[0]
    assert row.r_at_1 == pytest.approx(hits) and row.cosine == pytest.approx(float((a * b).sum(-1).mean()), abs=1e-5)
    assert row.pairs == 30
