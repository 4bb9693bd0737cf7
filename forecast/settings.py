"""How to run: the sampler's settings, with their defaults and choices written once.

A light module (no PyMC): the command line reads its options' defaults and choices here, the
model and the sampler their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

Sampler = Literal["nutpie", "pymc"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")

#: NUTS target acceptance (nutpie's and Stan's default is 0.8). The heavy-tailed shocks'
#: scales give the posterior longer tails than a model with normal shocks has, and smaller
#: steps keep the sampler from diverging there.
TARGET_ACCEPT = 0.9
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
    target_accept: float = TARGET_ACCEPT
    progress: bool = True

    def __post_init__(self) -> None:
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed <= MAX_SEED):
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")

    @classmethod
    def default(cls, name: str):
        """The default of setting ``name`` (for the command line's options)."""
        return next(f.default for f in fields(cls) if f.name == name)
