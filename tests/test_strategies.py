"""Strategies set levers: to values, held at their last level, moved from it (on the display
scale or in standard units), at once or in equal steps; everything else follows the equations."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from forecast.forecasts.strategies import forecast_levels, lever_caps, lever_path
from forecast.model.dynamics import Params
from forecast.posterior.draws import Draws
from forecast.scenario import ScenarioError, load_scenario
from forecast.scenario.domain import INDEX_BOUNDS, Cap, LeverSetting

from .conftest import CHAIN, write_scenario

YEARS = 5  # CHAIN forecasts 2006-2010


def chain_with(tmp_path, **sets):
    """CHAIN whose strategies set the lever L as given (one strategy per keyword)."""
    data = copy.deepcopy(CHAIN)
    data["strategies"] = [{"id": "natural", "baseline": True}] + [{"id": k, "set": {"L": v}} for k, v in sets.items()]
    return load_scenario(write_scenario(tmp_path, data))


def draws_for(scenario, last_levels: np.ndarray) -> Draws:
    """Posterior-like draws whose history ends at ``last_levels`` (D, nodes), baselines 0."""
    n_draws, n_nodes = last_levels.shape
    years = len(scenario.history_years)
    level = np.zeros((n_draws, years, n_nodes))
    level[:, -1] = last_levels
    rng = np.random.default_rng(0)
    params = Params(phi=rng.uniform(0.3, 0.9, (n_draws, n_nodes)), sigma=rng.uniform(0.1, 0.5, (n_draws, n_nodes)),
                    omega=rng.uniform(0.1, 0.5, (n_draws, n_nodes)), beta=rng.normal(0, 0.5, (n_draws, len(scenario.claims))))
    empty = np.zeros((n_draws, 0))
    return Draws(chains=1, draws=n_draws, mu=np.zeros((n_draws, n_nodes)), params=params, level=level,
                 trend=rng.normal(0, 0.5, level.shape), drift=rng.normal(0, 0.3, (n_draws, n_nodes)),
                 intercept=empty, loading=empty, noise=empty)


@pytest.mark.parametrize(("value", "expected"), [
    (2.0, LeverSetting("values", values=(2.0,) * YEARS)),
    ([1, 2, 3, 4, 5], LeverSetting("values", values=(1.0, 2.0, 3.0, 4.0, 5.0))),
    ("hold", LeverSetting("hold", steps=(1.0,) * YEARS)),
    ({"hold": True}, LeverSetting("hold", steps=(1.0,) * YEARS)),
    ({"to": 3}, LeverSetting("to", amount=3.0, steps=(1.0,) * YEARS)),
    ({"by": -1.5, "over": 3}, LeverSetting("by", amount=-1.5, steps=(1 / 3, 2 / 3, 1.0, 1.0, 1.0))),
    ({"by_sd": 0.5, "over": 2}, LeverSetting("by_sd", amount=0.5, steps=(0.5, 1.0, 1.0, 1.0, 1.0))),
])
def test_each_form_of_a_setting_is_read(tmp_path, value, expected) -> None:
    scenario = chain_with(tmp_path, s=value)
    assert scenario.strategies[1].interventions["L"] == expected


@pytest.mark.parametrize(("value", "message"), [
    ("+1.5", '"+1.5" is text (a change from its last level is written { by = 1.5 }'),
    ({"by": 1, "to": 2}, "give exactly one of hold, to, by or by_sd (got to, by)"),
    ({"hold": True, "over": 2}, "over goes with to, by or by_sd"),
    ({"by": 1, "over": 0}, "set.L.over: must be at least 1; got 0"),
    ({"byy": 1}, "unknown key 'byy'. Did you mean 'by'?"),
    ({"hold": "yes"}, 'set.L.hold: "yes" is text; give true or false (without quotes)'),
    ({"to": "30"}, 'set.L.to: "30" is text; give a number'),
    (True, "set.L: true is a boolean; give a number on the lever's display scale"),
    (float("nan"), "set.L: nan is not a number; give a number on the lever's display scale"),
    ([1, 2], "give one value, or one per forecast year (5 for 2006-2010); got 2"),
])
def test_a_bad_setting_says_what_the_forms_are(tmp_path, value, message) -> None:
    with pytest.raises(ScenarioError, match=None) as caught:
        chain_with(tmp_path, s=value)
    assert message in str(caught.value)


def test_held_and_relative_levers_move_from_each_draws_own_last_level(tmp_path) -> None:
    scenario = chain_with(tmp_path, hold="hold", by={"by": 2.0}, ramp={"to": 4.0, "over": 4}, sd={"by_sd": -1.0})
    last = np.array([[0.5, 0, 0, 0], [-1.0, 0, 0, 0], [2.0, 0, 0, 0]])  # L is the first node; linear display
    levels = forecast_levels(scenario, draws_for(scenario, last), seed=1)  # (S, H, D, N)
    lever = levels[..., 0]
    np.testing.assert_allclose(lever[1], np.broadcast_to(last[:, 0], (YEARS, 3)))
    np.testing.assert_allclose(lever[2], np.broadcast_to(last[:, 0] + 2.0, (YEARS, 3)))
    ramp = last[None, :, 0] + (4.0 - last[None, :, 0]) * np.array([0.25, 0.5, 0.75, 1, 1])[:, None]
    np.testing.assert_allclose(lever[3], ramp)
    np.testing.assert_allclose(lever[4], np.broadcast_to(last[:, 0] - 1.0, (YEARS, 3)))


def index_node():
    from forecast.scenario.domain import Node
    from forecast.scenario.schema import DisplaySpec

    return Node("x", "x", "lever", "", DisplaySpec(), "neither", None, None, None, None, 0.6, 1.0)  # type: ignore[arg-type]


def test_an_index_moved_from_its_level_stays_within_its_bounds_and_says_where() -> None:
    node = index_node()
    last = node.to_latent(np.array([5.0, 50.0, 97.0]))
    down = LeverSetting("by", amount=-10.0, steps=(1.0,))
    path = node.to_display(lever_path(node, down, last))
    np.testing.assert_allclose(path[0], [INDEX_BOUNDS[0], 40.0, 87.0])
    assert lever_caps(node, down, last, 2025) == (Cap(INDEX_BOUNDS[0], (2025, 2025), 1 / 3),)
    up = LeverSetting("by", amount=10.0, steps=(1.0,))
    path = node.to_display(lever_path(node, up, last))
    np.testing.assert_allclose(path[0], [15.0, 60.0, INDEX_BOUNDS[1]])
    assert lever_caps(node, up, last, 2025) == (Cap(INDEX_BOUNDS[1], (2025, 2025), 1 / 3),)
    assert lever_caps(node, LeverSetting("by", amount=1.0, steps=(1.0,)), last, 2025) == ()  # 98: within


def test_a_ramp_is_capped_from_the_year_each_draw_passes_the_bound() -> None:
    """Up 20 points over 5 years from 82 passes 99 in its fifth year (101.5 from 81.5), from 84
    in its fourth (100); from 70 it never does. The path is held at 99 from then on."""
    node = index_node()
    ramp = LeverSetting("by", amount=20.0, steps=(0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0))
    last = node.to_latent(np.array([81.5, 84.0, 70.0, 82.0]))
    path = node.to_display(lever_path(node, ramp, last))
    np.testing.assert_allclose(path[:, 0], [85.5, 89.5, 93.5, 97.5, 99.0, 99.0, 99.0])
    np.testing.assert_allclose(path[:, 1], [88.0, 92.0, 96.0, 99.0, 99.0, 99.0, 99.0])
    np.testing.assert_allclose(path[-1, 2], 90.0)
    assert lever_caps(node, ramp, last, 2025) == (Cap(99.0, (2028, 2029), 0.75),)


def test_a_move_to_a_level_on_an_index_is_not_capped() -> None:
    """A value and a move to one lie strictly inside 0-100 as written, and a move to 99.5 gets there."""
    node = index_node()
    last = node.to_latent(np.array([60.0, 99.6]))
    to = LeverSetting("to", amount=99.5, steps=(0.5, 1.0))
    np.testing.assert_allclose(node.to_display(lever_path(node, to, last)), [[79.75, 99.55], [99.5, 99.5]])
    assert lever_caps(node, to, last, 2025) == ()


@pytest.mark.parametrize(("cap", "words"), [
    (Cap(99.0, (2029, 2029), 1.0), "capped at 99 from 2029: an index stays below 100"),
    (Cap(99.0, (2028, 2030), 1.0), "capped at 99 first in 2028 to 2030 by draw: an index stays below 100"),
    (Cap(1.0, (2029, 2029), 0.4), "capped at 1 from 2029 in 40% of draws: an index stays above 0"),
    (Cap(99.0, (2027, 2029), 0.996), "capped at 99 in over 99% of draws, first in 2027 to 2029 by draw: an index "
                                     "stays below 100"),
    (Cap(99.0, (2035, 2035), 0.001), "capped at 99 from 2035 in under 1% of draws: an index stays below 100"),
])
def test_a_cap_is_said_with_how_often_it_binds(cap, words) -> None:
    assert cap.describe() == words


def test_settings_are_said_in_words() -> None:
    assert LeverSetting("values", values=(75.0,) * 5).describe("index 0-100", 2024, 2025) == "to 75"
    assert LeverSetting("hold", steps=(1.0,)).describe("index 0-100", 2024, 2025) == "held at the 2024 level"
    assert LeverSetting("by", amount=-10, steps=(0.5, 1.0)).describe("index 0-100", 2024, 2025) == \
        "down 10 points from the 2024 level by 2026 in equal steps"
    assert LeverSetting("to", amount=30, steps=(1.0,)).describe("index 0-100", 2024, 2025) == \
        "from the 2024 level to 30"
