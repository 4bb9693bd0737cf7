"""The diagnostics verdict, threshold by threshold (Vehtari et al. 2021): R-hat above 1.01
warns and above 1.05 fails; bulk or tail ESS under 100 per chain warns and under 100 in all
fails; divergences warn, and fail above 1% of the draws."""

from __future__ import annotations

import pytest

from forecast.posterior.diagnostics import ESS_PER_CHAIN_OK, ESS_WARN, RHAT_OK, RHAT_WARN, Diagnostics, judge


def diagnostics(**changes) -> Diagnostics:
    """A clean run of 4 chains x 1000 draws, with ``changes``."""
    base = dict(sampler="nutpie", chains=4, draws=1000, tune=500, divergences=0, divergences_per_chain=[0, 0, 0, 0],
                max_rhat=1.002, min_ess_bulk=3000.0, min_ess_tail=2500.0,
                worst={"rhat": "effect[a]", "ess_bulk": "effect[a]", "ess_tail": "effect[b]"}, sampling_seconds=1.0)
    return Diagnostics(**{**base, **changes})


def verdict(**changes) -> str:
    return judge(diagnostics(**changes))[0]


def test_the_thresholds_are_the_published_ones() -> None:
    assert (RHAT_OK, RHAT_WARN, ESS_PER_CHAIN_OK, ESS_WARN) == (1.01, 1.05, 100, 100)


def test_a_clean_run_is_ok_and_says_so() -> None:
    label, messages = judge(diagnostics())
    assert label == "ok" and "within the usual thresholds" in messages[0]


@pytest.mark.parametrize(("rhat", "expected"), [(1.01, "ok"), (1.011, "warn"), (1.05, "warn"), (1.051, "fail"),
                                                (float("nan"), "fail")])
def test_r_hat(rhat: float, expected: str) -> None:
    assert verdict(max_rhat=rhat) == expected


@pytest.mark.parametrize(("ess", "expected"), [(400, "ok"), (399, "warn"), (100, "warn"), (99, "fail"),
                                               (float("nan"), "fail")])
@pytest.mark.parametrize("kind", ["min_ess_bulk", "min_ess_tail"])
def test_effective_sample_size_per_chain(kind: str, ess: float, expected: str) -> None:
    assert verdict(**{kind: ess}) == expected


@pytest.mark.parametrize(("divergences", "expected"), [(1, "warn"), (40, "warn"), (41, "fail")])
def test_divergences_warn_and_fail_above_one_percent_of_draws(divergences: int, expected: str) -> None:
    label, messages = judge(diagnostics(divergences=divergences, divergences_per_chain=[divergences, 0, 0, 0]))
    assert label == expected
    assert any(f"{divergences} divergent" in m for m in messages)


def test_the_worst_problem_sets_thejudge_and_every_problem_is_named() -> None:
    label, messages = judge(diagnostics(max_rhat=1.02, min_ess_tail=50.0, divergences=2,
                                           divergences_per_chain=[2, 0, 0, 0]))
    assert label == "fail"
    assert len(messages) == 3
    assert any("R-hat 1.020 at effect[a]" in m for m in messages)


def test_the_worst_parameter_is_named_as_the_results_name_it() -> None:
    """A poorly mixed shock scale is reported as ``shock_scale[...]``, the name a reader finds in
    results.nc, not as the model's internal ``_shock_scale``."""
    import numpy as np
    import xarray as xr

    from forecast.posterior.diagnostics import diagnose
    from forecast.settings import SamplerSettings

    rng = np.random.default_rng(0)
    stuck = np.stack([rng.normal(0, 1, (200, 1)), rng.normal(3, 1, (200, 1))])  # two chains apart
    posterior = xr.Dataset({
        "effect": (("chain", "draw", "claim"), rng.normal(size=(2, 200, 1))),
        "_shock_scale": (("chain", "draw", "kept_shock"), stuck),
    }, coords={"claim": ["a"], "kept_shock": ["partnership:level"]})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 200), bool))})
    d = diagnose(posterior, stats, ["effect", "_shock_scale"], SamplerSettings(chains=2, draws=200, tune=200), 1.0)
    assert d.worst["rhat"] == "shock_scale[partnership:level]"
    assert any("at shock_scale[partnership:level]" in m for m in d.messages)


def test_one_chain_is_judged_by_its_two_halves() -> None:
    """With ``--chains 1`` R-hat compares the chain's halves: a chain that mixed is OK, and one
    that moved halfway through fails, named, where ArviZ alone would give NaN and no place."""
    import numpy as np
    import xarray as xr

    from forecast.posterior.diagnostics import diagnose
    from forecast.settings import SamplerSettings

    rng = np.random.default_rng(0)
    settings = SamplerSettings(chains=1, draws=1000, tune=200)
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((1, 1000), bool))})

    def judged(values: np.ndarray):
        posterior = xr.Dataset({"effect": (("chain", "draw", "claim"), values.reshape(1, 1000, 1))},
                               coords={"claim": ["a"]})
        return diagnose(posterior, stats, ["effect"], settings, 1.0)

    mixed = judged(rng.normal(size=1000))
    assert mixed.verdict == "ok" and mixed.max_rhat < RHAT_OK
    moved = judged(np.concatenate([rng.normal(0, 1, 500), rng.normal(3, 1, 500)]))
    assert moved.verdict == "fail" and moved.worst["rhat"] == "effect[a]"
    assert any("the two halves of the one chain disagree" in m for m in moved.messages)


def test_shock_scales_of_years_no_data_meets_are_not_judged() -> None:
    """A backtest's origin holds later years back: their shock scales' posterior is their prior,
    drawn exactly where used, so a slowly mixing draw of one must not fail the origin."""
    import numpy as np
    import xarray as xr

    from forecast.posterior.diagnostics import diagnose
    from forecast.settings import SamplerSettings

    rng = np.random.default_rng(0)
    scale = rng.lognormal(size=(2, 400, 2, 1))
    scale[1, :, 1, 0] += 5.0  # 2021's second chain apart from its first
    posterior = xr.Dataset({"effect": (("chain", "draw", "claim"), rng.normal(size=(2, 400, 1))),
                            "_shock_scale": (("chain", "draw", "shock_year", "kept_shock"), scale)},
                           coords={"claim": ["a"], "shock_year": [2020, 2021], "kept_shock": ["x:level"]})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 400), bool))})
    settings = SamplerSettings(chains=2, draws=400, tune=200)
    judged = diagnose(posterior, stats, ["effect", "_shock_scale"], settings, 1.0)
    assert judged.verdict == "fail" and judged.worst["rhat"] == "shock_scale[2021, x:level]"
    held_back = diagnose(posterior, stats, ["effect", "_shock_scale"], settings, 1.0, informed_until=2020)
    assert held_back.max_rhat < RHAT_OK
    none_informed = diagnose(posterior, stats, ["effect", "_shock_scale"], settings, 1.0, informed_until=2019)
    assert none_informed.worst["rhat"] == "effect[a]"


def test_a_low_effective_sample_size_says_whether_it_is_the_bulk_or_the_tail() -> None:
    """A tester read "effective sample size 98" beside a min bulk ESS of 123: it was the tail's."""
    from forecast.posterior.diagnostics import judge_ess

    assert judge_ess(180.0, 150.0, 2)[1].startswith("effective sample size (tail) 150 < 200")
    assert judge_ess(50.0, 98.0, 2)[1].startswith("effective sample size (bulk) 50 is too low")


@pytest.mark.slow
def test_a_notebook_is_warned_of_a_sampler_verdict_that_is_not_ok(tmp_path) -> None:
    """The command line prints the verdict; run_scenario said nothing (a FAIL showed only in
    run.summary), where PyMC warns of its R-hat. 1 chain of 10 draws cannot pass."""
    from forecast import SamplerSettings, SamplerWarning, run_scenario

    from .conftest import CHAIN, write_scenario

    with pytest.warns(SamplerWarning, match=r"the sampler's verdict for .*run is FAIL: .*run.summary\['diagnostics'\]"):
        run = run_scenario(write_scenario(tmp_path, CHAIN), SamplerSettings(draws=10, tune=10, chains=1, seed=1),
                           out=tmp_path / "run", report=False)
    assert run.summary["diagnostics"]["verdict"] == "fail"
