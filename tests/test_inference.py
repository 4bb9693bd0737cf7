"""How a run is timed: each sampler's clock covers its tuning and draws, nothing else, so that
effective samples per second compare the samplers and not what surrounds them."""

from __future__ import annotations

import time

from forecast.inference import _sampler_done


class _Chains:
    """A background sampler as nutpie 0.16 exposes it: ``is_finished`` raises TimeoutError
    while its chains run, then answers True."""

    def __init__(self, seconds: float):
        self.until = time.perf_counter() + seconds

    @property
    def is_finished(self) -> bool:
        if time.perf_counter() < self.until:
            raise TimeoutError("Timeout while waiting for sampler to finish")
        return True


def test_the_nutpie_clock_stops_when_the_chains_finish_not_before() -> None:
    start = time.perf_counter()
    chains = _Chains(0.05)
    done = _sampler_done(chains)
    assert chains.until <= done < chains.until + 0.05
    assert done - start >= 0.05
