"""BERT and XLM-R sequence classifiers with optional DLFA fusion of layer k with the last layer.

BERT (``DLFAForSequenceClassification``) mirrors transformers' ``BertForSequenceClassification``:
encoder -> pooler ([CLS] through dense + tanh) -> dropout -> linear classifier. XLM-R and other
RoBERTa-family encoders (``DLFAForXLMRobertaSequenceClassification``) have no pooler and mirror
``XLMRobertaForSequenceClassification``: the ``<s>`` token through RoBERTa's classification head
(dropout, dense, tanh, dropout, projection). With ``fusion_layer=k`` the pooler (or the head) reads
the DLFA fusion of hidden layer k (1..L-1) and layer L instead of layer L alone; with
``fusion_layer=None`` each is the plain baseline and gives exactly the logits and loss of its
transformers class with the same weights. ``DLFAForSequenceClassification.from_pretrained`` and
``from_config`` build the class of the checkpoint's model type; ``model.backbone`` is the encoder
of either (``model.bert`` or ``model.roberta``).

The DLFA settings are a :class:`dlfa.config.fusion.DLFAConfig`, kept in the transformers config as
``config.dlfa``, so ``save_pretrained`` / ``from_pretrained`` round-trip them with the weights.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, BertConfig, BertModel, BertPreTrainedModel, XLMRobertaModel
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.xlm_roberta.modeling_xlm_roberta import XLMRobertaClassificationHead, XLMRobertaPreTrainedModel

from dlfa.config.fusion import DLFAConfig
from dlfa.training.aif import DLFA

_KEEP = object()  # "not given": keep what the loaded config says
ROBERTA_TYPES = ("xlm-roberta", "roberta")  # model types built as DLFAForXLMRobertaSequenceClassification
_HUB_KWARGS = ("cache_dir", "revision", "token", "local_files_only", "force_download", "subfolder")


def dlfa_config(config: BertConfig) -> DLFAConfig:
    """The DLFA settings a transformers config carries (``config.dlfa``); the baseline if none.
    Checkpoints saved before ``DLFAConfig`` carry ``fusion_layer`` and ``fusion_options``."""
    if getattr(config, "dlfa", None) is None and getattr(config, "fusion_layer", None) is not None:
        return DLFAConfig.from_dict({"fusion_layer": config.fusion_layer, **(getattr(config, "fusion_options", None) or {})})
    return DLFAConfig.from_dict(getattr(config, "dlfa", None))


def configure_fusion(config: BertConfig, dlfa: DLFAConfig | None = None) -> BertConfig:
    """A copy of ``config`` carrying ``dlfa`` (validated against the encoder's shape)."""
    dlfa = (dlfa or DLFAConfig()).check(config.hidden_size, config.num_hidden_layers)
    if dlfa.fusion_layer is not None:
        # The kernel's own checks too. Building it draws from the global RNG, as it always has here:
        # a seeded model's initial weights (and the smoke study's results) stay what they were.
        DLFA(config.hidden_size, **dlfa.options)
    config = copy.deepcopy(config)
    config.dlfa = dlfa.to_dict()
    return config


class _FusedClassifier:
    """What both classifiers share: the fused layer's hook, the forward pass and the loss."""

    # The loss is a mean over the batch. Trainer would otherwise see **kwargs, assume the loss is a
    # sum over num_items_in_batch, and neither divide it by the accumulation steps nor average it
    # over processes: gradients k times too large with k-step accumulation or k GPUs.
    accepts_loss_kwargs = False

    @classmethod
    def _load(cls, pretrained_model_name_or_path, model_args, num_labels, dlfa, config, kwargs):
        if num_labels is not None:
            config.num_labels = num_labels
        config = configure_fusion(config, dlfa_config(config) if dlfa is _KEEP else dlfa)
        return super().from_pretrained(pretrained_model_name_or_path, *model_args, config=config, **kwargs)

    def _add_fusion(self, config) -> None:
        """The DLFA module of ``config.dlfa`` (None for the baseline), built after the encoder: a seeded
        model draws its weights in the order it always has."""
        self.num_labels = config.num_labels
        dlfa = dlfa_config(config)
        self.fusion_layer = dlfa.fusion_layer
        self.dlfa = DLFA(config.hidden_size, **dlfa.options) if self.fusion_layer is not None else None

    def _logits(self, outputs, fused: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                output_hidden_states: bool | None = None, output_attentions: bool | None = None,
                **kwargs: Any) -> SequenceClassifierOutput:
        fuse = self.dlfa is not None
        captured: dict[str, torch.Tensor] = {}
        hook = None
        if fuse and not output_hidden_states:  # keep layer k's output only, not all L + 1 hidden states
            def keep(module, args, output):
                captured["low"] = output[0] if isinstance(output, tuple) else output
            hook = self.backbone.encoder.layer[self.fusion_layer - 1].register_forward_hook(keep)
        try:
            outputs = self.backbone(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                    position_ids=position_ids, inputs_embeds=inputs_embeds,
                                    output_hidden_states=bool(output_hidden_states),
                                    output_attentions=output_attentions, return_dict=True, **kwargs)
        finally:
            if hook is not None:
                hook.remove()
        fused = None
        if fuse:
            # hidden_states[k] (0 is the embeddings) is what encoder layer k - 1 (0-based) returns
            low = outputs.hidden_states[self.fusion_layer] if output_hidden_states else captured["low"]  # (B, T, E)
            fused = self.dlfa(low, outputs.last_hidden_state, attention_mask)  # (B, T, E)
        logits = self._logits(outputs, fused)  # (B, num_labels)

        loss = None
        if labels is not None:
            if self.num_labels == 1:
                loss = nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
            else:
                loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(
            loss=loss, logits=logits,
            hidden_states=outputs.hidden_states if output_hidden_states else None,
            attentions=outputs.attentions)


class DLFAForSequenceClassification(_FusedClassifier, BertPreTrainedModel):
    """BERT-architecture encoder + optional DLFA(layer k, layer L) + pooler/dropout/classifier.

    Build a random model with ``from_config(BertConfig(...), DLFAConfig(fusion_layer=k))`` and a
    pretrained one with ``from_pretrained("bert-base-multilingual-cased", num_labels=2,
    dlfa=DLFAConfig(fusion_layer=k))``; an XLM-R (or RoBERTa) config or checkpoint gives a
    :class:`DLFAForXLMRobertaSequenceClassification` instead.
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self._add_fusion(config)
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @property
    def backbone(self) -> BertModel:
        return self.bert

    @classmethod
    def from_config(cls, config, dlfa: DLFAConfig | None = None):
        """A randomly initialised model (e.g. a tiny ``BertConfig`` for tests and the smoke study)."""
        if cls is DLFAForSequenceClassification and config.model_type in ROBERTA_TYPES:
            return DLFAForXLMRobertaSequenceClassification.from_config(config, dlfa)
        return cls(configure_fusion(config, dlfa))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, num_labels: int | None = None,
                        dlfa: Any = _KEEP, config=None, **kwargs: Any):
        """Load a hub id or a ``save_pretrained`` directory (encoder, classifier or DLFA model).

        ``dlfa`` (a :class:`DLFAConfig`) replaces the saved DLFA settings when given (``DLFAConfig()``
        is the baseline); weights missing from the checkpoint (classifier, DLFA) are freshly
        initialised, as transformers does. The checkpoint's model type picks the class: BERT here,
        XLM-R and RoBERTa :class:`DLFAForXLMRobertaSequenceClassification`.
        """
        if config is None:
            hub = {k: kwargs[k] for k in _HUB_KWARGS if k in kwargs}
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path, **hub)
        if config.model_type in ROBERTA_TYPES:
            return DLFAForXLMRobertaSequenceClassification.from_pretrained(
                pretrained_model_name_or_path, *model_args, num_labels=num_labels, dlfa=dlfa, config=config, **kwargs)
        if config.model_type != "bert":
            raise ValueError(f"{pretrained_model_name_or_path!r} is a {config.model_type!r} model; "
                             "DLFAForSequenceClassification wraps BERT-architecture encoders (model_type 'bert', "
                             "e.g. bert-base-multilingual-cased) and XLM-R / RoBERTa ones ('xlm-roberta', 'roberta')")
        return cls._load(pretrained_model_name_or_path, model_args, num_labels, dlfa, config, kwargs)

    def _logits(self, outputs, fused):
        pooled = outputs.pooler_output if fused is None else self.backbone.pooler(fused)  # (B, E), [CLS]
        return self.classifier(self.dropout(pooled))


class DLFAForXLMRobertaSequenceClassification(_FusedClassifier, XLMRobertaPreTrainedModel):
    """XLM-R / RoBERTa encoder + optional DLFA(layer k, layer L) + RoBERTa's classification head on
    ``<s>`` (no pooler), as ``XLMRobertaForSequenceClassification``."""

    def __init__(self, config):
        super().__init__(config)
        self.roberta = XLMRobertaModel(config, add_pooling_layer=False)
        self._add_fusion(config)
        self.classifier = XLMRobertaClassificationHead(config)
        self.post_init()

    @property
    def backbone(self) -> XLMRobertaModel:
        return self.roberta

    @classmethod
    def from_config(cls, config, dlfa: DLFAConfig | None = None):
        """A randomly initialised model of an ``XLMRobertaConfig``."""
        return cls(configure_fusion(config, dlfa))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, num_labels: int | None = None,
                        dlfa: Any = _KEEP, config=None, **kwargs: Any):
        """As :meth:`DLFAForSequenceClassification.from_pretrained`, for XLM-R and RoBERTa checkpoints."""
        if config is None:
            hub = {k: kwargs[k] for k in _HUB_KWARGS if k in kwargs}
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path, **hub)
        if config.model_type not in ROBERTA_TYPES:
            raise ValueError(f"{pretrained_model_name_or_path!r} is a {config.model_type!r} model; "
                             f"DLFAForXLMRobertaSequenceClassification wraps {list(ROBERTA_TYPES)} encoders")
        return cls._load(pretrained_model_name_or_path, model_args, num_labels, dlfa, config, kwargs)

    def _logits(self, outputs, fused):
        return self.classifier(outputs.last_hidden_state if fused is None else fused)  # reads <s>
