"""How language-neutral each encoder layer is, on parallel dev rows of the target task.

PAWS-X's and XNLI's dev rows are translations of each other (the same ``id`` in every language). For each
target language, each layer's token states are mean-pooled over the valid tokens of a pair,
centred by subtracting that language's mean vector (over the pairs used), and the cosine
similarity between the English pair and its translation is averaged over pairs. Without centring,
a component shared by all sentences makes every cosine close to 1 (Libovický et al. 2020). The
DLFA paper's motivation is that lower layers are more language-neutral than the last one; this
measures it for the pretrained encoder and after fine-tuning.
"""

from __future__ import annotations

import datasets
import pandas as pd
import torch

from dlfa.data.corpora import column

INPUTS = ["input_ids", "token_type_ids", "attention_mask"]


@torch.no_grad()
def pooled_layers(model, rows: datasets.Dataset, collator, batch_size: int = 64) -> torch.Tensor:
    """Mean over valid tokens of every hidden state (embeddings, then each layer): (N, L + 1, E)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    inputs = [k for k in INPUTS if k in rows.column_names]  # XLM-R's tokenizer gives no token_type_ids
    try:
        for start in range(0, len(rows), batch_size):
            batch = collator([{k: row[k] for k in inputs} for row in rows.select(range(start, min(start + batch_size,
                                                                                                  len(rows))))])
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = model.backbone(**batch, output_hidden_states=True).hidden_states  # L + 1 x (B, T, E)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden[0].dtype)  # (B, T, 1)
            pooled = [(h * mask).sum(1) / mask.sum(1) for h in hidden]  # L + 1 x (B, E)
            out.append(torch.stack(pooled, dim=1).float().cpu())  # (B, L + 1, E)
    finally:
        model.train(was_training)
    return torch.cat(out)


def layer_similarity(model, tokenized_path, languages: list[str], collator, max_pairs: int = 500,
                     source: str = "en", task: str = "pawsx") -> dict[str, list[float]]:
    """Per target language, the mean cosine similarity of ``source`` and target pairs at each layer.

    ``tokenized_path(task, language, split)`` gives 01_data's cached dev sets of ``task`` (the target
    task); the first ``max_pairs``
    ids (in order) common to both languages are used.
    """
    first = datasets.load_from_disk(str(tokenized_path(task, source, "validation")))
    result, sources = {}, {}  # the source's pooled states per id set: parallel sets share one pass
    for language in languages:
        if language == source:
            continue
        second = datasets.load_from_disk(str(tokenized_path(task, language, "validation")))
        common = sorted(set(column(first, "id")) & set(column(second, "id")))[:max_pairs]
        if not common:
            continue
        if tuple(common) not in sources:
            sources[tuple(common)] = pooled_layers(model, first.select(_positions(first, common)), collator)
        ha = sources[tuple(common)]
        hb = pooled_layers(model, second.select(_positions(second, common)), collator)  # (N, L + 1, E)
        ha, hb = ha - ha.mean(0), hb - hb.mean(0)  # centred per language and layer
        cosine = torch.nn.functional.cosine_similarity(ha, hb, dim=-1)  # (N, L + 1)
        result[language] = [round(float(v), 6) for v in cosine.mean(0)]
    return result


def _positions(ds: datasets.Dataset, ids: list[int]) -> list[int]:
    where = {i: n for n, i in enumerate(column(ds, "id"))}
    return [where[i] for i in ids]


def similarity_table(metrics: list[dict]) -> pd.DataFrame:
    """Tidy ``run_id, variant, intermediate_language, seed, model, language, layer, similarity``."""
    rows = []
    for m in metrics:
        c = m["config"]
        for state, per_language in (m.get("similarity") or {}).items():
            if state == "pairs":
                continue
            for language, values in per_language.items():
                rows += [{"run_id": m["run_id"], "variant": c["variant"],
                          "intermediate_language": c["intermediate_language"], "seed": c["seed"], "model": state,
                          "language": language, "layer": layer, "similarity": value}
                         for layer, value in enumerate(values)]
    return pd.DataFrame(rows, columns=["run_id", "variant", "intermediate_language", "seed", "model", "language",
                                       "layer", "similarity"])


def layer_alignment(model, tokenized_path, languages: list[str], collator, source: str = "en",
                    task: str = "pawsx") -> pd.DataFrame:
    """How aligned each layer is across languages, on the target task's parallel dev rows: per
    language other than ``source`` and layer (0: embeddings), the mean cosine of each pair with its
    translation (pooled, centred per language, as ``layer_similarity``) and ``r_at_1``, the share of
    ``source`` pairs whose nearest pair in the other language (cosine, among all of its dev pairs)
    is their own translation. ``layer, language, cosine, r_at_1, pairs``."""
    first = datasets.load_from_disk(str(tokenized_path(task, source, "validation")))
    rows = []
    for language in languages:
        if language == source:
            continue
        second = datasets.load_from_disk(str(tokenized_path(task, language, "validation")))
        common = sorted(set(column(first, "id")) & set(column(second, "id")))
        if len(common) < 2:
            continue
        ha = pooled_layers(model, first.select(_positions(first, common)), collator)
        hb = pooled_layers(model, second.select(_positions(second, common)), collator)
        ha, hb = ha - ha.mean(0), hb - hb.mean(0)
        ha, hb = torch.nn.functional.normalize(ha, dim=-1), torch.nn.functional.normalize(hb, dim=-1)
        for layer in range(ha.shape[1]):
            scores = ha[:, layer] @ hb[:, layer].T  # (N, N): source pair i against every target pair
            hits = (scores.argmax(dim=1) == torch.arange(len(common))).float().mean()
            rows.append({"layer": layer, "language": language, "cosine": float(scores.diagonal().mean()),
                         "r_at_1": float(hits), "pairs": len(common)})
    return pd.DataFrame(rows, columns=["layer", "language", "cosine", "r_at_1", "pairs"])
