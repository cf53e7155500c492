"""AIF attention and DLFA fusion of two encoder layers.

Reference: Chen, Guo, Liu and Tao, "Feature Aggregation in Zero-Shot Cross-Lingual Transfer Using
Multilingual BERT" (ICPR 2022, arXiv 2205.08497): DLFA fuses a lower mBERT layer with the last one
through AIF, an attention module that follows AFF (Dai et al., WACV 2021, "Attentional Feature
Fusion").

AIF on W (B, T, E) has two branches, each the bottleneck
``pointwise(E -> E/r) -> norm -> ReLU -> pointwise(E/r -> E) -> norm``:
the local branch at every token, the global branch on the token average (broadcast over T).
``M = sigmoid(global + local)``. DLFA: ``W = (low + last) / 2``, ``out = M * low + (1 - M) * last``.

How this differs from, or pins down, the poster (each an option with a documented default):

- ``weight="map"`` (default) uses M as the mixing weight, as AFF does; ``weight="scaled"`` is the
  poster's literal ``W * M`` (no longer bounded to (0, 1)).
- ``reduction=4`` (AFF's default; the poster gives none). ``norm="batch"`` as on the poster,
  ``norm="layer"`` as a batch-independent alternative. Pointwise Conv1d(kernel 1) is written as
  ``nn.Linear`` (the same map); without bias before BatchNorm, where a bias is cancelled.
- Padding: the token average and the BatchNorm statistics use valid tokens only, so padding never
  changes a valid position's output, in training or evaluation. In evaluation BatchNorm uses its
  running statistics, so a sample's output does not depend on the rest of its batch. At padded
  positions the map is 0 (DLFA passes the last layer through there).
- ``iterative=True`` is iAFF: a second attention pass on the first fusion's output, with its own
  local and global branches, as in the MXNet reference of AFF.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from dlfa.config.fusion import NORMS, WEIGHTS


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over the last dimension of ``x`` (..., C), with statistics from valid rows only.

    ``mask`` (...,) marks the rows that count; the others are normalised too but never enter the
    statistics. Fewer than two valid rows in training leave the batch variance undefined: the
    layer then normalises with its running statistics and leaves them unchanged (nn.BatchNorm1d
    raises instead, which would kill a run on a last batch of one sample).

    Without a mask every row counts and PyTorch's own kernel does the work. With one, the masked
    sums are matrix-vector products and the output one fused multiply-add, with no host read of
    the mask: how many rows are valid decides through ``torch.where``, not through Python.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        with _full_precision(x):  # statistics in the buffers' float32, also under bf16/fp16 autocast
            return self._normalise(x.reshape(-1, x.shape[-1]).to(self.running_mean.dtype), mask).view(x.shape)

    def _normalise(self, flat: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if not self.training or (mask is None and flat.shape[0] < 2):  # running statistics, no update
            return F.batch_norm(flat, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        if mask is None:  # every row counts (the shape says there are enough): the native kernel
            self.num_batches_tracked.add_(1)
            return F.batch_norm(flat, self.running_mean, self.running_var, self.weight, self.bias,
                                True, self.momentum, self.eps)
        w = mask.reshape(-1).to(flat.dtype)  # (N,), 1 at valid rows
        n = w.sum()
        inv_n = 1.0 / n.clamp(min=1)
        enough = n >= 2
        mean = (w @ flat) * inv_n  # (C,)
        centered = flat - torch.where(enough, mean, self.running_mean)  # (N, C)
        var = (w @ centered.square()) * inv_n  # (C,), biased, as BatchNorm normalises
        scale = torch.rsqrt(torch.where(enough, var, self.running_var) + self.eps)  # (C,)
        with torch.no_grad():
            step = self.momentum * enough.to(flat.dtype)  # 0 when the batch is too small
            unbiased = var * n / (n - 1).clamp(min=1)
            self.running_mean.lerp_(mean.detach(), step)
            self.running_var.lerp_(unbiased.detach(), step)
            self.num_batches_tracked.add_(enough.long())
        if not self.affine:
            return centered * scale
        return torch.addcmul(self.bias, centered, scale * self.weight)  # (N, C)


def _full_precision(x: torch.Tensor):
    """Autocast off on x's device (a no-op where autocast does not apply, e.g. meta tensors)."""
    kind = x.device.type
    if kind in ("cpu", "cuda", "xpu", "mps") and torch.is_autocast_enabled(kind):
        return torch.autocast(kind, enabled=False)
    return contextlib.nullcontext()


class _Bottleneck(nn.Module):
    """pointwise(E -> E/r) -> norm -> ReLU -> pointwise(E/r -> E) -> norm, on (..., E)."""

    def __init__(self, hidden_size: int, inner: int, norm: str):
        super().__init__()
        batch = norm == "batch"
        self.down = nn.Linear(hidden_size, inner, bias=not batch)
        self.norm1 = MaskedBatchNorm1d(inner) if batch else nn.LayerNorm(inner)
        self.up = nn.Linear(inner, hidden_size, bias=not batch)
        self.norm2 = MaskedBatchNorm1d(hidden_size) if batch else nn.LayerNorm(hidden_size)
        self._batch = batch

    def _norm(self, layer: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return layer(x, mask) if self._batch else layer(x)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self._norm(self.norm1, self.down(x), mask))  # (..., E/r)
        return self._norm(self.norm2, self.up(h), mask)  # (..., E)


def _check_inputs(x: torch.Tensor, hidden_size: int, attention_mask: torch.Tensor | None,
                  name: str = "x") -> torch.Tensor | None:
    """Validate (B, T, E) input and mask; return the mask as bool (B, T), None when every token counts.

    A mask row without a valid token is refused. On the CPU the mask is in host memory and the
    check raises a ValueError naming the rows; on an accelerator reading the mask would stall the
    device at every forward, so the check is ``torch._assert_async`` (no synchronisation; a bad
    mask fails at the next synchronisation, with the same message).
    """
    if x.dim() != 3 or x.shape[-1] != hidden_size:
        raise ValueError(f"{name} must have shape (batch, tokens, {hidden_size}); got {tuple(x.shape)}")
    if attention_mask is None:
        return None
    if tuple(attention_mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"attention_mask must have shape (batch, tokens) = {tuple(x.shape[:2])}; "
                         f"got {tuple(attention_mask.shape)}")
    mask = attention_mask.bool()
    message = "every sample needs at least one (BERT inputs always have [CLS])"
    every_row = mask.any(dim=1).all()
    if mask.device.type != "cpu":
        torch._assert_async(every_row, f"attention_mask has a row with no valid token; {message}")
    elif not every_row:
        empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(f"attention_mask rows {empty} have no valid token; {message}")
    return mask


class AIF(nn.Module):
    """Two-branch (local + global) attention map ``M = sigmoid(G(x) + L(x))``, shape of ``x``.

    Args:
        hidden_size: E, the last dimension of the input.
        reduction: r, the bottleneck is E / r wide (must divide E). Default 4, as in AFF.
        norm: ``"batch"`` (the poster; masked to valid tokens) or ``"layer"``.
    """

    def __init__(self, hidden_size: int, reduction: int = 4, norm: str = "batch"):
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer; got {hidden_size!r}")
        if not isinstance(reduction, int) or reduction < 1 or hidden_size % reduction:
            raise ValueError(f"reduction must be a positive integer dividing hidden_size={hidden_size}; "
                             f"got {reduction!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
        self.hidden_size, self.reduction, self.norm = hidden_size, reduction, norm
        inner = hidden_size // reduction
        self.local_att = _Bottleneck(hidden_size, inner, norm)
        self.global_att = _Bottleneck(hidden_size, inner, norm)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = _check_inputs(x, self.hidden_size, attention_mask)  # (B, T) or None: all valid
        if mask is None:
            local = self.local_att(x)  # (B, T, E)
            glob = self.global_att(x.mean(1))  # (B, E)
            return torch.sigmoid(local + glob.unsqueeze(1))  # (B, T, E)
        pad = ~mask.unsqueeze(-1)  # (B, T, 1)
        x = x.masked_fill(pad, 0.0)  # padding values (even inf/nan) never reach valid outputs
        avg = x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)  # (B, E), mean over valid tokens
        local = self.local_att(x, mask)  # (B, T, E)
        glob = self.global_att(avg)  # (B, E); every sample counts for the batch statistics
        return torch.sigmoid(local + glob.unsqueeze(1)).masked_fill(pad, 0.0)  # (B, T, E)

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, reduction={self.reduction}, norm={self.norm!r}"


class DLFA(nn.Module):
    """Fuse a lower layer with the last one: ``M * low + (1 - M) * last``, ``M = AIF((low + last) / 2)``.

    Args:
        hidden_size, reduction, norm: as for :class:`AIF`.
        weight: ``"map"`` (default, AFF) mixes with M; ``"scaled"`` with ``W * M`` (the poster's
            literal formula, W the AIF input).
        iterative: a second attention pass (iAFF) on the first fusion, with its own branches.
    """

    def __init__(self, hidden_size: int, reduction: int = 4, norm: str = "batch",
                 weight: str = "map", iterative: bool = False):
        super().__init__()
        if weight not in WEIGHTS:
            raise ValueError(f"weight must be one of {WEIGHTS}; got {weight!r}")
        if not isinstance(iterative, bool):
            raise ValueError(f"iterative must be True or False; got {iterative!r}")
        self.weight, self.iterative = weight, iterative
        self.aif = AIF(hidden_size, reduction, norm)
        self.aif2 = AIF(hidden_size, reduction, norm) if iterative else None

    def _mix(self, aif: AIF, w_in: torch.Tensor, low: torch.Tensor, last: torch.Tensor,
             attention_mask: torch.Tensor | None) -> torch.Tensor:
        m = aif(w_in, attention_mask)  # (B, T, E)
        if self.weight == "scaled":
            m = m * w_in
        return torch.lerp(last, low, m)  # last + m * (low - last): exactly x when low == last

    def forward(self, low: torch.Tensor, last: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if low.shape != last.shape:
            raise ValueError(f"low and last must have the same shape; got {tuple(low.shape)} "
                             f"and {tuple(last.shape)}")
        fused = self._mix(self.aif, (low + last) / 2, low, last, attention_mask)  # (B, T, E)
        if self.aif2 is not None:
            fused = self._mix(self.aif2, fused, low, last, attention_mask)
        return fused

    def extra_repr(self) -> str:
        return f"weight={self.weight!r}, iterative={self.iterative}"
