"""Model FLOPs per trained token, for MFU: 6 N + 12 L E T (N: parameters outside the embeddings; L
layers, E hidden size, T padded length); an evaluated token costs a third of that."""

from __future__ import annotations

from typing import Any

from dlfa.orchestration.plan import embedding_count, parameter_count


def training_flops(non_embedding: float, layers: int, hidden: int, width: float) -> float:
    """Training FLOPs per token: 6 N + 12 L E T (N: parameters outside the embeddings; T: padded width)."""
    return 6 * non_embedding + 12 * layers * hidden * width


def flops_per_token(model, config, tokens: int) -> float:
    """``training_flops`` of a model this process holds (its DLFA module and head counted)."""
    embeddings = sum(p.numel() for p in model.bert.embeddings.parameters())
    n = sum(p.numel() for p in model.parameters()) - embeddings
    return training_flops(n, config.num_hidden_layers, config.hidden_size, tokens)


def flops_per_token_of(config: dict[str, Any], width: float) -> float:
    """``training_flops`` from a config's sizes (a BERT encoder with pooler; the DLFA module and the head,
    under 1%, left out): for a run whose model this process does not hold."""
    non_embedding = parameter_count(config) - embedding_count(config)
    return training_flops(non_embedding, config["num_hidden_layers"], config["hidden_size"], width)
