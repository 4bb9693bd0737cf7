"""How to run: the sampler's settings, with their defaults and choices written once.

A light module (no PyMC): the command line reads its options' defaults and choices here, the
model and the sampler their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

Sampler = Literal["nutpie", "pymc"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")
#: How the latent history is asked for (:func:`forecast.model.build.choose_history`).
History = Literal["auto", "integrated", "sampled"]
#: How the latent history is handled: "integrated" out exactly (the evidence's density is a
#: Kalman filter over the parameters; the history is drawn afterwards, given each draw) or
#: "sampled" with the parameters.
HistoryMode = Literal["integrated", "sampled"]
HISTORY_CHOICES: tuple[str, ...] = ("auto", "integrated", "sampled")

#: NUTS target acceptance when not set, by how the history is handled. With the history
#: integrated out (parameters only) the geometry is easy and takes nutpie's and Stan's
#: default; a sampled history keeps latent levels with funnel-like corners and gets smaller
#: steps.
TARGET_ACCEPT: dict[str, float] = {"integrated": 0.8, "sampled": 0.95}
#: The largest seed: nutpie and NumPy take 64-bit seeds, and TOML's integers are signed 64-bit.
MAX_SEED = 2**63 - 1


@dataclass
class SamplerSettings:
    """How to sample: the command line's options, with their defaults written once here."""

    draws: int = 1000
    tune: int = 500
    chains: int = 4
    seed: int | None = None  # None: the scenario's seed
    sampler: Sampler = "nutpie"
    target_accept: float | None = None  # None: TARGET_ACCEPT for the model's history mode
    progress: bool = True
    history: History = "auto"

    def __post_init__(self) -> None:
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed <= MAX_SEED):
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")

    def for_history(self, mode: HistoryMode) -> "SamplerSettings":
        """These settings with the default target acceptance for ``mode`` filled in."""
        if self.target_accept is not None:
            return self
        return replace(self, target_accept=TARGET_ACCEPT[mode])

    @classmethod
    def default(cls, name: str):
        """The default of setting ``name`` (for the command line's options)."""
        return next(f.default for f in fields(cls) if f.name == name)
