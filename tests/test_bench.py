"""The benchmark's arithmetic and outputs (not its timings: those are measured, never asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from forecast.settings import SamplerSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


def _generated(nodes: int, years: int, us: float, seconds: float) -> dict:
    return {"label": f"generated {nodes}n/3s/{years}y", "nodes": nodes, "history_years": years, "strategies": 3,
            "us_per_step": us, "stages": {"sample": seconds}}


def test_a_step_costs_the_sampling_time_of_the_chains_running_at_once(bench, monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    settings = SamplerSettings(chains=4, draws=1000, tune=500)
    costs = bench.step_costs(1.5, 60_000, settings)
    assert costs == {"leapfrog_steps": 60_000, "steps_per_iteration": 10.0, "us_per_step": 50.0}
    assert bench.step_costs(1.5, None, settings)["us_per_step"] is None, "uncounted steps are not guessed"


def test_the_cost_curve_needs_two_sizes_and_is_written_whole(bench, tmp_path) -> None:
    path = tmp_path / "scaling.svg"
    assert not bench.scaling_figure([_generated(10, 10, 40.0, 1.0)], path)
    assert not path.exists()
    rows = [_generated(10, 10, 40.0, 1.0), _generated(25, 10, 100.0, 4.0), _generated(25, 30, 200.0, 9.0),
            {"label": "default", "nodes": 8, "us_per_step": 30.0, "stages": {"sample": 0.5}}]
    assert bench.scaling_figure(rows, path)
    svg = path.read_text()
    assert svg.startswith("<?xml") and svg.rstrip().endswith("</svg>")
    assert "25×30" in svg and "8×" not in svg, "generated sizes only, each labelled"
    assert [p.name for p in tmp_path.iterdir()] == ["scaling.svg"]


def test_rows_from_before_a_column_existed_show_it_as_na(bench) -> None:
    old = {"label": "default", "sampler": "nutpie", "history": "integrated out", "nodes": 8, "strategies": 4,
           "years": 18, "stages": {"sample": 0.5}, "total_seconds": 9.0, "min_ess_bulk": 2500.0,
           "min_ess_tail": 1600.0, "ess_bulk_per_sampling_second": 5000.0, "ess_bulk_per_run_second": 270.0,
           "divergences": 0, "max_rhat": 1.005, "peak_rss_mb": 500.0, "results_mb": 21.0}
    header, _, line = ([c.strip() for c in text.strip("|").split("|")] for text in bench.table([old]).splitlines()[:3])
    row = dict(zip(header, line))
    assert row["µs/step"] == "n/a" and row["import s"] == "n/a" and row["sample s"] == "0.5"


def test_a_cold_run_gets_new_empty_compile_caches_removed_after(bench) -> None:
    with bench.empty_compile_cache() as env:
        numba_dir, pytensor_dir = Path(env["NUMBA_CACHE_DIR"]), Path(env["PYTENSOR_FLAGS"].split("=", 1)[1])
        assert numba_dir.parent == pytensor_dir.parent and not any(numba_dir.parent.iterdir())
    with bench.empty_compile_cache() as again:
        assert again["NUMBA_CACHE_DIR"] != env["NUMBA_CACHE_DIR"]
    assert not numba_dir.parent.exists()


def test_generated_indicators_are_simulated_from_the_scenarios_own_prior(bench, tmp_path) -> None:
    """The benchmark's fixtures are data its model could have produced: each indicator tracks
    the history that the scenario's equations give with parameters drawn from its priors."""
    from dataclasses import replace

    import numpy as np

    from forecast.model.prior import prior_draws
    from forecast.scenario import load_scenario

    scenario = load_scenario(bench.generate_scenario(tmp_path, 12, 2, 15, seed=3))
    assert len(scenario.indicators) == 3, "a quarter of the nodes are measured"
    # the draw the generator made, from the scenario before it had indicators (their own
    # priors' draws come first)
    level = prior_draws(replace(scenario, indicators={}), 1, 3)["level"][0]
    for indicator in scenario.indicators.values():
        rows = (tmp_path / "data" / Path(indicator.file).name).read_text().splitlines()[1:]
        assert all(row.endswith("simulated from the scenario's prior by bench/run.py (seed 3)") for row in rows)
        truth = level[np.asarray(indicator.years) - scenario.history_start, scenario.node_ids.index(indicator.node)]
        assert np.corrcoef(truth, indicator.values)[0, 1] > 0.8


def test_generated_scenarios_that_differ_in_strategies_alone_have_the_same_data(bench, tmp_path) -> None:
    """So that the benchmark's rows with more strategies measure the strategies' cost alone."""
    few, many = (bench.generate_scenario(tmp_path / str(s), 12, s, 15) for s in (3, 10))
    for data in sorted((few.parent / "data").iterdir()):
        assert data.read_text() == (many.parent / "data" / data.name).read_text()


@pytest.mark.slow
def test_the_gradient_it_times_is_the_models_own_log_density(bench, chain_file) -> None:
    """The benchmark's cost of a gradient alone times nutpie's callback: the model's log
    density (PyMC's, at the same point) and its gradient, and refuses a point where they fail."""
    from dataclasses import replace

    import numpy as np

    from forecast.compiled.runtime import compile_for_nutpie
    from forecast.model.build import build_model
    from forecast.scenario import load_scenario

    model = build_model(load_scenario(chain_file))
    compiled = compile_for_nutpie(model)
    cost = bench.gradient_cost(compiled, evaluations=50, repeats=1)
    x = compiled.initial_point_func(1)
    names, slices, shapes = compiled.shape_info  # the sampled values first, then deterministics
    free = {n: (where, tuple(shape)) for n, where, shape in zip(names, slices, shapes) if where.stop <= compiled.n_dim}
    point = {n: x[where].reshape(shape) for n, (where, shape) in free.items()}
    assert set(point) == {v.name for v in model.value_vars}
    assert cost["logp"] == pytest.approx(float(model.compile_logp()(point)), rel=1e-9)
    expected = model.compile_dlogp()(point)  # in the order of model.value_vars
    got = np.concatenate([cost["gradient"][free[v.name][0]] for v in model.value_vars])
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert 0 < cost["us_per_gradient"] < float("inf")
    broken = replace(compiled, initial_point_func=lambda seed: np.full(compiled.n_dim, np.nan))
    with pytest.raises(RuntimeError, match="not finite"):
        bench.gradient_cost(broken, evaluations=1, repeats=1)


def test_the_gradient_note_bounds_the_ratio_by_a_step_that_costs_the_gradient_alone(bench) -> None:
    note = bench.gradient_note(20.0, 30.0, 6.0)
    assert "20.0, so nutpie's own work is 10.0 µs of its 30.0 µs step" in note
    assert note.endswith("the ratio above would be 9.0x")


def test_hypotheses_are_measured_against_the_default_with_each_claim_s_most_weighted_one_alone(bench, tmp_path) -> None:
    from forecast.scenario import load_scenario

    default = load_scenario(bench.DEFAULT)
    single = load_scenario(bench.one_hypothesis_scenario(tmp_path / "one"))
    assert [c.id for c in single.claims] == [c.id for c in default.claims]
    assert not any(c.hypotheses for c in single.claims)
    for d, s in zip(default.claims, single.claims):
        if d.hypotheses:
            top = max(d.hypotheses, key=lambda h: h.weight)
            assert s.prior == top.prior
        else:
            assert s.prior == d.prior
    assert list(single.indicators) == list(default.indicators)


def test_the_latest_table_says_the_day_it_was_measured_and_whether_it_finished(bench) -> None:
    assert bench.dated("20261204T001905Z", True) == "Benchmark of 2026-12-04.\n\n"
    assert bench.dated("20261204T001905Z", False).startswith("Benchmark of 2026-12-04 (stopped before its end")
