"""The smoke profile's model: a WordPiece tokenizer trained on the study's own text and a small
randomly initialised BERT, saved under ``<study>/model`` so every run starts from the same files."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertTokenizerFast

from dlfa.training.pretrain import pretrain

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> BertTokenizerFast:
    """A BERT-style (lowercasing, WordPiece) tokenizer learnt from ``texts``, deterministically.

    tokenizers' WordPieceTrainer breaks frequency ties in hash-map order, so it gives a different
    vocabulary in each process; here the vocabulary is every character (and its ``##`` form) plus
    the most frequent words, ties broken alphabetically. Rarer words split into characters.
    """
    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in counts for c in word})
    vocab = SPECIAL + chars + [f"##{c}" for c in chars]
    room = max(0, vocab_size - len(vocab))
    vocab += [w for w, _ in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if len(w) > 1][:room]
    return wordpiece_tokenizer(vocab, lowercase=True)


def wordpiece_tokenizer(vocab: list[str], lowercase: bool) -> BertTokenizerFast:
    """A BERT tokenizer (normaliser, pre-tokenizer, ``[CLS] A [SEP] B [SEP]`` template) over ``vocab``,
    which must hold ``SPECIAL``."""
    normalizer, pre = normalizers.BertNormalizer(lowercase=lowercase), pre_tokenizers.BertPreTokenizer()
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, pre, decoders.WordPiece()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                             cls_token="[CLS]", mask_token="[MASK]")


def tiny_config(vocab_size: int, hidden_size: int, num_layers: int, num_heads: int,
                intermediate_size: int, max_length: int) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                      num_attention_heads=num_heads, intermediate_size=intermediate_size,
                      max_position_embeddings=max(max_length, 64), type_vocab_size=2,
                      # A tiny BERT trained from scratch for ~1,500 steps needs no regulariser: with
                      # dropout it sits at chance for half its budget (en dev 0.57 until step ~900,
                      # 0.90 at the end; 0.95 without hidden dropout), and some seeds never leave it.
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def prepare(model_dir: str | Path, texts: Iterable[str], tiny: dict, max_length: int,
            pretraining_text: list[str] | None = None, seed: int = 0) -> BertTokenizerFast:
    """Train the tokenizer and write it with the tiny BERT's config.json to ``model_dir``; with
    ``tiny["mlm_epochs"]``, also the encoder pretrained on ``pretraining_text`` (``dlfa.training.pretrain``),
    so that the folder appears whole, weights included, or not at all."""
    tokenizer = train_tokenizer(texts, tiny["vocab_size"])
    config = tiny_config(len(tokenizer), tiny["hidden_size"], tiny["num_layers"], tiny["num_heads"],
                         tiny["intermediate_size"], max_length)
    model_dir = Path(model_dir)
    tmp = model_dir.with_name(f".{model_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer.save_pretrained(str(tmp))
    config.save_pretrained(str(tmp))
    if tiny.get("mlm_epochs"):
        if not pretraining_text:
            raise ValueError("tiny_model.mlm_epochs is set but no pretraining text was given")
        pretrain(tmp, tokenizer, pretraining_text, tiny["mlm_epochs"], seed, max_length)
    old = model_dir.with_name(f".{model_dir.name}.old.tmp-{os.getpid()}")
    if model_dir.exists():  # whole old folder or whole new one, never a mix of the two
        os.replace(model_dir, old)
    os.replace(tmp, model_dir)
    shutil.rmtree(old, ignore_errors=True)
    return tokenizer
