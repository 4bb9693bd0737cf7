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
#: The ranges the command line and the Python API accept alike (fewer than 10 draws cannot be
#: diagnosed; more chains than 64 are beyond any machine this runs on).
MAX_DRAWS, MAX_CHAINS = 1_000_000, 64
RANGES = {"draws": (10, MAX_DRAWS), "tune": (10, MAX_DRAWS), "chains": (1, MAX_CHAINS)}
TARGET_ACCEPT_RANGE = (0.5, 0.999)


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
        """Refuse what the command line's options would refuse, by name (a notebook's typo must
        not run another sampler, or fail deep inside one after the compile)."""
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed <= MAX_SEED):
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, got {value!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        low, high = TARGET_ACCEPT_RANGE
        if isinstance(self.target_accept, bool) or not isinstance(self.target_accept, (int, float)) \
                or not low <= self.target_accept <= high:
            raise ValueError(f"target_accept must be a number from {low} to {high}, got {self.target_accept!r}")

    @classmethod
    def default(cls, name: str):
        """The default of setting ``name`` (for the command line's options)."""
        return next(f.default for f in fields(cls) if f.name == name)
