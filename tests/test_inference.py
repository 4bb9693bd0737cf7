"""How a run is timed: each sampler's clock covers its tuning and draws, nothing else, so that
effective samples per second compare the samplers and not what surrounds them; and its
leapfrog steps, which turn that time into a cost per gradient."""

from __future__ import annotations

import re
import time

import pytest

from forecast.model.build import build_model
from forecast.posterior.sampling import _sampler_done, sample_posterior
from forecast.scenario import load_scenario
from forecast.settings import SamplerSettings


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


@pytest.mark.slow
def test_nutpie_counts_every_leapfrog_step_of_tuning_and_draws(chain_file, monkeypatch) -> None:
    """A run keeps no tuning draws, yet its count includes their steps: here the tuning draws
    are kept, to hold the count to the steps nutpie recorded."""
    import nutpie

    sample = nutpie.sample
    monkeypatch.setattr(nutpie, "sample", lambda *args, **kwargs: sample(*args, **{**kwargs, "save_warmup": True}))
    model = build_model(load_scenario(chain_file))
    sampled = sample_posterior(model, SamplerSettings(draws=40, tune=30, chains=2, seed=1, progress=False))
    recorded = [int(sampled.tree[group]["n_steps"].sum()) for group in ("warmup_sample_stats", "sample_stats")]
    assert recorded[0] >= 2 * 30, "each tuning iteration takes a step"
    assert sampled.leapfrog_steps == sum(recorded)


@pytest.mark.parametrize(("change", "message"), [
    ({"sampler": "foo"}, "sampler must be one of nutpie, pymc, got 'foo'"),
    ({"draws": -5}, "draws must be a whole number from 10 to 1,000,000, got -5"),
    ({"draws": "200"}, "draws must be a whole number from 10 to 1,000,000, got '200'"),
    ({"chains": 0}, "chains must be a whole number from 1 to 64, got 0"),
    ({"tune": True}, "tune must be a whole number from 10 to 1,000,000, got True"),
    ({"target_accept": 2}, "target_accept must be a number from 0.5 to 0.999, got 2"),
])
def test_sampler_settings_refuse_what_the_command_line_refuses(change, message) -> None:
    """A notebook's typo: sampler="foo" ran PyMC's sampler and recorded "foo"; draws=-5 failed
    deep in PyMC after the compile."""
    from forecast.settings import SamplerSettings

    with pytest.raises(ValueError, match=re.escape(message)):
        SamplerSettings(**change)
