"""How to run: the sampler's settings, with their defaults and choices written once.

A light module (no PyMC): the command line reads its options' defaults and choices here, the
model and the sampler their meaning.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields
from typing import Literal

from forecast.errors import ForecastError

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


class SettingsError(ForecastError, ValueError):
    """A setting out of its range or of the wrong kind, named with what it takes."""


def whole(value: object) -> int | None:
    """``value`` as an int if it is a whole number (a NumPy integer too; a bool is not), else None."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None


def check_keep_draws(value: object) -> int | None:
    """``keep_draws`` of a run: None (all) or a whole number of draws per chain, at least 1
    (the command line's ``--keep-draws``; -5 wrote a run whose stored forecasts were empty)."""
    if value is None:
        return None
    n = whole(value)
    if n is None or n < 1:
        raise SettingsError(f"keep_draws must be a whole number of draws per chain, at least 1 (or None for all), "
                            f"got {value!r}")
    return n


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
        if self.seed is not None:
            seed = whole(self.seed)
            if seed is None or not 0 <= seed <= MAX_SEED:
                raise SettingsError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")
            self.seed = seed  # a NumPy integer as a plain int: it goes into JSON and to nutpie
        for name, (low, high) in RANGES.items():
            value = whole(getattr(self, name))
            if value is None or not low <= value <= high:
                raise SettingsError(f"{name} must be a whole number from {low:,} to {high:,}, got "
                                    f"{getattr(self, name)!r}")
            setattr(self, name, value)
        if self.sampler not in SAMPLERS:
            raise SettingsError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        low, high = TARGET_ACCEPT_RANGE
        if isinstance(self.target_accept, bool) or not isinstance(self.target_accept, numbers.Real) \
                or not low <= self.target_accept <= high:
            raise SettingsError(f"target_accept must be a number from {low} to {high}, got {self.target_accept!r}")
        self.target_accept = float(self.target_accept)

    @classmethod
    def default(cls, name: str):
        """The default of setting ``name`` (for the command line's options)."""
        return next(f.default for f in fields(cls) if f.name == name)
