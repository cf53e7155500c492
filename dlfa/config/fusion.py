"""``DLFAConfig``: what the DLFA module of a model is, as typed fields (no torch here).

The model keeps it in its transformers config (``config.dlfa``, a plain dict), so that
``save_pretrained`` / ``from_pretrained`` round-trip it with the weights; a study's params carry
its options (``fusion``) and each run its own ``DLFAConfig``. The options are the DLFA poster's
open points (see ``dlfa.training.aif``); the defaults follow AFF (Dai et al. 2021).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

NORMS = ("batch", "layer")  # the poster: BatchNorm (masked to valid tokens here)
WEIGHTS = ("map", "scaled")  # AFF mixes with M; the poster's literal formula with W * M
OPTIONS = ("reduction", "norm", "weight", "iterative")
_TAGS = {"norm": {"layer": "layernorm"}, "weight": {"scaled": "scaled"}, "iterative": {True: "iaff"}}


@dataclass(frozen=True)
class DLFAConfig:
    """Fuse hidden layer ``fusion_layer`` (1..L-1) with the last one; ``None`` is the plain baseline.

    ``reduction``: the AIF bottleneck is hidden_size / reduction wide (must divide it).
    ``norm``: ``batch`` or ``layer``. ``weight``: ``map`` or ``scaled``. ``iterative``: iAFF's
    second attention pass.
    """

    fusion_layer: int | None = None
    reduction: int = 4
    norm: str = "batch"
    weight: str = "map"
    iterative: bool = False

    def problems(self, hidden_size: int | None = None, num_layers: int | None = None) -> list[str]:
        """What makes this configuration unusable on an encoder of that shape (each known part)."""
        found = []
        layer = self.fusion_layer
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int) or layer < 1
                                  or (num_layers is not None and layer >= num_layers)):
            allowed = f"an integer in 1..{num_layers - 1}" if num_layers else "a positive integer below the encoder's depth"
            found.append(f"fusion_layer must be None (baseline) or {allowed}"
                         + (f" for a {num_layers}-layer encoder" if num_layers else "") + f"; got {layer!r}")
        r = self.reduction
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            found.append(f"reduction must be a positive integer; got {r!r}")
        elif hidden_size and hidden_size % r:
            divisors = [d for d in range(1, hidden_size + 1) if hidden_size % d == 0]
            found.append(f"reduction {r} does not divide the hidden size {hidden_size}; allowed: {divisors}")
        if self.norm not in NORMS:
            found.append(f"norm must be one of {list(NORMS)}; got {self.norm!r}")
        if self.weight not in WEIGHTS:
            found.append(f"weight must be one of {list(WEIGHTS)}; got {self.weight!r}")
        if not isinstance(self.iterative, bool):
            found.append(f"iterative must be true or false; got {self.iterative!r}")
        return found

    def check(self, hidden_size: int | None = None, num_layers: int | None = None) -> "DLFAConfig":
        found = self.problems(hidden_size, num_layers)
        if found:
            raise ValueError("; ".join(found))
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The module's keyword arguments (``dlfa.training.aif.DLFA``)."""
        return {name: getattr(self, name) for name in OPTIONS}

    @property
    def non_default_options(self) -> dict[str, Any]:
        default = DLFAConfig()
        return {k: v for k, v in self.options.items() if v != getattr(default, k)}

    @property
    def tag(self) -> str:
        """The options that differ from the defaults, short (``r8-layernorm``); empty when none do."""
        parts = []
        for name, value in self.non_default_options.items():
            parts.append(f"r{value}" if name == "reduction" else _TAGS[name][value])
        return "-".join(parts)

    def with_layer(self, fusion_layer: int | None) -> "DLFAConfig":
        return replace(self, fusion_layer=fusion_layer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "DLFAConfig":
        """From ``to_dict`` output (or a params file's ``fusion`` mapping); unknown keys are refused."""
        values = dict(values or {})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown fusion option(s) {unknown}; allowed: {list(OPTIONS)}")
        return cls(**values)
