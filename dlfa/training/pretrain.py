"""Masked-LM pretraining of the tiny BERT on synthetic text in every language of a study, once per
study and before any run, as mBERT was pretrained on Wikipedia in all its languages
(``tiny_model: {mlm_epochs: N}``; default 0: the runs start from random weights).

Why: a tiny BERT trained from scratch sits on a loss plateau for hundreds of steps at the start of
a stage and relearns from there, which wipes what an intermediate stage taught (docs/validation.md
measures it). A pretrained encoder starts every stage from representations shared by the
languages, as the study's real question assumes.

The text: ``mlm_sentences`` sentences per language, realised from propositions drawn from a stream
of their own (seeded by language and ``seed``, never the rows of a split), active or passive, with
or without a time adverb, in each language's usual spellings only. A concept's synonym never
appears here, so which spellings name the same concept is learnt from the tasks alone: in the
planted control, from the intermediate language's stage, for the spellings a target shares with it.
The objective is BERT's: 15% of the tokens chosen, of which 80% masked, 10% replaced, 10% kept
(``DataCollatorForLanguageModeling``).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, Iterable

from dlfa.data import synthetic
from dlfa.io import write_json

MASK_SHARE = 0.15
BATCH = 64
LEARNING_RATE = 1e-3  # the tiny model's (params/control.yaml trains its stages at 5e-4 to 1e-3)
WARMUP_SHARE = 0.05


def pretraining_text(profiles: Iterable, sentences: int, seed: int = 0) -> list[str]:
    """``sentences`` sentences in each language (``synthetic.LanguageProfile``), usual spellings only."""
    if sentences < 1:
        raise ValueError(f"sentences must be >= 1; got {sentences!r}")
    text = []
    for profile in profiles:
        rng = random.Random(f"dlfa.pretrain|{profile.code}|{seed}")
        for _ in range(sentences):
            p = synthetic.sample_proposition(rng, adverb=rng.random() < 0.5)
            text.append(synthetic.realise(p, passive=rng.random() < 0.5, adverb_first=rng.random() < 0.5,
                                          profile=profile))
    return text


def pretrain(model_dir: str | Path, tokenizer, texts: list[str], epochs: int, seed: int = 0,
             max_length: int = 64, log=print) -> dict[str, Any]:
    """Train a BertForMaskedLM of ``model_dir``'s config on ``texts`` and save it there (its encoder is
    what every run then starts from). Returns the record written to ``pretraining.json``: its settings
    and, per epoch, the mean masked-LM loss and the masked tokens' accuracy."""
    import torch
    from transformers import (BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling,
                              get_linear_schedule_with_warmup)

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs!r}")
    model_dir = Path(model_dir)
    torch.manual_seed(seed)
    model = BertForMaskedLM(BertConfig.from_pretrained(model_dir))
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASK_SHARE, return_tensors="pt")
    steps_per_epoch = math.ceil(len(encoded) / BATCH)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.98), weight_decay=0.0)
    schedule = get_linear_schedule_with_warmup(optimizer, round(WARMUP_SHARE * epochs * steps_per_epoch),
                                               epochs * steps_per_epoch)
    order = torch.Generator().manual_seed(seed)
    history = []
    model.train()
    for epoch in range(epochs):
        loss_sum = correct = masked = 0.0
        rows = torch.randperm(len(encoded), generator=order)
        for start in range(0, len(encoded), BATCH):
            batch = collator([{"input_ids": encoded[i]} for i in rows[start:start + BATCH].tolist()])
            out = model(**batch)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            chosen = batch["labels"] != -100
            loss_sum += float(out.loss.detach()) * int(chosen.sum())
            correct += int((out.logits.argmax(-1)[chosen] == batch["labels"][chosen]).sum())
            masked += int(chosen.sum())
        history.append({"epoch": epoch + 1, "loss": round(loss_sum / masked, 4),
                        "accuracy": round(correct / masked, 4)})
        log(f"masked-LM pretraining epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.3f}, "
            f"masked-token accuracy {history[-1]['accuracy']:.3f}")
    model.save_pretrained(model_dir)
    record = {"epochs": epochs, "sentences": len(texts), "steps": epochs * steps_per_epoch, "batch": BATCH,
              "learning_rate": LEARNING_RATE, "mask_share": MASK_SHARE, "seed": seed, "history": history}
    write_json(model_dir / "pretraining.json", record)
    return record
