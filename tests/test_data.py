"""Loaders (official files, local files, hub, synthetic), row policy, subsets, tokenization, cache, stats."""

import json
import os
import subprocess
import sys

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml

from dlfa.config import tasks
from dlfa.config.grid import study_corpora
from dlfa.config.params import ParamsError
from dlfa.data import corpora as data
from dlfa.data import tokenization
from dlfa.paths import ROOT
from dlfa.training.tiny import train_tokenizer

# Every quirk of the real files: literal quotes (one opening a field, which CSV quoting would
# swallow up to the next quote), placeholders (NS in one or both sentences, a stray ns and WL, all
# labelled 0), double spaces, non-contiguous ids, a trailing space.
QUIRKY_ROWS = [
    ("7", 'He said "hello  there" .', 'He said "hello there" .', "1"),
    ("12", "NS", "NS", "0"),
    ("3", '"Quoted at the start', 'and " in the middle ', "0"),
    ("40", "Le chat dort.", "ns", "0"),
    ("41", "WL", "某句话。", "0"),
    ("1000", "Same sentence.", "Same sentence.", "1"),
]


def tsv(rows, header=("id", "sentence1", "sentence2", "label")) -> str:
    return "\n".join("\t".join(r) for r in [header, *rows]) + "\n"


@pytest.fixture
def official(tmp_path):
    for lang, files in {"en": ("train.tsv", "dev_2k.tsv", "test_2k.tsv"),
                        "de": ("translated_train.tsv", "dev_2k.tsv")}.items():
        (tmp_path / lang).mkdir()
        for name in files:
            (tmp_path / lang / name).write_text(tsv(QUIRKY_ROWS), encoding="utf-8")
    return tmp_path


def as_rows(ds):
    return [(str(r["id"]), r["sentence1"], r["sentence2"], str(r["label"])) for r in ds]


def test_official_files_are_read_exactly_with_quoting_disabled(official):
    ds = data.load_pawsx(str(official), "en", "train")
    assert ds.column_names == ["id", "sentence1", "sentence2", "label"]
    assert as_rows(ds) == QUIRKY_ROWS  # ids in file order, quotes, spaces and placeholders untouched
    assert ds.features == data.FEATURES
    # what default CSV quoting would have done to the same file
    mangled = pd.read_csv(official / "en" / "train.tsv", sep="\t", dtype=str)
    assert list(mangled["sentence1"]) != [r[1] for r in QUIRKY_ROWS]


def test_each_split_reads_its_official_file(official):
    (official / "en" / "test_2k.tsv").write_text(tsv(QUIRKY_ROWS[:2]), encoding="utf-8")
    assert len(data.load_pawsx(str(official), "en", "test")) == 2
    assert len(data.load_pawsx(str(official), "en", "validation")) == len(QUIRKY_ROWS)
    assert as_rows(data.load_pawsx(str(official), "de", "train")) == QUIRKY_ROWS  # translated_train.tsv


def test_placeholders_are_kept_by_default_and_dropped_on_request(official):
    raw = data.read(tasks.PAWSX, str(official), "en", "train")
    kept, counts = data.apply_policy(raw)
    assert len(kept) == 6 and counts == {"source_rows": 6, "unlabelled_dropped": 0, "placeholders_dropped": 0}
    dropped, counts = data.apply_policy(raw, drop_placeholders=True)
    assert sorted(dropped["id"]) == [3, 7, 1000]  # NS/NS, ns and WL rows gone; quotes are not placeholders
    assert counts["placeholders_dropped"] == 3
    assert list(data.load_pawsx(str(official), "en", "train", drop_placeholders=True)["id"]) == [7, 3, 1000]


def test_unlabelled_rows_are_dropped_and_counted(tmp_path):
    (tmp_path / "en").mkdir()
    rows = QUIRKY_ROWS[:1] + [("8", "a", "b", "-1"), ("9", "NS", "c", "-1")]
    (tmp_path / "en" / "dev_2k.tsv").write_text(tsv(rows), encoding="utf-8")
    ds, counts = data.apply_policy(data.read(tasks.PAWSX, str(tmp_path), "en", "validation"), drop_placeholders=True)
    assert list(ds["id"]) == [7]
    assert counts == {"source_rows": 3, "unlabelled_dropped": 2, "placeholders_dropped": 0}  # counted once


@pytest.mark.parametrize("content, message", [
    (tsv(QUIRKY_ROWS[:2]) + "5\tonly two\n", r"train.tsv, line 4: 2 tab-separated fields, expected 4"),
    (tsv(QUIRKY_ROWS[:1] + [("5", "a\tb", "c", "1")]), r"line 3: 5 tab-separated fields"),
    (tsv([("5", "a", "b", "2")]), r"train.tsv, line 2: label '2' is not one of PAWS-X's labels"),
    (tsv([("x5", "a", "b", "1")]), r"line 2: id 'x5' is not an integer"),
    (tsv([("5", "a", "1")], header=("id", "sentence1", "label")), r"missing column\(s\) \['sentence2'\]"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, content, message):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "train.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(data.DataError, match=message):
        data.load_pawsx(str(tmp_path), "en", "train")


def test_missing_official_file_names_the_path(official):
    with pytest.raises(FileNotFoundError, match=r"missing PAWS-X file .*de/test_2k.tsv"):
        data.load_pawsx(str(official), "de", "test")


def reference_rows(path):
    """An independent reading of an official file: lines split on tabs, nothing else."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "id\tsentence1\tsentence2\tlabel" and lines[-1] == ""
    return [tuple(line.split("\t")) for line in lines[1:-1]]


def test_real_sample_files_are_read_exactly(pawsx_sample):
    for lang in tasks.PAWSX_LANGUAGES:
        for split, name in (("validation", "dev_2k.tsv"), ("train", "train.tsv" if lang == "en" else "translated_train.tsv")):
            ds = data.load_pawsx(str(pawsx_sample), lang, split)
            assert as_rows(ds) == reference_rows(pawsx_sample / lang / name), (lang, split)  # every id, sentence, label
    de = data.load_pawsx(str(pawsx_sample), "de", "validation")
    placeholders = [r for r in de if data.is_placeholder(r["sentence1"], r["sentence2"])]
    assert len(placeholders) == 68 and {r["label"] for r in placeholders} == {0}  # kept, as published numbers do
    assert len(data.load_pawsx(str(pawsx_sample), "de", "validation", drop_placeholders=True)) == 2000 - 68
    tt = data.load_intermediate("pawsx_tt", str(pawsx_sample), "ko", "train")
    assert as_rows(tt) == reference_rows(pawsx_sample / "ko" / "translated_train.tsv")


def test_real_sample_is_parallel_and_balanced(pawsx_sample):
    en = data.load_pawsx(str(pawsx_sample), "en", "validation")
    for lang in ("de", "ja"):
        other = data.load_pawsx(str(pawsx_sample), lang, "validation")
        assert list(other["id"]) == list(en["id"])
        differ = [r for r, e in zip(other, en) if r["label"] != e["label"]]
        assert differ and all(data.is_placeholder(r["sentence1"], r["sentence2"]) for r in differ)  # NS rows: 0
    assert 0.53 < 1 - sum(en["label"]) / len(en) < 0.61  # about 57% label 0


def test_task_registry():
    assert tasks.XNLI.hub_id == "facebook/xnli" and len(tasks.XNLI.languages) == 15 and tasks.XNLI.num_labels == 3
    tt = tasks.intermediate_task("pawsx_tt")
    assert tt.hub_id == "google-research-datasets/paws-x" and tt.languages == ("de", "es", "fr", "ja", "ko", "zh")
    assert tt.num_labels == 2 and tasks.by_name("pawsx") is tasks.PAWSX
    with pytest.raises(ValueError, match=r"unknown intermediate task 'mnli'; available: \['pawsx_tt', 'xnli'\]"):
        tasks.intermediate_task("mnli")
    with pytest.raises(ValueError, match=r"XNLI has no language 'ja'"):
        data.load_intermediate("xnli", "synthetic", "ja")


@pytest.mark.parametrize("ext", ["parquet", "csv", "tsv"])
def test_intermediate_task_from_local_files(tmp_path, ext):
    frame = pd.DataFrame({"premise": ['A "quoted" man sleeps.', "Two dogs run."],
                          "hypothesis": ["A man sleeps.", "No dog runs."], "label": ["entailment", "2"]})
    (tmp_path / "de").mkdir()
    path = tmp_path / "de" / f"train.{ext}"
    if ext == "parquet":
        frame.to_parquet(path)
    elif ext == "csv":
        frame.to_csv(path, index=False)
    else:
        path.write_text(tsv(frame.itertuples(index=False), header=tuple(frame.columns)), encoding="utf-8")
    ds = data.load_intermediate("xnli", str(tmp_path), "de")
    assert ds.column_names == ["id", "sentence1", "sentence2", "label"]
    assert list(ds["sentence1"]) == list(frame["premise"]) and list(ds["label"]) == [0, 2] and list(ds["id"]) == [0, 1]


def test_xnli_mt_release_layout(tmp_path):
    rows = [("Er schläft.", "Er ruht.", "entailment"), ("Sie läuft.", "Sie sitzt.", "contradictory"),
            ('Ein "Hund".', "Ein Tier.", "neutral")]
    (tmp_path / "multinli.train.de.tsv").write_text(tsv(rows, header=("premise", "hypo", "label")), encoding="utf-8")
    ds = data.load_intermediate("xnli", str(tmp_path), "de")
    assert list(ds["label"]) == [0, 2, 1] and ds[2]["sentence1"] == 'Ein "Hund".'
    with pytest.raises(FileNotFoundError, match=r"no XNLI train file for 'fr' .*multinli.train.fr.tsv, fr/train.parquet"):
        data.load_intermediate("xnli", str(tmp_path), "fr")


def test_real_xnli_rows_from_a_local_folder_as_the_target_task(tmp_path, xnli_mini):
    """The target task from files: English train (XNLI-MT's name), dev and test per language; xnli-mini
    has no test split, so its dev rows stand in for it here (linked, not copied)."""
    from conftest import tiny_params
    folder = tmp_path / "xnli"
    for lang in ("en", "de", "tr"):
        (folder / lang).mkdir(parents=True)
        (folder / lang / "validation.tsv").symlink_to(xnli_mini / lang / "validation.tsv")
        if lang != "tr":
            (folder / lang / "test.tsv").symlink_to(xnli_mini / lang / "validation.tsv")
    (folder / "multinli.train.en.tsv").symlink_to(xnli_mini / "multinli.train.en.tsv")
    study = {"target_task": "xnli", "data_source": str(folder), "targets": ["de", "tr"], "intermediate_task": None}
    with pytest.raises(ParamsError, match=r"'data_source' .*xnli lacks tr/test.parquet"):
        tiny_params(**study)
    (folder / "tr" / "test.tsv").symlink_to(xnli_mini / "tr" / "validation.tsv")
    params = tiny_params(**study, eval_size=60)
    loaded = {(c.language, c.split): data.load_corpus(c.task, c.source, c.language, c.split, c.size)[0]
              for c in study_corpora(params)}
    assert set(loaded) == {("en", "train"), *{(lang, split) for lang in ("en", "de", "tr") for split in ("validation", "test")}}
    assert len(loaded[("en", "train")]) == 1599 and set(loaded[("en", "train")]["label"]) == {0, 1, 2}
    dev = {lang: loaded[(lang, "validation")] for lang in ("en", "de", "tr")}
    assert all(len(ds) == 60 and np.bincount(ds["label"]).tolist() == [20, 20, 20] for ds in dev.values())
    # parallel: the same rows (ids are row numbers) with the same labels in every language
    assert dev["en"]["id"] == dev["de"]["id"] == dev["tr"]["id"] and dev["en"]["label"] == dev["tr"]["label"]
    assert dev["en"]["sentence1"] != dev["de"]["sentence1"]


def test_intermediate_label_outside_the_task_is_refused(tmp_path):
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "train.tsv").write_text(tsv([("a", "b", "maybe")], header=("premise", "hypothesis", "label")))
    with pytest.raises(data.DataError, match=r"de/train.tsv, line 2: label 'maybe' is not one of XNLI's labels"):
        data.load_intermediate("xnli", str(tmp_path), "de")


def test_hub_rows_are_standardised_and_unlabelled_rows_dropped(monkeypatch):
    calls = []
    hub_pawsx = datasets.Dataset.from_dict(
        {"id": [1, 2, 5], "sentence1": ["a", "NS", "c"], "sentence2": ["a'", "NS", "c'"], "label": [1, 0, -1]},
        features=datasets.Features({"id": datasets.Value("int32"), "sentence1": datasets.Value("string"),
                                    "sentence2": datasets.Value("string"), "label": datasets.Value("int64")}))
    hub_xnli = datasets.Dataset.from_dict(
        {"premise": ["p1", "p2"], "hypothesis": ["h1", "h2"], "label": [2, 0]},
        features=datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                    "label": datasets.ClassLabel(names=list(tasks.XNLI.label_names))}))

    def fake_load_dataset(repo, config, split):
        calls.append((repo, config, split))
        return hub_pawsx if repo == tasks.PAWSX.hub_id else hub_xnli

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds, counts = data.load_corpus(tasks.PAWSX, "hub", "de", "test")
    assert as_rows(ds) == [("1", "a", "a'", "1"), ("2", "NS", "NS", "0")] and ds.features == data.FEATURES
    assert counts["unlabelled_dropped"] == 1
    nli = data.load_intermediate("xnli", "hub", "hi", "train")
    assert as_rows(nli) == [("0", "p1", "h1", "2"), ("1", "p2", "h2", "0")] and nli.features == data.FEATURES
    data.load_intermediate("pawsx_tt", "hub", "ja", "train")
    assert calls == [("google-research-datasets/paws-x", "de", "test"), ("facebook/xnli", "hi", "train"),
                     ("google-research-datasets/paws-x", "ja", "train")]


def _offline_message(code: str, **env) -> str:
    script = f"from dlfa.data import corpora as data, tokenization\ntry:\n    {code}\nexcept RuntimeError as e:\n    print(e)\n"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300).stdout


def test_hub_offline_error_names_the_dataset_and_the_local_alternative(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}  # an empty cache
    out = _offline_message("data.load_pawsx('hub', 'de', 'test')", **env)
    assert "PAWS-X" in out and "'google-research-datasets/paws-x', config 'de', split 'test'" in out
    assert "HF_HUB_OFFLINE=1" in out and "de/test_2k.tsv" in out and "'synthetic'" in out
    out = _offline_message("data.load_intermediate('xnli', 'hub', 'sw')", **env)
    assert "'facebook/xnli', config 'sw'" in out and "intermediate_source" in out
    out = _offline_message("tokenization.load_tokenizer('bert-base-multilingual-cased', '.')", **env)
    assert "tokenizer of 'bert-base-multilingual-cased'" in out and "local directory" in out


@pytest.mark.slow
def test_hub_unreachable_error_names_the_dataset(tmp_path):
    # a closed local port stands in for a network without the hub (huggingface_hub retries for ~25 s)
    out = _offline_message("data.load_pawsx('hub', 'fr', 'validation')", HF_HOME=str(tmp_path),
                           HF_ENDPOINT="http://127.0.0.1:9")
    assert "'google-research-datasets/paws-x', config 'fr', split 'validation'" in out and "reachable" in out


def test_synthetic_corpora_have_the_common_columns_and_are_parallel():
    ds = data.load_pawsx("synthetic", "ja", "test", size=50)
    assert ds.column_names == ["id", "sentence1", "sentence2", "label"] and len(ds) == 50
    assert ds.features == data.FEATURES
    en = data.load_pawsx("synthetic", "en", "test", size=50)
    assert list(en["label"]) == list(ds["label"]) and list(en["sentence1"]) != list(ds["sentence1"])
    nli = data.load_intermediate("xnli", "synthetic", "hi", "train", size=60)
    assert nli.column_names == ["id", "sentence1", "sentence2", "label"] and set(nli["label"]) == {0, 1, 2}
    tt = data.load_intermediate("pawsx_tt", "synthetic", "de", "train", size=40)
    assert list(tt["label"]) == list(data.load_pawsx("synthetic", "en", "train", size=40)["label"])  # a translation
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_pawsx("synthetic", "en", "dev")


def test_subset_is_stratified_and_reproducible():
    ds = data.load_pawsx("synthetic", "en", "train", size=1000)
    a, b = data.subset(ds, 200, seed=3), data.subset(ds, 200, seed=3)
    assert list(a["id"]) == list(b["id"]) and len(a) == 200
    assert list(a["id"]) == sorted(a["id"])  # file order kept
    assert list(data.subset(ds, 200, seed=4)["id"]) != list(a["id"])
    share = sum(ds["label"]) / len(ds)
    assert abs(sum(a["label"]) / 200 - share) <= 1 / 200 + 1e-9
    assert data.subset(ds, None, 0) is ds and data.subset(ds, 5000, 0) is ds


def test_load_corpus_subsets_real_files(pawsx_sample):
    ds, counts = data.load_corpus(tasks.PAWSX, str(pawsx_sample), "fr", "validation", size=300, seed=1)
    assert len(ds) == 300 and counts["source_rows"] == 2000
    again, _ = data.load_corpus(tasks.PAWSX, str(pawsx_sample), "fr", "validation", size=300, seed=1)
    assert list(again["id"]) == list(ds["id"])


@pytest.fixture(scope="module")
def tokenizer():
    ds = data.load_pawsx("synthetic", "en", "train", size=300)
    return train_tokenizer(list(ds["sentence1"]) + list(ds["sentence2"]), 300)


def test_tokenize_truncates_pairs_without_padding_and_flags_what_it_cut(tokenizer):
    ds = data.load_pawsx("synthetic", "es", "test", size=60)
    tok = tokenization.tokenize(ds, tokenizer, max_length=60)
    assert tok.column_names == ["id", "input_ids", "token_type_ids", "attention_mask", "labels", "truncated"]
    lengths = [len(x) for x in tok["input_ids"]]
    full = [len(x) for x in tokenizer(list(ds["sentence1"]), list(ds["sentence2"]))["input_ids"]]
    assert lengths == [min(n, 60) for n in full]
    assert list(tok["truncated"]) == [n > 60 for n in full] and 0 < sum(tok["truncated"]) < len(ds)
    assert all(m == [1] * n for m, n in zip(tok["attention_mask"], lengths))
    assert list(tok["labels"]) == list(ds["label"]) and list(tok["id"]) == list(ds["id"])
    first = tokenizer(ds[0]["sentence1"], ds[0]["sentence2"], truncation="longest_first", max_length=60)
    assert tok[0]["input_ids"] == first["input_ids"]  # exactly the tokenizer's own truncation


def key_for(ds, tok, **change):
    args = dict(task="pawsx", source="synthetic", language="en", split="test", size=20, seed=0,
                drop_placeholders=False, tokenizer=tokenization.tokenizer_fingerprint(tok), max_length=12)
    return tokenization.cache_key(ds, **{**args, **change})


def test_cache_is_reused_for_the_same_key_and_rebuilt_when_any_part_changes(tmp_path, tokenizer):
    ds = data.load_pawsx("synthetic", "en", "test", size=20)
    other_tokenizer = train_tokenizer(list(ds["sentence1"]), 200)
    builds = []

    def build(max_length=12):
        builds.append(max_length)
        return tokenization.tokenize(ds, tokenizer, max_length)

    path = tmp_path / "cache"
    first, hit = tokenization.cached_tokenized(path, key_for(ds, tokenizer), build)
    assert not hit
    again, hit = tokenization.cached_tokenized(path, key_for(ds, tokenizer), build)
    assert hit and builds == [12] and list(first["input_ids"]) == list(again["input_ids"])
    changes = [{"max_length": 16}, {"seed": 1}, {"size": 10}, {"drop_placeholders": True}, {"source": str(tmp_path)},
               {"tokenizer": tokenization.tokenizer_fingerprint(other_tokenizer)}]
    for change in changes:
        _, hit = tokenization.cached_tokenized(path, key_for(ds, tokenizer, **change), build)
        assert not hit, change
    edited = ds.map(lambda row: {"sentence1": row["sentence1"] + "!"} if row["id"] == 3 else row)
    assert key_for(edited, tokenizer)["rows"] != key_for(ds, tokenizer)["rows"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left behind


def test_tokenizer_fingerprint_ignores_per_call_truncation(tokenizer):
    before = tokenization.tokenizer_fingerprint(tokenizer)
    tokenizer("a b c", "d e", truncation="longest_first", max_length=4)
    assert tokenization.tokenizer_fingerprint(tokenizer) == before


def test_a_damaged_cache_is_rebuilt_with_a_warning(tmp_path, tokenizer):
    ds = data.load_pawsx("synthetic", "en", "test", size=20)
    path, key = tmp_path / "cache", key_for(ds, tokenizer)
    tokenization.cached_tokenized(path, key, lambda: tokenization.tokenize(ds, tokenizer, 12))
    for arrow in path.glob("*.arrow"):
        arrow.write_bytes(b"not arrow")
    with pytest.warns(UserWarning, match="does not load"):
        rebuilt, hit = tokenization.cached_tokenized(path, key, lambda: tokenization.tokenize(ds, tokenizer, 12))
    assert not hit and len(rebuilt) == 20
    (path / "dlfa_key.json").write_text("{not json")
    _, hit = tokenization.cached_tokenized(path, key, lambda: tokenization.tokenize(ds, tokenizer, 12))
    assert not hit and json.loads((path / "dlfa_key.json").read_text())["rows"] == key["rows"]


def test_describe_counts_placeholders_identical_pairs_lengths_and_truncation(official, tokenizer):
    raw, counts = data.load_corpus(tasks.PAWSX, str(official), "en", "train")
    tok = tokenization.tokenize(raw, tokenizer, 8)
    row = tokenization.describe(raw, tok, counts, "pawsx", "en", "train", num_labels=2)
    assert row["rows"] == 6 and row["source_rows"] == 6 and row["placeholder_rows"] == 3
    assert row["identical_pairs"] == 2  # NS/NS and "Same sentence."
    assert row["label_0_share"] == pytest.approx(4 / 6, abs=1e-4) and row["label_1_share"] == pytest.approx(2 / 6, abs=1e-4)
    lengths = sorted(len(x) for x in tok["input_ids"])
    assert row["tokens_max"] == lengths[-1] <= 8 and row["tokens_p50"] == pytest.approx((lengths[2] + lengths[3]) / 2)
    assert row["truncated_share"] == pytest.approx(sum(tok["truncated"]) / 6, abs=1e-4)
    table = tokenization.stats_table([row, {**row, "label_2_share": 0.0, "corpus": "xnli"}])
    first = list(table.columns).index("label_0_share")
    assert list(table.columns[first:first + 4]) == ["label_0_share", "label_1_share", "label_2_share", "tokens_mean"]


def test_tokenizer_training_is_deterministic_and_covers_every_character():
    ds = data.load_pawsx("synthetic", "ja", "test", size=200)
    texts = list(ds["sentence1"]) + list(ds["sentence2"])
    vocabs = [train_tokenizer(texts, 120).get_vocab() for _ in range(3)]
    assert vocabs[0] == vocabs[1] == vocabs[2]  # tokenizers' own trainer gives a new vocabulary each call
    tok = train_tokenizer(texts, 120)
    assert len(tok) == 120
    assert "[UNK]" not in tok.tokenize(" ".join(texts[:20]))  # rare words fall back to ##characters


@pytest.mark.slow
def test_data_notebook_on_the_real_sample_caches_and_describes(tmp_path, pawsx_sample):
    from dlfa.orchestration import notebooks
    source = tmp_path / "x-final"  # the sample has no test files: its dev files stand in
    for lang in tasks.PAWSX_LANGUAGES:
        (source / lang).mkdir(parents=True)
        for name in ("dev_2k.tsv", "train.tsv" if lang == "en" else "translated_train.tsv"):
            (source / lang / name).symlink_to(pawsx_sample / lang / name)
        (source / lang / "test_2k.tsv").symlink_to(pawsx_sample / lang / "dev_2k.tsv")
    p = {"study": "sample", "model": "tiny", "data_source": str(source), "targets": ["de", "ja"],
         "intermediate_task": "pawsx_tt", "candidate_languages": ["de", "ko"], "max_length": 64,
         "tiny_model": {"vocab_size": 600}, "fusion_layers": [None]}
    study = tmp_path / "out" / "sample"

    def run(**change):
        notebook = study / "notebooks" / "01_data.ipynb"
        params_file = tmp_path / "sample.yaml"
        params_file.write_text(yaml.safe_dump({**p, **change}))
        notebooks.execute("01_data", notebook, notebooks.parameters("01_data", params_file, tmp_path / "out"))
        stamps = {path.parent.relative_to(study): path.stat().st_mtime_ns
                  for path in (study / "data" / "tokenized").glob("*/*/*/dlfa_key.json")}
        return notebook.read_text(), stamps, pd.read_csv(study / "data" / "stats.csv")

    text, stamps, stats = run()
    assert len(stamps) == 1 + 2 * 3 + 2 * 2  # en train; dev and test of en, de, ja; pawsx_tt de and ko, train and dev
    de_dev = stats.set_index(["corpus", "language", "split"]).loc[("pawsx", "de", "validation")]
    assert de_dev["rows"] == 2000 and de_dev["placeholder_rows"] == 68 and de_dev["placeholders_dropped"] == 0
    assert stats.set_index(["corpus", "language", "split"]).loc[("pawsx_tt", "ko", "train"), "rows"] == 4
    assert "0 of 11 corpora loaded from the cache" in text
    text, again, _ = run()
    assert again == stamps and "11 of 11 corpora loaded from the cache" in text  # nothing re-tokenized
    text, rebuilt, stats = run(drop_placeholders=True)
    assert all(rebuilt[k] != stamps[k] for k in stamps) and "0 of 11 corpora" in text
    de_dev = stats.set_index(["corpus", "language", "split"]).loc[("pawsx", "de", "validation")]
    assert de_dev["rows"] == 1932 and de_dev["placeholders_dropped"] == 68 and de_dev["placeholder_rows"] == 0
    for png in ("lengths.png", "labels.png"):
        assert (study / "data" / "figures" / png).read_bytes()[:4] == b"\x89PNG"


def test_token_lengths_are_each_rows_count_of_input_ids_through_a_selection():
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4], [5, 6], []]})
    assert tokenization.token_lengths(ds).tolist() == [3, 1, 2, 0]
    assert tokenization.token_lengths(ds.select([2, 0])).tolist() == [2, 3]  # the indices mapping, not the table's order
