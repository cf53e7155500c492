"""Loaders (official files, synthetic, hub errors), stratified subsets, tokenization and its cache."""

import subprocess
import sys

import pytest

from dlfa import data
from dlfa.paths import ROOT
from dlfa.tiny import train_tokenizer

QUIRKY = ("id\tsentence1\tsentence2\tlabel\n"
          '7\tHe said "hello  there" .\tHe said "hello there" .\t1\n'
          "12\tNS\tNS\t0\n"
          "3\tIt's 5 \" tall\tSo \" is it\t0\n")


@pytest.fixture
def official(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "train.tsv").write_text(QUIRKY, encoding="utf-8")
    (tmp_path / "en" / "dev_2k.tsv").write_text(QUIRKY, encoding="utf-8")
    return tmp_path


def test_official_files_are_read_exactly_with_quoting_disabled(official):
    ds = data.load_pawsx(str(official), "en", "train")
    assert ds.column_names == ["id", "sentence1", "sentence2", "label"]
    assert list(ds["id"]) == [7, 12, 3]  # non-contiguous ids kept, in file order
    assert ds[0]["sentence1"] == 'He said "hello  there" .'  # quotes and double spaces untouched
    assert ds[2]["sentence1"] == "It's 5 \" tall"
    assert ds[1]["sentence1"] == "NS" and ds[1]["label"] == 0  # placeholder rows kept by default


def test_missing_official_file_names_the_path(official):
    with pytest.raises(FileNotFoundError, match=r"missing PAWS-X file .*de/dev_2k.tsv"):
        data.load_pawsx(str(official), "de", "validation")


def test_real_sample_rows_survive_intact(pawsx_sample):
    for lang in ("en", "de", "es", "fr", "ja", "ko", "zh"):
        ds = data.load_pawsx(str(pawsx_sample), lang, "validation")
        assert len(ds) == 2000, lang
        lines = (pawsx_sample / lang / "dev_2k.tsv").read_text(encoding="utf-8").split("\n")[1:]
        first = lines[0].split("\t")
        assert [str(ds[0]["id"]), ds[0]["sentence1"], ds[0]["sentence2"], str(ds[0]["label"])] == first
        assert set(ds["label"]) == {0, 1}
    de = data.load_pawsx(str(pawsx_sample), "de", "validation")
    assert sum(s == "NS" for s in de["sentence1"]) > 0  # placeholders are in the published numbers
    assert len(data.load_pawsx(str(pawsx_sample), "de", "train")) == 4


def test_synthetic_pawsx_and_intermediate_have_the_common_columns():
    ds = data.load_pawsx("synthetic", "ja", "test", size=50)
    assert ds.column_names == ["id", "sentence1", "sentence2", "label"] and len(ds) == 50
    nli = data.load_intermediate("xnli", "synthetic", "hi", "train", size=60)
    assert nli.column_names == ["id", "sentence1", "sentence2", "label"] and set(nli["label"]) == {0, 1, 2}
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_pawsx("synthetic", "en", "dev")
    with pytest.raises(ValueError, match="unknown intermediate task 'mnli'"):
        data.load_intermediate("mnli", "synthetic", "hi")


def test_hub_offline_error_names_what_is_missing():
    code = ("from dlfa import data\ntry:\n    data.load_pawsx('hub', 'de', 'test')\n"
            "except RuntimeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}).stdout
    assert "google-research-datasets/paws-x" in out and "HF_HUB_OFFLINE=1" in out and "synthetic" in out


def test_subset_is_stratified_and_reproducible():
    ds = data.load_pawsx("synthetic", "en", "train", size=1000)
    a, b = data.subset(ds, 200, seed=3), data.subset(ds, 200, seed=3)
    assert list(a["id"]) == list(b["id"]) and len(a) == 200
    share = sum(ds["label"]) / len(ds)
    assert abs(sum(a["label"]) / 200 - share) <= 1 / 200 + 1e-9
    assert data.subset(ds, None, 0) is ds and data.subset(ds, 5000, 0) is ds


@pytest.fixture(scope="module")
def tokenizer():
    ds = data.load_pawsx("synthetic", "en", "train", size=300)
    return train_tokenizer(list(ds["sentence1"]) + list(ds["sentence2"]), 300)


def test_tokenize_truncates_pairs_without_padding(tokenizer):
    ds = data.load_pawsx("synthetic", "en", "test", size=20)
    tok = data.tokenize(ds, tokenizer, max_length=12)
    assert tok.column_names == ["input_ids", "token_type_ids", "attention_mask", "labels"]
    lengths = [len(x) for x in tok["input_ids"]]
    assert max(lengths) == 12 and all(m == [1] * n for m, n in zip(tok["attention_mask"], lengths))
    assert list(tok["labels"]) == list(ds["label"])
    full = data.tokenize(ds, tokenizer, max_length=128)
    assert len(set(len(x) for x in full["input_ids"])) > 1  # no padding to a fixed length


def test_cache_is_reused_for_the_same_key_and_rebuilt_otherwise(tmp_path, tokenizer):
    ds = data.load_pawsx("synthetic", "en", "test", size=20)
    calls = []

    def build(max_length):
        calls.append(max_length)
        return data.tokenize(ds, tokenizer, max_length)

    path = tmp_path / "cache"
    first = data.cached_tokenized(path, {"max_length": 12}, lambda: build(12))
    again = data.cached_tokenized(path, {"max_length": 12}, lambda: build(12))
    other = data.cached_tokenized(path, {"max_length": 64}, lambda: build(64))
    assert calls == [12, 64]
    assert list(first["input_ids"]) == list(again["input_ids"]) and max(len(x) for x in other["input_ids"]) > 12
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left behind


def test_describe_counts_lengths_and_labels(tokenizer):
    ds = data.tokenize(data.load_pawsx("synthetic", "en", "test", size=40), tokenizer, 64)
    row = data.describe(ds, "pawsx", "en", "test")
    assert row["n"] == 40 and row["label_0_share"] + row["label_1_share"] == pytest.approx(1.0)
    assert row["max_tokens"] == max(len(x) for x in ds["input_ids"])


def test_tokenizer_training_is_deterministic_and_covers_every_character():
    ds = data.load_pawsx("synthetic", "ja", "test", size=200)
    texts = list(ds["sentence1"]) + list(ds["sentence2"])
    vocabs = [train_tokenizer(texts, 120).get_vocab() for _ in range(3)]
    assert vocabs[0] == vocabs[1] == vocabs[2]  # tokenizers' own trainer gives a new vocabulary each call
    tok = train_tokenizer(texts, 120)
    assert len(tok) == 120
    assert "[UNK]" not in tok.tokenize(" ".join(texts[:20]))  # rare words fall back to ##characters
