"""mBERT-like token lengths of English PAWS-X pairs, without mBERT's tokenizer (no hub here).

Source: the real sample in ``../shared/data/pawsx-sample`` when present (English ``dev_2k.tsv``,
2,000 pairs; dev and train are drawn from the same Wikipedia pairs, so their lengths agree).
Each pair is encoded as mBERT encodes it, ``[CLS] s1 [SEP] s2 [SEP]`` truncated at 128, by a
WordPiece tokenizer with mBERT's normalisation (cased, accents kept, CJK characters split, BERT
pre-tokenizer) whose 30,000-entry vocabulary is learnt with ``tokenizers`` from the text of all
seven languages of the sample (dev and train files). mBERT's own 119,547 entries cover 104
languages, so how finely it splits English is not known here; two bounds frame the choice:

- ``pretokens``: words and punctuation marks (BERT pre-tokenizer) + 3 special tokens. Every
  pre-token is at least one WordPiece, so mBERT's lengths can only be longer (a hard lower bound).
- ``wordpiece_16k``: the same tokenizer with a 16,000-entry vocabulary: more splitting.

Without the sample, lengths are drawn from ``FALLBACK_QUANTILES`` (the 30k-vocabulary lengths of
the sample, every 5th percentile, measured once), so the fallback has the same distribution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .common import SAMPLE

LANGUAGES = ("en", "de", "es", "fr", "ja", "ko", "zh")
MAX_LENGTH = 128
VOCAB = 30_000
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Percentiles 0, 5, ..., 100 of the 30k-WordPiece lengths of the sample's 2,000 English dev pairs.
FALLBACK_QUANTILES = [15, 30, 33, 36, 39, 41, 43, 44, 46, 48, 49, 51, 53, 55, 58, 60, 61, 64, 66, 71, 90]


def sample_available(root: Path = SAMPLE) -> bool:
    return (Path(root) / "en" / "dev_2k.tsv").is_file()


def _texts(root: Path) -> list[str]:
    from dlfa.data.corpora import read_official_tsv
    texts = []
    for lang in LANGUAGES:
        for name in ("dev_2k.tsv", "train.tsv" if lang == "en" else "translated_train.tsv"):
            path = Path(root) / lang / name
            if path.is_file():
                ds = read_official_tsv(path)
                texts += list(ds["sentence1"]) + list(ds["sentence2"])
    return texts


def wordpiece(texts: list[str], vocab_size: int):
    """A cased mBERT-style WordPiece tokenizer (transformers' fast tokenizer, so collators can pad)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                                             show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                   cls_token="[CLS]", mask_token="[MASK]")


def describe(lengths: np.ndarray) -> dict[str, float]:
    lengths = np.asarray(lengths)
    return {"n": int(lengths.size), "mean": round(float(lengths.mean()), 2), "p50": float(np.percentile(lengths, 50)),
            "p90": float(np.percentile(lengths, 90)), "p99": float(np.percentile(lengths, 99)),
            "max": int(lengths.max()), "truncated_share": round(float((lengths >= MAX_LENGTH).mean()), 4)}


def english_lengths(root: Path = SAMPLE) -> dict[str, Any]:
    """Lengths of the sample's English dev pairs under the chosen tokenizer and the two bounds, with
    the tokenizer itself (the padding benchmark pads with it)."""
    from tokenizers import normalizers, pre_tokenizers

    from dlfa.data.corpora import read_official_tsv
    texts = _texts(root)
    english = read_official_tsv(Path(root) / "en" / "dev_2k.tsv")
    first, second = list(english["sentence1"]), list(english["sentence2"])
    out: dict[str, Any] = {"source": f"{root}/en/dev_2k.tsv ({len(first)} pairs); vocabulary learnt from "
                                     f"{len(texts)} sentences of {', '.join(LANGUAGES)}"}
    for label, size in (("wordpiece_30k", VOCAB), ("wordpiece_16k", 16_000)):
        tokenizer = wordpiece(texts, size)
        enc = tokenizer(first, second, truncation="longest_first", max_length=MAX_LENGTH)
        out[label] = np.array([len(ids) for ids in enc["input_ids"]])
        if size == VOCAB:
            out["tokenizer"] = tokenizer
    norm = normalizers.BertNormalizer(lowercase=False, strip_accents=False, handle_chinese_chars=True)
    pre = pre_tokenizers.BertPreTokenizer()
    count = lambda text: len(pre.pre_tokenize_str(norm.normalize_str(text)))  # noqa: E731
    out["pretokens"] = np.minimum(np.array([count(a) + count(b) + 3 for a, b in zip(first, second)]), MAX_LENGTH)
    return out


def fallback_lengths(n: int = 2000, seed: int = 0) -> np.ndarray:
    """Lengths drawn from the stored percentiles (linear between them), when the sample is absent."""
    q = np.asarray(FALLBACK_QUANTILES, dtype=float)
    u = np.random.default_rng(seed).random(n) * (len(q) - 1)
    low = np.floor(u).astype(int)
    high = np.minimum(low + 1, len(q) - 1)
    return np.rint(q[low] + (u - low) * (q[high] - q[low])).astype(int)
