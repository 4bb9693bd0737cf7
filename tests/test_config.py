"""The scenario file: what a valid file declares, and a clear error for every broken one."""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from forecast.cli import cli
from forecast.scenario import ScenarioError, load_scenario
from forecast.scenario.priors import (
    CONFIDENCE,
    REGISTRY,
    STRENGTH,
    Distribution,
    Hypothesis,
    PriorError,
    mixture,
    resolve,
    summarize,
)
from forecast.scenario.schema import UNMEASURED_DRIFT_SD

from .conftest import CHAIN, DEFAULT_SCENARIO, PRIORS, ROOT, write_scenario

GOLDEN = ROOT / "tests" / "golden"

ARTICLE = PRIORS / "sources" / "turker-2025-trump-russia-strategy.txt"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- The shipped scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PRIORS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scenario_validates(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.claims and scenario.strategies and scenario.questions


def test_default_scenario_covers_the_article() -> None:
    s = load_scenario(DEFAULT_SCENARIO)
    assert len(s.claims) >= 8
    assert {"partnership", "transatlantic_cohesion", "russia_dependence", "us_position"} <= set(s.outcomes)
    assert s.baseline_strategy is not None and not s.baseline_strategy.interventions
    assert {"conciliatory_engagement", "dual_containment", "status_quo"} <= {st.id for st in s.strategies}
    assert len(s.indicators) >= 2
    assert any(c.hypotheses for c in s.claims), "the article's own question: breaks or strengthens?"
    assert any(q.subject_kind == "indicator" for q in s.questions)


def test_every_quote_is_verbatim_from_the_article() -> None:
    article = _normalise(ARTICLE.read_text(encoding="utf-8"))
    s = load_scenario(DEFAULT_SCENARIO)
    quotes = [c.quote for c in s.claims] + [h.quote for c in s.claims for h in c.hypotheses]
    for quote in quotes:
        assert quote, "every claim and hypothesis rests on a quote"
        assert _normalise(quote) in article, quote


def test_every_data_row_used_is_traceable_to_its_source() -> None:
    s = load_scenario(DEFAULT_SCENARIO)
    for ind in s.indicators.values():
        assert len(ind.sources) == len(ind.years)
        assert all(src for src in ind.sources), f"{ind.id}: a row without a source"
        with ind.file.open(newline="", encoding="utf-8") as fh:
            rows = {int(r["year"]): r for r in csv.DictReader(fh)}
        for year, value in zip(ind.years, ind.values):
            assert float(rows[int(year)][ind.column]) == value  # exactly the file's figure


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = {**CHAIN, "claims": [{**CHAIN["claims"][0], "cause": "Nope"}, {**CHAIN["claims"][1], "effect": "Zed"}]}
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_scenario(tmp_path, data))
    assert len(info.value.problems) == 2


def test_validate_shows_the_graph_and_fitted_priors() -> None:
    result = CliRunner().invoke(cli, ["validate", str(DEFAULT_SCENARIO)])
    assert result.exit_code == 0, result.output
    assert "us_pressure_russia -> partnership" in result.output
    # "90% between -0.6 and -0.05" is shown back as the distribution PreliZ fitted
    assert "hypothesis breaks (weight 0.60): Normal(mu=-0.325" in result.output


def test_a_question_carries_its_resolution_criteria(tmp_path: Path) -> None:
    """``resolution`` is optional text, kept as written (trimmed), and `validate` shows it."""
    data = copy.deepcopy(CHAIN)
    data["questions"][1]["resolution"] = "  C's index in the 2008 annual report, first release  "
    path = write_scenario(tmp_path, data)
    s = load_scenario(path)
    assert [q.resolution for q in s.questions] == ["", "C's index in the 2008 annual report, first release"]
    shown = CliRunner().invoke(cli, ["validate", str(path)]).output
    assert "      resolution: C's index in the 2008 annual report, first release" in shown


# --- Priors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("strength", list(STRENGTH))
@pytest.mark.parametrize("confidence", list(CONFIDENCE))
def test_words_map_to_the_documented_table(strength: str, confidence: str) -> None:
    d = resolve({"direction": "-", "strength": strength, "confidence": confidence}, signed=True)
    assert d.name == "Normal"
    assert d.params["mu"] == -STRENGTH[strength]
    assert d.params["sigma"] == pytest.approx(STRENGTH[strength] * CONFIDENCE[confidence])


def test_expert_interval_is_solved_to_a_distribution_with_that_mass() -> None:
    d = resolve({"between": [-0.6, -0.1], "probability": 0.9}).preliz()
    assert d.cdf(-0.1) - d.cdf(-0.6) == pytest.approx(0.9, abs=1e-3)


@pytest.mark.parametrize(("spec", "stated"), [
    ({"direction": "+", "strength": "weak", "confidence": "low"}, "raises it: weak strength, low confidence"),
    ({"direction": "-"}, "lowers it: moderate strength (default), medium confidence (default)"),
    ({"between": [-0.6, -0.05], "probability": 0.9}, "90% between -0.6 and -0.05"),
    ({"between": [0.1, 0.5], "family": "LogNormal"}, "90% between 0.1 and 0.5 (fitted as a LogNormal)"),
    ({"quartiles": [-0.5, -0.3, -0.1]}, "quartiles -0.5, -0.3 (median), -0.1"),
    ({"dist": "Normal", "mu": 0.1, "sigma": 0.15}, "Normal(mu=0.1, sigma=0.15)"),
])
def test_a_prior_keeps_the_analysts_own_statement(spec: dict, stated: str) -> None:
    """The report shows the prior as written next to the distribution fitted to it."""
    d = resolve(spec, signed=True)
    assert d.stated == stated
    assert d == type(d)(d.name, d.params)  # the statement is a note: it does not change the distribution


def test_the_default_scenarios_priors_reach_the_summary_as_stated() -> None:
    golden = json.loads((GOLDEN / "article_summary.json").read_text(encoding="utf-8"))
    hypotheses = golden["claims"]["engagement_and_partnership"]["hypotheses"]
    assert hypotheses["breaks"]["stated"] == "90% between -0.6 and -0.05"
    assert hypotheses["breaks"]["prior"].startswith("Normal(mu=-0.325")
    assert golden["claims"]["antagonism_pushes_russia_to_china"]["prior"]["stated"] == \
        "raises it: moderate strength, medium confidence"


def test_expert_quartiles_are_matched() -> None:
    d = resolve({"quartiles": [0.1, 0.3, 0.5], "family": "Normal"}).preliz()
    np.testing.assert_allclose(d.ppf([0.25, 0.5, 0.75]), [0.1, 0.3, 0.5], atol=1e-3)


def test_an_experts_statement_is_fitted_once_and_then_read_from_the_users_cache(tmp_path, monkeypatch) -> None:
    """Importing PreliZ takes seconds: a warm run reads the fit it made before (plain JSON in
    the cache dir, keyed by the statement and PreliZ's version) and the numbers are the same."""
    import sys

    from forecast.scenario import priors

    monkeypatch.setattr(priors, "_fits_file", lambda: tmp_path / "fits.json")
    spec = {"between": [-0.7, 0.15], "probability": 0.8}
    priors._fit.cache_clear()
    fitted = resolve(spec)
    assert (tmp_path / "fits.json").exists() and not list(tmp_path.glob(".fits.json.*"))
    priors._fit.cache_clear()
    monkeypatch.setitem(sys.modules, "preliz", None)  # any import of PreliZ now fails
    assert resolve(spec) == fitted
    (tmp_path / "fits.json").write_text("{not json", encoding="utf-8")  # a damaged cache is no cache
    priors._fit.cache_clear()
    with pytest.raises(priors.PriorError, match="preliz"):  # so it fits again (here: without PreliZ)
        resolve(spec)
    priors._fit.cache_clear()


#: One example of each registry family, parameters away from special cases.
EXAMPLES = {
    "Normal": {"mu": -0.3, "sigma": 0.4}, "StudentT": {"nu": 5.0, "mu": 0.2, "sigma": 0.5},
    "Laplace": {"mu": 0.1, "b": 0.3}, "Logistic": {"mu": -0.2, "s": 0.4},
    "SkewNormal": {"mu": 0.1, "sigma": 0.6, "alpha": 2.0}, "Uniform": {"lower": -1.0, "upper": 0.5},
    "TruncatedNormal": {"mu": 0.3, "sigma": 0.5, "lower": 0.0, "upper": 1.5},
    "HalfNormal": {"sigma": 0.5}, "HalfStudentT": {"nu": 4.0, "sigma": 0.5}, "Exponential": {"lam": 2.0},
    "Gamma": {"alpha": 3.0, "beta": 4.0}, "InverseGamma": {"alpha": 4.0, "beta": 2.0},
    "LogNormal": {"mu": -1.0, "sigma": 0.5}, "Beta": {"alpha": 2.0, "beta": 5.0},
}


def test_every_family_has_an_example() -> None:
    assert set(EXAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_scipy_and_preliz_agree_on_every_family(name: str) -> None:
    """Prior draws and summaries come from SciPy. Its quantiles are PreliZ's (whose
    parametrisation PyMC's matches: the same distribution), its density is its distribution
    function's derivative and its draws have its mean. One PreliZ method per family: each
    compiles a function on first use."""
    d = Distribution(name, EXAMPLES[name])
    ours = d.scipy()
    q = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    x = ours.ppf(q)
    np.testing.assert_allclose(x, d.preliz().ppf(q), rtol=1e-6, atol=1e-9)
    h = 1e-6 * ours.std()
    np.testing.assert_allclose(np.exp(ours.logpdf(x)), (ours.cdf(x + h) - ours.cdf(x - h)) / (2 * h), rtol=1e-5)
    draws = ours.rvs(20000, random_state=np.random.default_rng(0))
    assert np.mean(draws) == pytest.approx(ours.mean(), abs=5 * ours.std() / np.sqrt(20000))


def test_a_mixture_of_hypotheses_summarises_as_preliz_does() -> None:
    """Mean, sd, quantiles and P(below 0) of a two-hypothesis prior, against PreliZ's mixture."""
    import preliz as pz

    hypotheses = [Hypothesis("a", 0.3, Distribution("Normal", {"mu": -0.4, "sigma": 0.2})),
                  Hypothesis("b", 0.7, Distribution("Gamma", {"alpha": 3.0, "beta": 6.0}))]
    ours = summarize(mixture(hypotheses), sign=-1.0)
    ref = pz.Mixture([h.prior.preliz() for h in hypotheses], weights=[0.3, 0.7])
    assert ours["mean"] == pytest.approx(ref.mean(), rel=1e-6)
    assert ours["sd"] == pytest.approx(ref.std(), rel=1e-6)
    np.testing.assert_allclose([ours["q05"], ours["q50"], ours["q95"]], ref.ppf([0.05, 0.5, 0.95]), atol=1e-4)
    assert ours["p_sign"] == pytest.approx(ref.cdf(0.0), abs=1e-9)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"dist": "os.system"}, "unknown distribution"),
        ({"dist": "Beta", "alpha": 2}, "Beta needs beta"),
        ({"dist": "Uniform", "lower": 1, "upper": 0}, "lower < upper"),
        ({"direction": "up"}, 'direction "up" is not a sign; give "+" (the cause raises its effect) or "-" (lowers '
                              'it). Did you mean "+"?'),
        ({"direction": 1}, 'direction must be "+" or "-", and 1 is a whole number'),
        ({"between": [1, 0]}, "low < high"),
        ({"quartiles": [3, 2, 1]}, "three increasing numbers"),
        ({"mu": 0}, "a prior needs one of"),
    ],
)
def test_bad_priors_say_what_to_fix(spec: dict, message: str) -> None:
    with pytest.raises(PriorError, match=re.escape(message)):
        resolve(spec, signed=True)


def test_words_are_only_for_claims() -> None:
    with pytest.raises(PriorError, match="describe a claim's effect"):
        resolve({"direction": "+"})


@pytest.mark.parametrize(
    "spec, fields",
    [("NodeSpec", ("baseline", "persistence", "volatility", "shift")), ("IndicatorSpec", ("intercept", "loading", "noise"))],
)
def test_documented_default_priors_are_the_code_defaults(spec: str, fields: tuple[str, ...]) -> None:
    import forecast.scenario.schema as config

    readme = (PRIORS / "README.md").read_text(encoding="utf-8")
    model = getattr(config, spec)
    for name in fields:
        default = model.model_fields[name].default_factory()
        text = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f'{k} = "{v}"' for k, v in default.items())
        assert f"| `{name}` | `{{{text}}}` |" in readme, (name, text)


# --- Data files as spreadsheets export them --------------------------------------------------

POLL = {"label": "Poll", "node": "B", "column": "share", "transform": "logit_percent", "unit": "%",
        "source": "test"}


def _with_poll(directory: Path, csv_bytes: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "poll.csv").write_bytes(csv_bytes)
    return write_scenario(directory, {**CHAIN, "indicators": {"poll": {**POLL, "file": "poll.csv"}}})


ROWS = [(2001, "40,5", "Institut für Demoskopie"), (2002, "", "no poll that year"), (2003, "45,25", "idem"),
        (2004, "47", "idem")]


def test_a_spreadsheet_export_with_semicolons_decimal_commas_and_a_byte_order_mark_is_read_exactly(tmp_path) -> None:
    """The values validate shows are the cells as written, and the very numbers the model's
    evidence is made of: the same as from the plain comma-and-point file."""
    from forecast.model.build import Evidence

    excel = "\ufeffyear;share;source\r\n" + "".join(f"{y};{v};{s}\r\n" for y, v, s in ROWS)
    plain = "year,share,source\n" + "".join(f"{y},{v.replace(',', '.')},{s}\n" for y, v, s in ROWS)
    spreadsheet = load_scenario(_with_poll(tmp_path / "excel", excel.encode("utf-8")))
    reference = load_scenario(_with_poll(tmp_path / "plain", plain.encode("utf-8")))
    poll = spreadsheet.indicators["poll"]
    assert poll.years.tolist() == [2001, 2003, 2004]  # the empty cell is a gap
    assert poll.values.tolist() == [40.5, 45.25, 47.0]
    assert poll.sources == ("Institut für Demoskopie", "idem", "idem")
    assert poll.read_as == "semicolon-separated, decimal comma" and reference.indicators["poll"].read_as == ""
    assert poll.values.tolist() == reference.indicators["poll"].values.tolist()
    assert Evidence.from_scenario(spreadsheet).z.tolist() == Evidence.from_scenario(reference).z.tolist()
    p = np.array([40.5, 45.25, 47.0]) / 100
    logit = np.log(p / (1 - p))
    np.testing.assert_allclose(Evidence.from_scenario(spreadsheet).z, (logit - logit.mean()) / logit.std(ddof=1),
                               rtol=1e-12)

    shown = CliRunner().invoke(cli, ["validate", str(tmp_path / "excel" / "scenario.toml")])
    assert shown.exit_code == 0, shown.output
    assert ("poll: B <- poll.csv:share (logit_percent, 3 years 2001-2004, values 40.5 to 47 %; read as "
            "semicolon-separated, decimal comma)") in shown.output


def test_a_semicolon_file_with_decimal_points_is_read_as_written(tmp_path) -> None:
    s = load_scenario(_with_poll(tmp_path, b"year;share;source\n2001;40.5;a\n2002;41;b\n"))
    assert s.indicators["poll"].values.tolist() == [40.5, 41.0]
    assert s.indicators["poll"].read_as == "semicolon-separated"


def test_a_point_before_three_digits_in_a_semicolon_file_is_a_decimal_point_only_if_another_number_says_so(
        tmp_path) -> None:
    """89.210 may be 89210 where semicolons separate fields: refused, unless 40.5 shows the point is decimal."""
    s = load_scenario(_with_poll(tmp_path, b"year;share;source\n2001;40.5;a\n2002;41.234;b\n"))
    assert s.indicators["poll"].values.tolist() == [40.5, 41.234]
    with pytest.raises(ScenarioError, match=r"line 3: 41.234 reads as 41.234 with a decimal point, or as 41234 with "
                                            r"a point between thousands"):
        load_scenario(_with_poll(tmp_path / "ambiguous", b"year;share;source\n2001;40;a\n2002;41.234;b\n"))


def test_a_row_with_a_field_too_many_is_never_read_shifted(tmp_path) -> None:
    """The issue's case: '2010,9,4,...' was read as 9.0 with "4" as its source."""
    with pytest.raises(ScenarioError, match=r"poll.csv line 3 has 4 fields where the header has 3 \(year, share, "
                                            r"source\); a decimal comma splits a number in two"):
        load_scenario(_with_poll(tmp_path, b"year,share,source\n2001,40,a\n2002,9,4,b\n"))


def test_a_run_keeps_the_bytes_its_numbers_come_from_even_if_a_file_changes_meanwhile(tmp_path) -> None:
    """A data file edited while a run samples: the run's copy and its manifest's sha256 are of
    the file as it was read, not as it is when the run writes."""
    import hashlib

    original = b"\xef\xbb\xbfyear;share;source\n2001;40,5;a\n2002;41;b\n"
    scenario = load_scenario(_with_poll(tmp_path, original))
    toml = (tmp_path / "scenario.toml").read_bytes()
    (tmp_path / "poll.csv").write_bytes(b"year,share,source\n2001,99,edited\n2002,98,edited\n")
    (tmp_path / "scenario.toml").write_bytes(b"# edited\n")
    assert scenario.content("data/poll.csv") == original and scenario.content("scenario.toml") == toml
    assert scenario.sha256() == {"scenario.toml": hashlib.sha256(toml).hexdigest(),
                                 "data/poll.csv": hashlib.sha256(original).hexdigest()}


def test_a_separator_ending_every_line_is_read_as_none(tmp_path) -> None:
    s = load_scenario(_with_poll(tmp_path, b"year;share;source;\n2001;40,5;a;\n2002;41;b;\n"))
    assert s.indicators["poll"].values.tolist() == [40.5, 41.0]
    with pytest.raises(ScenarioError, match=r"poll.csv line 3 has 4 fields where the header has 3"):
        load_scenario(_with_poll(tmp_path / "other", b"year;share;source;\n2001;40,5;a;\n2002;41;b;x\n"))


def test_a_node_no_indicator_measures_has_no_drift_or_lasting_shifts_unless_its_file_gives_them(tmp_path) -> None:
    """Nothing could learn them, and the measured nodes' defaults would carry its level far
    from its baseline within the history."""
    data = copy.deepcopy(CHAIN)
    data["nodes"]["A"].update(drift_sd=0.3, shift={"dist": "Gamma", "alpha": 2.0, "beta": 4.0})
    data["indicators"] = {"poll": {**POLL, "file": "poll.csv"}}  # measures B
    (tmp_path / "poll.csv").write_text("year,share,source\n" + "".join(f"{y},{30 + y - 2000},a poll\n"
                                                                   for y in range(2000, 2006)))
    nodes = load_scenario(write_scenario(tmp_path, data)).nodes
    assert nodes["L"].drift_sd == UNMEASURED_DRIFT_SD and nodes["L"].shift.describe() == "Gamma(alpha=20, beta=400)"
    assert nodes["A"].drift_sd == 0.3 and nodes["A"].shift.describe() == "Gamma(alpha=2, beta=4)"  # given
    assert nodes["B"].drift_sd == 0.6 and nodes["B"].shift.describe() == "Gamma(alpha=2, beta=2)"  # measured


# --- Strategies: a ramp may be longer than the forecast ----------------------------------------


def test_a_ramp_longer_than_the_forecast_is_phased_in_and_said_to_be_partly_reached_by_the_horizon(tmp_path) -> None:
    """A policy phased in over 8 years, forecast for 5 (2006-2010): the forecast sees its first
    5 steps, and every place that says the setting (validate, the run's summary) says how far
    it has got."""
    from forecast.forecasts.strategies import lever_path
    from forecast.results.summary import _setting

    data = copy.deepcopy(CHAIN)
    data["strategies"][1]["set"] = {"L": {"to": 2.0, "over": 8}}
    path = write_scenario(tmp_path, data)
    s = load_scenario(path)
    setting = s.strategies[1].interventions["L"]
    assert setting.steps == (1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8) and setting.over == 8
    words = "from the 2005 level to 2 units by 2013 in equal steps, 62.5% of the way by the horizon 2010"
    assert setting.describe(s.nodes["L"].unit, 2005, 2006) == words
    assert _setting(s, "L", setting)["setting"] == words
    shown = CliRunner().invoke(cli, ["validate", str(path)])
    assert shown.exit_code == 0 and f"hold_high: L {words}" in shown.output, shown.output
    node = s.nodes["L"]
    path_shown = node.to_display(lever_path(node, setting, np.array([0.0, -2.0])))  # two draws' last levels
    np.testing.assert_allclose(path_shown[-1], [0.0 + 5 / 8 * 2.0, -2.0 + 5 / 8 * 4.0])


@pytest.mark.parametrize(("over", "words"), [
    (1, "from the 2005 level to 2 units"),
    (3, "from the 2005 level to 2 units by 2008 in equal steps"),
    (5, "from the 2005 level to 2 units by 2010 in equal steps"),  # reached in the horizon year itself
    (6, "from the 2005 level to 2 units by 2011 in equal steps, 83.3% of the way by the horizon 2010"),
])
def test_a_ramp_says_when_it_is_complete(tmp_path, over: int, words: str) -> None:
    data = copy.deepcopy(CHAIN)
    data["strategies"][1]["set"] = {"L": {"to": 2.0, "over": over}}
    s = load_scenario(write_scenario(tmp_path, data))
    assert s.strategies[1].interventions["L"].describe("units", 2005, 2006) == words


def test_a_ramp_beyond_the_limit_of_years_is_refused(tmp_path) -> None:
    data = copy.deepcopy(CHAIN)
    data["strategies"][1]["set"] = {"L": {"by": 1.0, "over": 501}}
    with pytest.raises(ScenarioError, match=re.escape("strategies[1] (id hold_high).set.L.over: 501 years is more "
                                                      "than the limit of 500 years for a ramp")):
        load_scenario(write_scenario(tmp_path, data))
    data["strategies"][1]["set"] = {"L": {"by": 1.0, "over": 500}}
    load_scenario(write_scenario(tmp_path, data))


# --- Strategies: a move past an index's bounds is capped, and said to be ---------------------


def _index_lever(tmp_path, setting) -> object:
    """CHAIN with L on an index, measured by a rising series whose last value (2005) stands
    1.34 standard units above its mean: an index of 79.2 then."""
    data = copy.deepcopy(CHAIN)
    del data["nodes"]["L"]["display"]
    data["strategies"][0]["set"], data["strategies"][1]["set"] = {"L": 20.0}, {"L": setting}
    data["indicators"] = {"spend": {"label": "Spending", "node": "L", "column": "usd", "unit": "USD", "source": "test",
                                    "file": "spend.csv"}}
    (tmp_path / "spend.csv").write_text("year,usd,source\n" + "".join(f"{y},{y - 2000},a\n" for y in range(2000, 2006)))
    return load_scenario(write_scenario(tmp_path, data))


def test_the_python_api_issues_a_scenario_s_warnings_as_python_warnings_unless_given_a_callback(
        tmp_path, monkeypatch) -> None:
    """A notebook sees what ``forecast run`` prints as ``warning: ...`` (here before the run is
    refused: its folder is taken), and a ``warn`` callback gets them instead."""
    from forecast import ForecastError, ScenarioWarning, run_scenario
    from forecast.compiled import runtime

    monkeypatch.setattr(runtime, "start_background_compile", lambda: None)
    s = _index_lever(tmp_path, {"by": 20.0, "over": 5})
    with pytest.warns(ScenarioWarning, match="would pass 99 in 2010") as issued, pytest.raises(ForecastError):
        run_scenario(s.path, out=tmp_path, report=False)
    assert [str(w.message) for w in issued] == s.warnings()
    given: list[str] = []
    with pytest.raises(ForecastError, match="already exists and is not empty"):
        run_scenario(s.path, out=tmp_path, report=False, warn=given.append)
    assert given == s.warnings()


def test_the_python_api_refuses_bad_arguments_before_anything_samples_as_forecast_errors(tmp_path, monkeypatch) -> None:
    """A notebook's keep_draws=-5 wrote a run with empty forecasts, "10" failed after sampling;
    a dict of settings and a loaded Scenario are taken as they are; NumPy integers are whole."""
    import numpy as np

    from forecast import ForecastError, SamplerSettings, run_scenario
    from forecast.compiled import runtime
    from forecast.settings import SettingsError

    monkeypatch.setattr(runtime, "start_background_compile", lambda: None)
    path = write_scenario(tmp_path, CHAIN)
    for keep in (-5, 0, "10", 3.5, True):
        with pytest.raises(SettingsError, match=f"keep_draws must be a whole number .*got {re.escape(repr(keep))}"):
            run_scenario(path, keep_draws=keep, out=tmp_path / "never")
    with pytest.raises(ForecastError, match="draws must be a whole number from 10"):  # a dict: SamplerSettings' own checks
        run_scenario(path, {"draws": 5}, out=tmp_path / "never")
    with pytest.raises(SettingsError, match="settings must be SamplerSettings"):
        run_scenario(path, 500, out=tmp_path / "never")
    with pytest.raises(SettingsError, match="settings: no setting 'drawz'; the settings are draws, tune, "):
        run_scenario(path, {"drawz": 50}, out=tmp_path / "never")  # a TypeError from the dataclass before
    with pytest.raises(ForecastError, match="already exists and is not empty"):  # a Scenario: loaded, then refused here
        run_scenario(load_scenario(path), out=tmp_path)
    assert not (tmp_path / "never").exists()
    settings = SamplerSettings(draws=np.int64(200), seed=np.int64(3))
    assert (settings.draws, settings.seed) == (200, 3) and type(settings.draws) is int


def test_a_scenario_shows_itself_in_one_line_and_finds_a_claim_by_id() -> None:
    s = load_scenario(DEFAULT_SCENARIO)
    assert repr(s) == (f"Scenario({str(DEFAULT_SCENARIO)!r}: 'US engagement with Russia and the Sino-Russian "
                       "partnership', 2012-2029, 8 nodes, 12 claims, 5 indicators, 4 strategies, 7 questions)")
    assert s.claim("countering_china").cause == "us_pressure_china"
    with pytest.raises(KeyError, match="no claim 'nope'; the claims are antagonism_pushes_russia_to_china, "):
        s.claim("nope")


def test_a_move_past_an_index_s_bound_says_where_it_is_capped_and_in_how_many_draws(tmp_path) -> None:
    """Up 20 points over 5 years passes 99 in 2009 from 85, in 2010 from 81.2, never from 70: the
    summary's words say so with the share of draws, and its data list the cap."""
    from forecast.results.summary import _setting

    s = _index_lever(tmp_path, {"by": 20.0, "over": 5})
    setting, node = s.strategies[1].interventions["L"], s.nodes["L"]
    words = "up 20 points from the 2005 level by 2010 in equal steps"
    entry = _setting(s, "L", setting, node.to_latent(np.array([81.2, 70.0, 85.0])))
    assert entry["setting"] == f"{words}; capped at 99 in 67% of draws, first in 2009 to 2010 by draw: an index stays below 100"
    assert entry["capped"] == [{"at": 99.0, "from": [2009, 2010], "share": 0.666667}]
    entry = _setting(s, "L", setting, node.to_latent(np.array([81.2, 81.3])))
    assert entry["setting"] == f"{words}; capped at 99 from 2010: an index stays below 100"
    entry = _setting(s, "L", setting, node.to_latent(np.array([70.0, 75.0])))
    assert entry["setting"] == words and entry["capped"] == []
    assert _setting(s, "L", setting)["setting"] == words  # no draws: nothing to say about them


def test_validate_knows_where_the_data_leave_an_index_lever_and_whether_a_move_from_there_is_capped(tmp_path) -> None:
    s = _index_lever(tmp_path, {"by": 20.0, "over": 5})
    year, indicator, level = s.last_observed("L")
    assert (year, indicator) == (2005, "spend") and level == pytest.approx(100 / (1 + np.exp(-2.5 / np.std(range(6), ddof=1))))
    assert s.last_observed("A") is None  # measured by nothing
    assert s.warnings() == s.cap_warnings() == [
        "strategy hold_high: L up 20 points from the 2005 level by 2010 in equal steps would pass 99 in 2010 from "
        "about 79.2 (its level in 2005 by spend): from that level it is held at 99 from 2010, a move of about +19.8 "
        "points instead of +20 (an index stays below 100); the run says in what share of its draws"]
    assert _index_lever(tmp_path, {"by": 15.0, "over": 5}).cap_warnings() == []
    assert _index_lever(tmp_path, {"to": 98.0}).cap_warnings() == []
    assert _index_lever(tmp_path, {"by": -81.0}).cap_warnings()[0].endswith(
        "held at 1 from 2006, a move of about -78.2 points instead of -81 (an index stays above 0); the run says in "
        "what share of its draws")


# --- Questions: only what could go either way -------------------------------------------------


def _asking(tmp_path: Path, question: dict, transform: str = "logit_percent") -> Path:
    """CHAIN with a poll of B (in percent, 30-35 in 2000-2005) and one question."""
    data = copy.deepcopy(CHAIN)
    data["indicators"] = {"poll": {**POLL, "file": "poll.csv", "transform": transform}}
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "poll.csv").write_text("year,share,source\n" + "".join(f"{y},{30 + y - 2000},a poll\n"
                                                                   for y in range(2000, 2006)))
    data["questions"] = [{"id": "q", "text": "?", "year": 2010, "comparison": "below", **question}]
    return write_scenario(tmp_path, data)


@pytest.mark.parametrize(("subject", "transform", "threshold", "message"), [
    ("poll", "logit_percent", 150, 'questions[0] (id q).threshold: 150 is outside what poll can take (a percentage, '
                                   'strictly between 0 and 100): "below 150" would be yes whatever happens; give a '
                                   "threshold strictly between 0 and 100"),
    ("poll", "logit_percent", 100, '"below 100" would be yes whatever happens'),
    ("poll", "logit_percent", 0, '"below 0" would be no whatever happens'),
    ("poll", "log", 0, "0 is outside what poll can take (a positive number: the indicator is on a log scale): "
                       '"below 0" would be no whatever happens; give a threshold above 0'),
    ("poll", "log", -3, '"below -3" would be no whatever happens; give a threshold above 0'),
    ("C", "logit_percent", 130, "questions[0] (id q).threshold: 130 is outside what C can take (an index, "
                                'strictly between 0 and 100): "below 130" would be yes whatever happens; give a '
                                "threshold strictly between 0 and 100"),
    ("C", "logit_percent", 0, '"below 0" would be no whatever happens'),
])
def test_a_threshold_the_subject_can_never_cross_is_refused(tmp_path, subject, transform, threshold, message) -> None:
    """The domains are the transforms' (the same table that checks the data) and the index's."""
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(_asking(tmp_path, {"subject": subject, "threshold": threshold}, transform))


@pytest.mark.parametrize(("subject", "transform", "threshold"), [
    ("poll", "logit_percent", 99.5), ("poll", "log", 1e-3), ("poll", "identity", -150), ("C", "logit_percent", 0.5),
    ("B", "logit_percent", -1e6),  # a linear display takes any number
])
def test_a_threshold_inside_what_the_subject_can_take_is_accepted(tmp_path, subject, transform, threshold) -> None:
    load_scenario(_asking(tmp_path, {"subject": subject, "threshold": threshold}, transform))


@pytest.mark.parametrize(("question", "message"), [
    ({"subject": "C", "reference_year": 2005, "change": -100},
     "questions[0] (id q).change: -100 is as wide as all that C can take (an index, strictly between 0 and 100): "
     "the answer would be no whatever happens; give a change of less than 100 either way"),
    ({"subject": "poll", "reference_year": 2005, "change": 70},
     "questions[0] (id q).change: poll was 35 in 2005, and 35 + 70 = 105 is outside what it can take (a percentage, "
     "strictly between 0 and 100): the answer would be yes whatever happens; give a change that keeps 35 + change "
     "strictly between 0 and 100"),
])
def test_a_change_that_leaves_what_the_subject_can_take_is_refused(tmp_path, question: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(_asking(tmp_path, question))
    load_scenario(_asking(tmp_path / "fine", {**question, "change": question["change"] / 2}))


@pytest.mark.parametrize(("question", "message"), [
    ({"year": 2007, "reference_year": 2009, "comparison": "above"},
     "questions[0] (id q).reference_year: 2009 is after the question's year 2007; a question compares its year "
     "with an earlier one. The same question asked of the later year: year = 2009, reference_year = 2007, "
     'comparison = "below"'),
    ({"year": 2007, "reference_year": 2009, "comparison": "below", "change": -2},
     'year = 2009, reference_year = 2007, comparison = "above", change = 2'),
    ({"year": 2008, "reference_year": 2008},
     "questions[0] (id q).reference_year: 2008 is the question's own year: B would be compared with itself; give an "
     "earlier reference_year (or a threshold)"),
])
def test_a_reference_year_at_or_after_the_questions_year_is_refused_with_the_question_it_means(tmp_path, question,
                                                                                             message) -> None:
    data = copy.deepcopy(CHAIN)
    data["questions"] = [{"id": "q", "text": "?", "subject": "B", "comparison": "above", **question}]
    path = write_scenario(tmp_path, data)
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: {path}")


# --- Warnings: what a file may mean, but more likely got wrong ---------------------------------


def _polled(tmp_path: Path, values: list[float], **scenario_changes) -> Path:
    """CHAIN with a poll of B (logit_percent) holding ``values`` from 2000 on."""
    data = copy.deepcopy(CHAIN)
    data["indicators"] = {"poll": {**POLL, "file": "poll.csv"}}
    data.update(scenario_changes)
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "poll.csv").write_text("year,share,source\n" + "".join(f"{2000 + i},{v},a poll\n"
                                                                   for i, v in enumerate(values)))
    return write_scenario(tmp_path, data)


FRACTIONS = ("indicator poll (poll.csv, column share): every value lies between 0 and 1 (0.26 to 0.57); a percentage "
             "is written 0-100 (26.5 for 26.5%): if these are fractions, multiply them by 100")


def test_a_percentage_written_as_fractions_is_warned_of_by_validate_and_run(tmp_path, monkeypatch) -> None:
    """0.26 read as 0.26% puts the poll's node near 0: a question on it answers 0.00. A real
    series may lie below 1%, so this is a warning, not a refusal."""
    import forecast.pipeline
    from forecast.scenario import Problem

    path = _polled(tmp_path, [0.26, 0.31, 0.57, 0.4])
    assert load_scenario(path).warnings() == [FRACTIONS]
    shown = CliRunner().invoke(cli, ["validate", str(path)])
    assert shown.exit_code == 0 and f"warning: {FRACTIONS}\n" in shown.output

    def stop(*args, **kwargs):  # the warning comes before the model is built and sampled: stop there
        raise ScenarioError(path, [Problem("", "stopped before sampling")])

    from forecast.compiled import runtime

    monkeypatch.setattr(runtime, "start_background_compile", lambda: None)
    monkeypatch.setattr(forecast.pipeline.run, "build_model", stop)
    ran = CliRunner().invoke(cli, ["run", str(path), "--quiet", "--out", str(tmp_path / "run")])
    assert ran.output.startswith(f"warning: {FRACTIONS}\n") and "stopped before sampling" in ran.output

    assert load_scenario(_polled(tmp_path / "percent", [26, 31, 57, 40])).warnings() == []
    assert load_scenario(_polled(tmp_path / "small", [0.26, 0.31, 1.57, 0.4])).warnings() == []  # a share below 2%
    assert load_scenario(_polled(tmp_path / "one", [0.5, 0.8, 1.0, 0.9])).warnings() == []  # up to 1%: as fractions, 100%


def test_a_series_that_never_moves_is_refused(tmp_path) -> None:
    """Its spread is 0: it cannot be standardised, nor say how its node moves. A stand-in spread
    let a tester's run fail its diagnostics (R-hat 3) and spread the node and its outcomes over
    the whole index."""
    with pytest.raises(ScenarioError) as found:
        load_scenario(_polled(tmp_path / "flat", [40, 40, 40]))
    assert str(found.value.problems[0]) == (
        "indicators.poll.column: poll (poll.csv, column share) has the same value, 40, in every year (2000-2002): a "
        "series must move to say how B moves (the model reads it standardised over its years); check the column, "
        "add years, or leave the indicator out")


def test_a_value_far_from_the_others_is_warned_of(tmp_path) -> None:
    """The testers' cases: 0.43 among shares near 40% (a fraction among percentages), and one
    year written 1e12 among values near 100 (a unit slip): the model would read a break."""
    assert load_scenario(_polled(tmp_path / "a", [40, 42, 45, 0.43, 41, 44])).warnings() == [
        "indicator poll (poll.csv, column share): 0.43 in 2003 lies far from the other values (over 10 robust "
        "standard deviations from their median on a logit scale); check it for a typo or a unit slip: the model "
        "would read a break"]
    assert load_scenario(_polled(tmp_path / "b", [20, 28, 37, 46, 55, 63])).warnings() == []  # a trend
    assert load_scenario(_polled(tmp_path / "c", [40, 42, 45, 80, 82, 85])).warnings() == []  # a break
    assert load_scenario(_polled(tmp_path / "d", [40, 42, 0.43, 41])).warnings() == []  # too few to tell


def test_a_strategy_that_sets_what_another_sets_is_warned_of(tmp_path) -> None:
    """``set = {}`` next to a baseline that sets nothing forecasts the baseline again."""
    data = copy.deepcopy(CHAIN)
    data["strategies"] = [{"id": "status_quo", "baseline": True}, {"id": "engage", "set": {"L": 1.0}},
                          {"id": "contain", "set": {}}, {"id": "engage_again", "set": {"L": 1.0}}]
    assert load_scenario(write_scenario(tmp_path, data)).warnings() == [
        "strategy contain sets no lever, as status_quo (the baseline) does: its forecasts are status_quo's; give it "
        "the levers it sets (set = { LEVER = ... }) or leave it out",
        "strategy engage_again sets its levers as engage does: its forecasts are engage's; give it the levers it sets "
        "(set = { LEVER = ... }) or leave it out"]
    assert load_scenario(write_scenario(tmp_path / "chain", CHAIN)).warnings() == []  # natural differs from hold_low


def test_a_lever_that_no_claim_leaves_is_warned_of(tmp_path) -> None:
    """A strategy setting it forecasts every other node as its baseline does."""
    data = copy.deepcopy(CHAIN)
    data["nodes"]["R"] = {"label": "Rhetoric", "role": "lever"}
    data["strategies"].append({"id": "talk", "set": {"R": 1.0}})
    assert load_scenario(write_scenario(tmp_path, data)).warnings() == [
        "lever R is set by talk but no claim has it as its cause: setting it moves no other node; add the claims it "
        "acts through (cause = \"R\"), or check their direction"]


def test_a_name_that_differs_only_in_case_is_suggested_first() -> None:
    from forecast.scenario.errors import did_you_mean

    assert did_you_mean("NO2", ["no2", "traffic"]) == " Did you mean 'no2'?"
    assert did_you_mean("Trafic", ["no2", "traffic"]) == " Did you mean 'traffic'?"
    assert did_you_mean("budget", ["no2", "traffic"]) == ""


def test_a_word_prior_outside_its_words_names_them_and_the_nearest() -> None:
    from forecast.scenario.priors import PriorError, _words

    with pytest.raises(PriorError, match="^strength must be one of weak, moderate, strong, and 'huge' is not one of "
                                         "them$"):
        _words({"direction": "+", "strength": "huge"})
    with pytest.raises(PriorError, match="'Strong' is not one of them. Did you mean 'strong'"):
        _words({"direction": "+", "strength": "Strong"})


def test_a_number_where_a_prior_goes_is_shown_a_prior_on_the_keys_own_support(tmp_path) -> None:
    """persistence lies in (0, 1): its example is a Beta, not the Normal that validation then refuses."""
    data = copy.deepcopy(CHAIN)
    data["nodes"]["A"]["persistence"] = 0.5
    result = CliRunner().invoke(cli, ["validate", str(write_scenario(tmp_path, data))])
    assert result.exit_code == 1
    assert 'nodes.A.persistence: 0.5 is a decimal number; give a prior table such as { dist = "Beta"' in result.output


def test_quartiles_a_family_cannot_match_are_warned_of_every_time(tmp_path) -> None:
    """PreliZ said so once, in its own words, naming no claim, and its fits are cached: validate
    now says it on every run, with the claim, the masses the fit gives and the fix."""
    data = copy.deepcopy(CHAIN)
    data["claims"][1]["prior"] = {"quartiles": [0.5, 0.7, 0.75]}  # asymmetric: no Normal matches
    path = write_scenario(tmp_path, data)
    for _ in range(2):  # the second load reads the stored fit
        found = load_scenario(path).warnings()
        assert len(found) == 1 and found[0].startswith("claims[1] (id a_to_b).prior: a Normal cannot match these "
                                                       "quartiles: the nearest (Normal(")
        assert 'not 25%, 50%, 75%; give family = "SkewNormal" for asymmetric quartiles' in found[0]
    data["claims"][1]["prior"] = {"quartiles": [0.5, 0.7, 0.9]}
    assert load_scenario(write_scenario(tmp_path / "even", data)).warnings() == []


def test_a_setting_off_an_index_lever_s_scale_is_named_with_the_value_given(tmp_path) -> None:
    data = copy.deepcopy(CHAIN)
    data["nodes"]["L"]["display"] = {"kind": "index"}
    data["strategies"][0]["set"] = {"L": 40}
    data["strategies"][1]["set"] = {"L": [60, 120, 70, 70, 70]}
    result = CliRunner().invoke(cli, ["validate", str(write_scenario(tmp_path, data))])
    assert result.exit_code == 1 and "1 problem" in result.output
    assert ("strategies[1] (id hold_high).set.L: 120 is outside the node's index scale: values on it lie strictly "
            "between 0 and 100") in result.output


def test_validate_says_which_rows_fall_before_history_start_and_are_left_out(tmp_path) -> None:
    """A later history_start drops a series' early rows: validate names them, so a user who
    moved it by mistake sees what the model will not use."""
    scenario = {**CHAIN["scenario"], "history_start": 2002}
    path = _polled(tmp_path, [40, 42, 45, 43, 41], scenario=scenario)
    assert load_scenario(path).indicators["poll"].before_history == (2000, 2001)
    shown = CliRunner().invoke(cli, ["validate", str(path)])
    assert shown.exit_code == 0
    assert "3 years 2002-2004, values 41 to 45 %; 2 earlier rows (2000-2001) left out, before history_start 2002)" \
        in shown.output
    assert "left out" not in CliRunner().invoke(cli, ["validate", str(_polled(tmp_path / "all", [40, 42, 45]))]).output


def test_a_year_on_two_rows_is_refused_even_where_the_column_read_is_empty_on_one(tmp_path) -> None:
    """2016 typed for 2017 on a row whose cell in the column read is empty: that row is no gap
    but a second 2016, and 2017's values would be lost without a word."""
    path = _polled(tmp_path, [40, 42, 45])
    (tmp_path / "poll.csv").write_text("year,share,other,source\n2000,40,1,a poll\n2001,42,2,a poll\n"
                                       "2001,,3,a poll\n2002,45,4,a poll\n")
    with pytest.raises(ScenarioError, match="line 4: year 2001 appears twice \\(also line 3\\); keep one row per year"):
        load_scenario(path)


def test_validate_warns_of_a_capped_move_on_an_index_lever_no_indicator_measures_from_its_baseline(tmp_path) -> None:
    """The tester's case: up 150 points on an unmeasured index lever passed validate in silence;
    from its baseline (50) it passes 99 at once."""
    data = copy.deepcopy(CHAIN)
    del data["nodes"]["L"]["display"]
    data["strategies"][0]["set"], data["strategies"][1]["set"] = {"L": 20.0}, {"L": {"by": 150}}
    s = load_scenario(write_scenario(tmp_path, data))
    assert s.cap_warnings() == [
        "strategy hold_high: L up 150 points from the 2005 level would pass 99 in 2006 from about 50 (its baseline: "
        "no indicator measures L, so its 2005 level is uncertain): from that level it is held at 99 from 2006, a "
        "move of about +49 points instead of +150 (an index stays below 100); the run says in what share of its draws"]
    data["strategies"][1]["set"] = {"L": {"by": 30}}
    assert load_scenario(write_scenario(tmp_path, data)).cap_warnings() == []
    data["nodes"]["L"]["baseline"] = {"dist": "Normal", "mu": 1.0, "sigma": 0.5}  # its level about 73, not 50
    assert "from about 73.1 (its baseline" in load_scenario(write_scenario(tmp_path, data)).cap_warnings()[0]


@pytest.mark.parametrize(("setting", "words"), [
    ({"by": 3}, "up 3 percentage points from the 2005 level"),
    ({"to": 1.5}, "from the 2005 level to 1.5%"),
    (2.0, "to 2%"),
])
def test_a_setting_on_a_percent_lever_reads_in_percent_and_percentage_points(tmp_path, setting, words) -> None:
    """The tester's case: "up 3 % from the 2022 level" read as a relative 3%, and "to 1" had no unit."""
    data = copy.deepcopy(CHAIN)
    data["nodes"]["L"]["display"] = {"kind": "linear", "unit": "%"}
    data["strategies"][1]["set"] = {"L": setting}
    s = load_scenario(write_scenario(tmp_path, data))
    assert s.describe_setting("L", s.strategies[1].interventions["L"]) == words


def test_a_forecast_too_short_for_any_lever_to_act_is_warned_of(tmp_path) -> None:
    """The tester's case: horizon = start_year, and every claim from a lever acts a year later:
    every strategy forecast the same, and nothing said why."""
    data = copy.deepcopy(CHAIN)
    data["claims"][0]["lag"] = 1
    data["scenario"]["horizon"] = 2006
    for q in data["questions"]:
        q["year"] = 2006
    data["questions"][0]["reference_year"] = 2005
    s = load_scenario(write_scenario(tmp_path / "short", data))
    assert s.reach_warnings() == [
        "scenario.horizon: the forecast covers 2006, and the claims from the levers the strategies set act after 1 "
        "year at the soonest (their lags): every strategy forecasts every other node as the others do; set horizon "
        "to 2007 or later"]
    data["scenario"]["horizon"] = 2007
    assert load_scenario(write_scenario(tmp_path / "longer", data)).reach_warnings() == []


def test_a_question_year_outside_the_forecast_says_the_range_and_the_fix_once(tmp_path) -> None:
    data = copy.deepcopy(CHAIN)
    data["scenario"]["horizon"] = 2006
    with pytest.raises(ScenarioError) as found:
        load_scenario(write_scenario(tmp_path / "a", data))
    assert "questions[0] (id b_up).year: 2010 is not a forecast year; questions ask about 2006: give that year, " \
           "or move the horizon" in str(found.value)
    data["scenario"]["horizon"] = 2005  # before start_year: said once, with no question's year or list beside it
    data["strategies"][1]["set"] = {"L": [1.0, 2.0, 3.0]}
    with pytest.raises(ScenarioError) as found:
        load_scenario(write_scenario(tmp_path / "b", data))
    assert "history_start < start_year <= horizon" in str(found.value) and "questions ask about" not in str(found.value)
    assert "per forecast year" not in str(found.value)
    data["strategies"][1]["set"] = {"L": 1.0}
    data["scenario"]["horizon"] = 2010
    data["questions"][0]["reference_year"] = 1998
    with pytest.raises(ScenarioError) as found:
        load_scenario(write_scenario(tmp_path / "c", data))
    assert ("reference_year: 1998 is outside the scenario's years, 2000-2010; give a year in that range (the history "
            "starts in 2000: to compare with 1998, start it earlier)") in str(found.value)


def test_one_strategy_may_be_named_as_text(tmp_path) -> None:
    """A notebook's strategies="hold_high" was split into its letters: 10 unknown strategies."""
    from forecast.scenario.load import select_strategies

    s = load_scenario(write_scenario(tmp_path, copy.deepcopy(CHAIN)))
    assert [st.id for st in select_strategies(s, "hold_high").strategies] == ["hold_low", "hold_high"]
