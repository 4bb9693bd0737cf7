"""Simulation-based calibration: simulated data have the scenario's observation pattern and come
from the prior, a simulation's ranks depend on its seed alone and lie in 0..L, the uniformity
test flags ranks that are not uniform and not those that are, and on a two-node scenario the
fits recover what the prior drew (every parameter's ranks uniform)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from forecast.calibration import sbc
from forecast.describe import calibration_table
from forecast.model.build import Evidence
from forecast.model.prior import prior_draws
from forecast.report.calibration import render_calibration
from forecast.scenario import load_scenario
from forecast.settings import SamplerSettings

from . import simulated

YEARS = 15
#: Short fits: the end-to-end test's 24 simulations in about 15 s.
FAST = SamplerSettings(draws=100, tune=150, chains=2, seed=3, progress=False)


def two_nodes(directory: Path) -> Path:
    """X -> Y with one claim, one indicator per node; Y's data miss three years in the middle
    (an observation pattern that is not every year of every indicator)."""
    claim = {"id": "x_to_y", "cause": "X", "effect": "Y", "lag": 0, "quote": "X drives Y",
             "prior": {"dist": "Normal", "mu": 0.3, "sigma": 0.3}}
    data = simulated.scenario_dict([claim], ["X", "Y"], data=True, years=YEARS)
    path = simulated.write(directory, data, simulated.simulate([("X", "Y", 0.3)], ["X", "Y"], YEARS, 3))
    csv = directory / "data" / "sim.csv"
    lines = csv.read_text().splitlines()
    col = lines[0].split(",").index("y_obs")
    for r in (6, 7, 8):
        cells = lines[r].split(",")
        cells[col] = ""
        lines[r] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    return two_nodes(tmp_path_factory.mktemp("sbc"))


# --- Simulating ------------------------------------------------------------------------------------


def test_simulated_data_have_the_scenarios_observation_pattern_and_its_prior_draws(scenario_file) -> None:
    sc = load_scenario(scenario_file)
    evidence = Evidence.from_scenario(sc)
    assert evidence.z.size == 2 * YEARS - 3  # the gap is kept
    sims = sbc.plan(scenario_file, 3, seed=5)
    assert [s.index for s in sims] == [0, 1, 2] and len({s.seed for s in sims}) == 3
    assert sbc.plan(scenario_file, 5, seed=5)[:3] == sims  # more simulations leave the first ones alone
    truth = sbc.simulate(sims[0].path, sims[0].index, sims[0].seed)
    assert truth.labels == tuple(evidence.labels)
    assert truth.z.shape == evidence.z.shape and np.all(np.isfinite(truth.z))
    assert not np.allclose(truth.z, evidence.z)  # simulated, not the scenario's data
    assert list(truth.parameters) == sbc.labels_of(sc) == [
        "baseline[X]", "baseline[Y]", "persistence[X]", "persistence[Y]", "volatility[X]", "volatility[Y]",
        "shift[X]", "shift[Y]", "effect[x_to_y]", "noise[x_obs]", "noise[y_obs]"]  # anchors: no intercept, loading
    # the parameters are the prior's exact forward draws, and the data follow the measurement equation
    prior = prior_draws(sc, 1, sims[0].seed)
    assert truth.parameters["persistence[Y]"] == prior["persistence"][0, 1]
    assert truth.parameters["effect[x_to_y]"] == prior["effect"][0, 0]
    residual = truth.z - prior["level"][0, evidence.year_index, evidence.node]
    noise = np.array([truth.parameters["noise[x_obs]"], truth.parameters["noise[y_obs]"]])[evidence.indicator]
    assert 0.3 < np.std(residual / noise) < 2.0
    again = sbc.simulate(sims[0].path, sims[0].index, sims[0].seed)
    np.testing.assert_array_equal(again.z, truth.z)
    assert again.parameters == truth.parameters
    other = sbc.simulate(sims[1].path, sims[1].index, sims[1].seed)
    assert other.parameters != truth.parameters


def test_competing_hypotheses_are_drawn_from_their_prior_weights_then_their_effect(tmp_path) -> None:
    path = simulated.issue_scenario(tmp_path, seed=1, weights=(0.25, 0.75))
    sc = load_scenario(path)
    truths = [sbc.simulate(sc, i, s.seed) for i, s in enumerate(sbc.plan(path, 250, seed=2))]
    chosen = np.array([t.hypotheses["x_to_y"] for t in truths])
    effect = np.array([t.parameters["effect[x_to_y]"] for t in truths])
    share = np.mean(chosen == "positive")
    assert abs(share - 0.75) < 3 * np.sqrt(0.75 * 0.25 / 250)
    np.testing.assert_allclose(effect[chosen == "positive"].mean(), 0.5, atol=0.03)
    np.testing.assert_allclose(effect[chosen == "negative"].mean(), -0.5, atol=0.03)
    assert np.all(np.sign(effect) == np.where(chosen == "positive", 1, -1))  # +-0.5, sd 0.1: never crosses


def test_a_failed_simulation_is_recorded_not_raised(scenario_file) -> None:
    sim = sbc.plan(scenario_file, 1, seed=1)[0]
    out = sbc.run(sim, FAST, L=FAST.chains * FAST.draws + 1)
    assert out["index"] == 0 and "cannot be kept" in out["error"]


def test_a_calibration_that_cannot_rank_is_refused_not_called_uniform(scenario_file, tmp_path, monkeypatch) -> None:
    """A tester's: 1 chain x 10 draws failed every simulation alike, and the command exited 0
    saying every parameter's ranks were uniform."""
    from click.testing import CliRunner

    from forecast.cli import cli
    from forecast.pipeline import calibrate as pipeline

    done = CliRunner().invoke(cli, ["calibrate", str(scenario_file), "--sims", "2", "--workers", "0", "--draws", "10",
                                    "--chains", "1", "--out", str(tmp_path / "c")])
    assert done.exit_code == 2 and "--chains 1 x --draws 10 keep 10 draws a fit" in done.output
    assert not (tmp_path / "c").exists()
    monkeypatch.setattr(pipeline.sbc, "run", lambda simulation, settings: {"error": "the fit diverged"})
    done = CliRunner().invoke(cli, ["calibrate", str(scenario_file), "--sims", "2", "--workers", "0",
                                    "--out", str(tmp_path / "c")])
    assert done.exit_code == 1 and "every simulation failed, the first with: the fit diverged" in done.output
    assert "uniform" not in done.output and not (tmp_path / "c").exists()


# --- Uniformity --------------------------------------------------------------------------------------


def test_the_uniformity_test_flags_ranks_that_are_not_uniform_and_not_those_that_are() -> None:
    rng = np.random.default_rng(0)
    L, n = 99, 200
    ranks = {
        "uniform_a": rng.integers(0, L + 1, size=n),
        "uniform_b": rng.integers(0, L + 1, size=n),
        "uniform_c": rng.integers(0, L + 1, size=n),
        # posterior too narrow: the truth is too often in the tails
        "too_narrow": np.round(L * rng.beta(0.5, 0.5, size=n)).astype(int),
        # posterior too wide: the truth is too often in the middle
        "too_wide": np.round(L * rng.beta(3, 3, size=n)).astype(int),
        # biased: the posterior sits below the truth
        "biased": np.round(L * rng.beta(1.6, 1, size=n)).astype(int),
    }
    result = sbc.uniformity(ranks, L)
    assert sorted(result["flagged"]) == ["biased", "too_narrow", "too_wide"]
    for name in ("uniform_a", "uniform_b", "uniform_c"):
        assert not result["parameters"][name]["flagged"] and result["parameters"][name]["p_holm"] > 0.05
    assert result["parameters"]["biased"]["mean_rank"] > 0.55
    assert result["parameters"]["too_narrow"]["tails"] > 0.3
    with pytest.raises(ValueError, match="whole numbers from 0 to 99"):
        sbc.uniformity({"bad": np.array([0, 100])}, L)


def test_uniform_ranks_give_uniform_p_values_and_stay_inside_the_band() -> None:
    rng = np.random.default_rng(1)
    L, n = 19, 30
    ps = np.array([sbc.ecdf_test(rng.integers(0, L + 1, size=n), L)[1] for _ in range(400)])
    assert abs(np.mean(ps < 0.05) - 0.05) < 0.03 and abs(np.mean(ps < 0.5) - 0.5) < 0.08
    band = sbc.ecdf_band(n, L, 0.95)
    inside = 0
    for _ in range(400):
        ecdf = np.concatenate([[0.0], sbc.ecdf_counts(rng.integers(0, L + 1, size=n), L) / n, [1.0]])
        inside += np.all((np.array(band["lower"]) <= ecdf) & (ecdf <= np.array(band["upper"])))
    assert abs(inside / 400 - 0.95) < 0.035


def test_holm_adjusts_step_down() -> None:
    np.testing.assert_allclose(sbc.holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])


def test_the_page_marks_flagged_parameters(scenario_file, tmp_path) -> None:
    sc = load_scenario(scenario_file)
    rng = np.random.default_rng(4)
    labels = sbc.labels_of(sc)
    L = 19
    results = []
    for i in range(100):
        ranks = {p: int(rng.integers(0, L + 1)) for p in labels}
        ranks["shift[Y]"] = int(rng.choice([0, L]))  # every truth in a tail: a posterior far too narrow
        results.append({"index": i, "seed": i, "L": L, "ranks": ranks, "independent": {p: 50.0 for p in labels},
                        "verdict": "ok", "diagnostics": {}, "weights": {}, "seconds": 0.5})
    results.append({"index": 100, "seed": 100, "error": "RuntimeError: the sampler failed"})
    summary = sbc.summarise(results, scenario=scenario_file, seed=1, settings=FAST)
    assert summary["completed"] == 100
    assert summary["errors"] == [{"index": 100, "error": "RuntimeError: the sampler failed"}]
    assert summary["uniformity"]["flagged"] == ["shift[Y]"]
    page = render_calibration(tmp_path, summary, sbc.ranks_of(results)).read_text(encoding="utf-8")
    assert "1 of 11 parameters have ranks that are not uniform" in page and "not calibrated" in page
    assert "Their posteriors are miscalibrated" in page
    assert '<p class="note">1 of 101 simulations ended in an error and have no ranks.</p>' in page
    assert page.count('class="badge badge-fail">flagged') == 1 and page.count(">uniform</span>") == 10
    assert page.count("<svg") == 11 and "shift[Y]  (flagged)" in page
    assert "simulation 100: <code>RuntimeError: the sampler failed</code>" in page
    assert "per-year shock scales" in page


def few_uniform_with_unclean_fits(scenario_file) -> list[dict]:
    """Ten simulations with uniform ranks, four of whose fits failed their diagnostics."""
    labels = sbc.labels_of(load_scenario(scenario_file))
    rng = np.random.default_rng(5)
    return [{"index": i, "seed": i, "L": 19, "ranks": {p: int(rng.integers(0, 20)) for p in labels},
             "independent": {p: 50.0 for p in labels}, "verdict": "fail" if i < 4 else "ok", "diagnostics": {},
             "weights": {}, "seconds": 0.5} for i in range(10)]


def test_uniform_ranks_from_few_simulations_or_unclean_fits_are_not_called_calibrated(scenario_file) -> None:
    """Ten simulations rule out gross errors only, and ranks from fits that failed their
    diagnostics can hide a miscalibration: the verdict says both."""
    results = few_uniform_with_unclean_fits(scenario_file)
    summary = sbc.summarise(results, scenario=scenario_file, seed=1, settings=FAST)
    assert summary["uniformity"]["flagged"] == []
    limits = sbc.caveats(summary)
    assert len(limits) == 2 and "Only 10 simulations" in limits[0] and "4 of 10 fits" in limits[1]
    table = calibration_table(summary)
    assert "ranks are uniform, with these limits:" in table and "  ! Only 10 simulations" in table
    clean = [{**r, "verdict": "ok"} for r in results] * 10
    clean = [{**r, "index": i} for i, r in enumerate(clean)]
    assert sbc.caveats(sbc.summarise(clean, scenario=scenario_file, seed=1, settings=FAST)) == []


def test_unclean_fits_are_counted_by_where_their_largest_r_hat_is(scenario_file) -> None:
    """Short fits often miss R-hat at one of hundreds of per-year shock scales, which the ranks
    leave out: the caveat says how many, so a reader sees where the fits fell short."""
    results = few_uniform_with_unclean_fits(scenario_file)
    for r, at in zip(results[:4], ["shock_scale[2019, x:level]", "shock_scale[2020, y:transitory] (h=a)",
                                   "effect[x_to_y]", ""]):
        r["diagnostics"] = {"worst_rhat": at}
    summary = sbc.summarise(results, scenario=scenario_file, seed=1, settings=FAST)
    assert summary["unclean_at_shock_scales"] == 2
    assert ("4 of 10 fits did not pass their diagnostics (4 fail, 0 warn; in 2 of them the largest R-hat is at a "
            "per-year shock scale, which the ranks leave out)") in sbc.caveats(summary)[1]


def flagged_on_weak_grounds(scenario_file, sims: int, verdict: str) -> dict:
    """A calibration of ``sims`` simulations whose fits all had ``verdict``, with shift[Y]'s
    truths all in the tails (flagged)."""
    labels = sbc.labels_of(load_scenario(scenario_file))
    rng = np.random.default_rng(6)
    results = [{"index": i, "seed": i, "L": 19, "ranks": {p: int(rng.integers(0, 20)) for p in labels}
                | {"shift[Y]": int(rng.choice([0, 19]))}, "independent": {p: 50.0 for p in labels},
                "verdict": verdict, "diagnostics": {}, "weights": {}, "seconds": 0.5} for i in range(sims)]
    summary = sbc.summarise(results, scenario=scenario_file, seed=1, settings=FAST)
    assert summary["uniformity"]["flagged"] == ["shift[Y]"]
    return summary | {"ranks": sbc.ranks_of(results)}


@pytest.mark.parametrize(("sims", "verdict", "grounds"), [
    (12, "fail", ["only 12 simulations", "12 of 12 fits that did not pass their diagnostics"]),
    (12, "ok", ["only 12 simulations"]),
    (100, "warn", ["100 of 100 fits that did not pass their diagnostics"]),
])
def test_a_flag_from_few_simulations_or_unclean_fits_is_a_warning_and_the_page_keeps_its_caveats(
        scenario_file, tmp_path, sims, verdict, grounds) -> None:
    """The tester's case: 12 simulations, every fit failed its diagnostics, one parameter flagged.
    The command printed both caveats; the page dropped them and called the posteriors
    miscalibrated."""
    summary = flagged_on_weak_grounds(scenario_file, sims, verdict)
    page = render_calibration(tmp_path, summary, summary.pop("ranks")).read_text(encoding="utf-8")
    for caveat in sbc.caveats(summary):
        assert f'<p class="note">{caveat}</p>' in page
    assert "miscalibration suspected" in page and "not calibrated" not in page
    assert "Their posteriors are miscalibrated" not in page and "not a proven miscalibration" in page
    assert all(g in page for g in grounds)


def test_uniform_ranks_with_caveats_are_not_badged_calibrated_and_the_page_lists_the_caveats(
        scenario_file, tmp_path) -> None:
    results = few_uniform_with_unclean_fits(scenario_file)
    summary = sbc.summarise(results, scenario=scenario_file, seed=1, settings=FAST)
    page = render_calibration(tmp_path, summary, sbc.ranks_of(results)).read_text(encoding="utf-8")
    assert "uniform, within limits" in page and ">calibrated</span>" not in page
    assert "consistent with uniform (no Holm-adjusted p-value at or below 0.05), within the limits below." in page
    assert page.count('<p class="note">') == 2 and "Only 10 simulations" in page


# --- Fitting ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_simulations_ranks_depend_on_its_seed_only_and_lie_in_0_to_L(scenario_file) -> None:
    sim = sbc.plan(scenario_file, 2, seed=8)
    truth = sbc.simulate(sim[0].path, sim[0].index, sim[0].seed)
    first = sbc.fit(truth, FAST, L=39)
    again = sbc.fit(truth, replace(FAST, seed=999), L=39)  # the run's seed is not the fit's: the simulation's is
    assert first["ranks"] == again["ranks"]
    other = sbc.fit(sbc.simulate(sim[1].path, sim[1].index, sim[1].seed), FAST, L=39)
    assert other["ranks"] != first["ranks"]
    for out in (first, other):
        assert set(out["ranks"]) == set(truth.parameters)
        assert all(0 <= r <= 39 and isinstance(r, int) for r in out["ranks"].values())
        assert out["verdict"] in ("ok", "warn", "fail") and out["independent"]["baseline[X]"] > 0
    # the fit sees the simulated data, not the scenario's: data shifted far up put every draw of
    # the baselines above their true values
    lifted = sbc.fit(replace(truth, z=truth.z + 25.0), FAST, L=39)
    assert lifted["ranks"]["baseline[X]"] == 0 and lifted["ranks"]["baseline[Y]"] == 0


@pytest.mark.slow
def test_competing_hypotheses_are_fitted_as_a_run_fits_them_and_their_choice_is_ranked(tmp_path) -> None:
    path = simulated.issue_scenario(tmp_path, seed=1, years=15)
    sim = sbc.plan(path, 1, seed=3)[0]
    out = sbc.run(sim, FAST, L=39)
    assert "error" not in out, out
    assert out["diagnostics"]["fits"] == 3  # each hypothesis, and the reference
    assert set(out["weights"]["x_to_y"]) == {"negative", "positive"}
    assert 0 <= out["ranks"]["hypothesis[x_to_y]"] <= 39
    assert sbc.hypothesis_rank([0.2, 0.8], 1, 99, 0.0) == 20 and sbc.hypothesis_rank([0.2, 0.8], 0, 99, 0.999) == 19


@pytest.mark.slow
def test_simulation_based_calibration_of_a_two_node_scenario_passes(scenario_file, tmp_path) -> None:
    sims = sbc.plan(scenario_file, 24, seed=11)
    results = [sbc.run(s, FAST, L=19) for s in sims]
    assert not [r for r in results if "error" in r]
    summary = sbc.summarise(results, scenario=scenario_file, seed=11, settings=FAST)
    u = summary["uniformity"]
    assert u["flagged"] == [], {p: t["p_value"] for p, t in u["parameters"].items()}
    assert len(u["parameters"]) == 11 and all(t["n"] == 24 for t in u["parameters"].values())
    page = render_calibration(tmp_path, summary, sbc.ranks_of(results)).read_text(encoding="utf-8")
    assert "the ranks of all 11 parameters are consistent with uniform" in page


@pytest.mark.slow
def test_the_command_writes_ranks_tests_and_page_and_dask_gives_the_same_ranks(scenario_file, tmp_path) -> None:
    """`forecast calibrate` end to end in this process, then the same simulations on an
    in-process Dask cluster of two workers: the same ranks, whatever ran them."""
    import xarray as xr
    from click.testing import CliRunner

    from forecast.cli import cli
    from forecast.pipeline import run_calibration
    from forecast.sweeps.engine import Cluster

    out = tmp_path / "cal"
    done = CliRunner().invoke(cli, ["calibrate", str(scenario_file), "--sims", "6", "--workers", "0", "--draws", "100",
                                    "--tune", "150", "--seed", "3", "--out", str(out), "-q"])
    assert done.exit_code == 0, done.output
    assert "6 of 6 simulations fitted" in done.output and "uniform?" in done.output
    ranks = xr.open_dataset(out / "ranks.nc")["rank"]
    assert ranks.sizes["simulation"] == 6 and (out / "report" / "index.html").is_file()
    on_dask = run_calibration(scenario_file, 6, FAST, cluster=Cluster(workers=2, processes=False),
                              out=tmp_path / "dask")
    for label, r in on_dask.ranks.items():
        np.testing.assert_array_equal(r, ranks.sel(parameter=label).values)
