"""Scored questions: the scores, each question's outcome, the resolutions file's bad rows,
the ledger and the command line.

The fast tests score run directories written by hand (a summary, a manifest and a small
results file: what ``forecast score`` reads), so nothing samples; one slow test scores a
sampled run end to end.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from forecast.cli import cli
from forecast.results.store import (
    MANIFEST,
    RESULTS,
    SUMMARY,
    Run,
    RunError,
    load_run,
    write_json,
)
from forecast.scenario.domain import file_sha256
from forecast.scoring import (
    Ledger,
    LedgerError,
    ResolutionError,
    ScoringError,
    default_ledger,
    score_run,
)
from forecast.scoring import ledger as ledgers
from forecast.scoring.resolutions import parse_value, question_rule, read_resolutions, subject_ranges
from forecast.scoring.scores import bin_index, bounded, brier, log_score, reliability

from .conftest import CHAIN, write_scenario

TODAY = date(2026, 12, 1)
DRAWS = (2, 50)  # chains x draws: 100 draws, so probabilities are bounded to [0.005, 0.995]

#: The observed data of the hand-written runs: trade, 2014-2019, with no observation in 2017.
TRADE = {2014: 60.0, 2015: 64.0, 2016: 70.0, 2017: math.nan, 2018: 75.0, 2019: 82.0}


def _question(qid: str, subject: str, kind: str, year: int, comparison: str, *, threshold=None,
              reference_year=None, change=0.0, p=(0.5, 0.5), resolution="") -> dict:
    op = "<" if comparison == "below" else ">"
    target = f"{threshold:g}" if threshold is not None else f"{subject}[{reference_year}]"
    return {"id": qid, "text": f"Is {subject} {comparison} {target} in {year}?", "subject": subject,
            "subject_kind": kind, "year": year, "comparison": comparison, "threshold": threshold,
            "reference_year": reference_year, "change": change, "rule": f"{subject}[{year}] {op} {target}",
            "resolution": resolution,
            "by_strategy": {"status_quo": {"probability": p[0], "mcse": 0.02},
                            "press": {"probability": p[1], "mcse": 0.03}}}


QUESTIONS = [
    _question("trade_low", "trade", "indicator", 2021, "below", threshold=240, p=(0.7, 0.2),
              resolution="The customs office's full-year 2021 figure"),
    _question("trade_up", "trade", "indicator", 2022, "above", reference_year=2019, change=10, p=(0.4, 0.6)),
    _question("trade_gap", "trade", "indicator", 2022, "above", reference_year=2017),  # 2017 not observed
    _question("trade_future", "trade", "indicator", 2023, "above", reference_year=2021),  # a forecast year
    _question("alliance_down", "alliance", "node", 2022, "below", reference_year=2019),
    _question("alliance_high", "alliance", "node", 2021, "above", threshold=55, p=(1.0, 0.0)),
]


def make_run(directory: Path, *, created: str = "2020-01-05T10:00:00+00:00", baseline: bool = True,
             questions: list[dict] | None = None) -> Path:
    """A run directory as ``forecast run`` writes it, with only what scoring reads."""
    directory.mkdir(parents=True)
    summary = {
        "scenario": {"name": "tiny", "history_start": 2014, "start_year": 2020, "horizon": 2023},
        "strategies": [{"id": "status_quo", "label": "Status quo", "baseline": baseline},
                       {"id": "press", "label": "Press", "baseline": False}],
        "questions": questions if questions is not None else QUESTIONS,
        # what load_run requires of every summary, which scoring does not read
        "nodes": {}, "trajectories": {}, "contrasts": {}, "claims": {}, "indicators": {}, "diagnostics": {},
    }
    chains, draws = DRAWS
    tree = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"effect": (("chain", "draw", "claim"), np.zeros((chains, draws, 1)))},
                                coords={"chain": range(chains), "draw": range(draws), "claim": ["c"]}),
        "observed_data": xr.Dataset({"indicator_value": (("year", "indicator"), np.array([[v] for v in TRADE.values()]))},
                                    coords={"year": list(TRADE), "indicator": ["trade"]}),
    })
    tree.to_netcdf(directory / RESULTS, engine="h5netcdf")
    write_json(directory / SUMMARY, summary)
    write_json(directory / MANIFEST, {
        "forecast_run": 1, "created": created, "scenario_name": "tiny", "inputs": {"scenario.toml": "ab" * 32},
        "command": ["forecast", "run", "tiny.toml", "--out", str(directory)],  # each run's manifest its own
        "files": {name: file_sha256(directory / name) for name in (RESULTS, SUMMARY)}})
    return directory


def resolutions(path: Path, *rows: str, header: str = "question,value,date,source") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


GOOD = ("trade_low,231.5,2022-01-20,https://example.org/customs-2021",
        "alliance_down,No,2023-02-01,Panel minutes 2023-02")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A folder of runs, as reports/ is: the ledger goes beside them."""
    return tmp_path / "reports"


# --- The scores ------------------------------------------------------------------------------


def test_brier_and_log_scores_match_hand_computed_values() -> None:
    assert brier(0.7, True) == pytest.approx(0.09)
    assert brier(0.7, False) == pytest.approx(0.49)
    assert brier(0.5, True) == brier(0.5, False) == 0.25
    assert log_score(0.7, True, draws=1000) == pytest.approx(0.356675, abs=1e-6)  # -ln 0.7
    assert log_score(0.7, False, draws=1000) == pytest.approx(1.203973, abs=1e-6)  # -ln 0.3
    assert log_score(0.5, True, draws=1000) == pytest.approx(math.log(2))


def test_a_probability_of_0_or_1_is_bounded_by_half_a_draw_for_the_log_score_only() -> None:
    assert bounded(1.0, 200) == 1 - 0.0025 and bounded(0.0, 200) == 0.0025 and bounded(0.3, 200) == 0.3
    assert log_score(1.0, False, draws=200) == pytest.approx(-math.log(0.0025))  # 5.99, not infinite
    assert log_score(0.0, True, draws=200) == pytest.approx(-math.log(0.0025))
    assert log_score(1.0, True, draws=200) == pytest.approx(-math.log(0.9975))
    assert brier(1.0, False) == 1.0  # the Brier score takes the probability as it is


# --- The outcome of each question under its rule ------------------------------------------------


RULES = {q["id"]: q for q in QUESTIONS}
OBSERVED = {("trade", y): v for y, v in TRADE.items() if not math.isnan(v)}


@pytest.mark.parametrize("qid, value, outcome", [
    ("alliance_down", "yes", True), ("alliance_down", "NO", False), ("trade_low", "yes", True),  # yes/no as given
    ("trade_low", "231.5", True), ("trade_low", "240", False), ("trade_low", "250", False),  # below 240, strictly
    ("alliance_high", "55.5", True), ("alliance_high", "55", False),  # a node's threshold, display scale
    ("trade_up", "92.5", True), ("trade_up", "92", False), ("trade_up", "91", False),  # above 2019's 82, plus 10
])
def test_the_outcome_follows_the_question_s_own_rule(qid: str, value: str, outcome: bool) -> None:
    assert question_rule(RULES[qid], OBSERVED).outcome(parse_value(value)) is outcome


@pytest.mark.parametrize("qid, why", [
    ("alliance_down", "the node alliance with its own 2019 level, a latent level that was never observed"),
    ("trade_gap", "trade with its 2017 level, which the run did not observe"),
    ("trade_future", "trade with its 2021 level, which the run did not observe"),
])
def test_a_number_is_refused_where_the_reference_level_was_not_observed(qid: str, why: str) -> None:
    rule = question_rule(RULES[qid], OBSERVED)
    assert rule.level is None
    with pytest.raises(ValueError, match=f"{why}; give yes or no"):
        rule.outcome(12.0)
    assert rule.outcome(True) is True


# --- Scoring a run ---------------------------------------------------------------------------


def test_scoring_appends_one_entry_per_question_with_what_an_analyst_needs(runs: Path, tmp_path: Path) -> None:
    run = make_run(runs / "tiny-a")
    scored = score_run(run, resolutions(tmp_path / "r.csv", *GOOD), today=TODAY)
    assert scored.strategy == "status_quo" and scored.ledger.path == runs / "ledger.jsonl" == default_ledger(run)
    lines = [json.loads(x) for x in (runs / "ledger.jsonl").read_text().splitlines()]
    assert [e["question"]["id"] for e in lines] == ["trade_low", "alliance_down"]
    trade, alliance = lines
    assert trade["run"] == {"path": str(run.resolve()), "created": "2020-01-05T10:00:00+00:00", "scenario": "tiny",
                            "manifest_sha256": file_sha256(run / MANIFEST), "inputs": {"scenario.toml": "ab" * 32},
                            "draws": 100}
    assert trade["question"] == {"id": "trade_low", "text": "Is trade below 240 in 2021?",
                                 "resolution": "The customs office's full-year 2021 figure",
                                 "rule": "trade[2021] < 240", "year": 2021}
    assert (trade["strategy"], trade["baseline"], trade["probability"], trade["mcse"]) == ("status_quo", True, 0.7, 0.02)
    assert (trade["outcome"], trade["resolved_value"], trade["resolution_date"], trade["source"]) == \
        (True, 231.5, "2022-01-20", "https://example.org/customs-2021")
    assert trade["brier"] == pytest.approx(0.09) and trade["log_score"] == pytest.approx(-math.log(0.7), abs=1e-6)
    assert trade["resolutions"] == {"file": str((tmp_path / "r.csv").resolve()), "row": 2}
    assert (alliance["outcome"], alliance["resolved_value"], alliance["brier"]) == (False, "no", 0.25)


def test_the_enacted_strategy_is_the_baseline_unless_named(runs: Path, tmp_path: Path) -> None:
    csv = resolutions(tmp_path / "r.csv", "trade_low,yes,2022-01-20,src", "alliance_high,no,2022-01-20,src")
    scored = score_run(make_run(runs / "a"), csv, enacted="press", today=TODAY)
    trade, alliance = scored.entries
    assert (trade["strategy"], trade["baseline"], trade["probability"]) == ("press", False, 0.2)
    assert alliance["probability"] == 0.0 and alliance["log_score"] == pytest.approx(-math.log(0.995), abs=1e-6)
    with pytest.raises(ScoringError, match="no strategy 'nope' in the run; known: status_quo, press"):
        score_run(make_run(runs / "b"), csv, enacted="nope", today=TODAY)
    with pytest.raises(ScoringError, match="no baseline strategy: say which was enacted with --enacted, one of: "
                                           "status_quo, press"):
        score_run(make_run(runs / "c", baseline=False), csv, today=TODAY)
    assert len(Ledger.read(runs / "ledger.jsonl").entries) == 2, "refusals wrote nothing"


def test_appending_twice_accumulates_and_each_question_is_followed_over_time(runs: Path, tmp_path: Path) -> None:
    csv = resolutions(tmp_path / "r.csv", *GOOD)
    later = make_run(runs / "tiny-b", created="2021-01-05T10:00:00+00:00")
    score_run(later, csv, today=TODAY)
    first = (runs / "ledger.jsonl").read_bytes()
    score_run(make_run(runs / "tiny-a"), csv, today=TODAY)
    now = (runs / "ledger.jsonl").read_bytes()
    assert now.startswith(first) and len(now.splitlines()) == 4, "appended, the old lines kept byte for byte"
    book = Ledger.read(runs / "ledger.jsonl")
    history = book.by_question()
    assert list(history) == ["trade_low", "alliance_down"]
    assert [e["run"]["created"][:4] for e in history["trade_low"]] == ["2020", "2021"], "by the run's creation"
    frame = book.frame()
    assert len(frame) == 4 and set(frame["question"]) == {"trade_low", "alliance_down"}


def test_a_failed_write_leaves_the_ledger_as_it_was(runs: Path, tmp_path: Path, monkeypatch) -> None:
    csv = resolutions(tmp_path / "r.csv", *GOOD)
    score_run(make_run(runs / "a"), csv, today=TODAY)
    before = (runs / "ledger.jsonl").read_bytes()

    def fail(*args):
        raise OSError("disk full")

    with pytest.raises(LedgerError, match="changed while scoring"):  # since it was read and checked
        ledgers.append(runs / "ledger.jsonl", [json.loads(before.splitlines()[0])], expected=before[:-1])
    out_of_range = json.loads(before.splitlines()[0]) | {"probability": 2.0}  # a tester's edited and rehashed run
    with pytest.raises(LedgerError, match=r"the new scores are not ledger entries \(probability: .*nothing was written"):
        ledgers.append(runs / "ledger.jsonl", [out_of_range])
    assert (runs / "ledger.jsonl").read_bytes() == before
    monkeypatch.setattr(ledgers.os, "replace", fail)
    with pytest.raises(LedgerError, match="cannot write the ledger .*ledger.jsonl: disk full; nothing was written"):
        score_run(make_run(runs / "b"), csv, today=TODAY)
    assert (runs / "ledger.jsonl").read_bytes() == before
    assert not [p for p in runs.iterdir() if p.name.endswith(".partial")], "the new file is removed"


def test_a_file_that_is_no_ledger_is_named_so_not_edited(tmp_path: Path) -> None:
    """A scenario file or a run's summary.json given as --ledger: its line 1 is not to be removed."""
    path = tmp_path / "article.toml"
    path.write_text('[scenario]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(LedgerError, match=r"article.toml, line 1: not JSON .*so this is not a ledger .*give the path "
                                          "of one"):
        Ledger.read(path)
    (tmp_path / "afile").write_text("")
    with pytest.raises(LedgerError, match="afile is a file, not a folder; give another --ledger"):
        ledgers.append(tmp_path / "afile" / "x.jsonl", [{"any": "entry"}])


def test_a_ledger_line_that_is_not_an_entry_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"ledger": 1}\n', encoding="utf-8")
    with pytest.raises(LedgerError, match="ledger.jsonl, line 1: not a ledger entry"):
        Ledger.read(path)
    path.write_text("\n{not json\n", encoding="utf-8")
    with pytest.raises(LedgerError, match="line 2: not JSON"):
        Ledger.read(path)


def test_a_modified_run_is_refused(runs: Path, tmp_path: Path) -> None:
    run = make_run(runs / "a")
    (run / SUMMARY).write_text((run / SUMMARY).read_text().replace("0.7", "0.9"))
    with pytest.raises(RunError, match="modified after the run"):
        score_run(run, resolutions(tmp_path / "r.csv", *GOOD), today=TODAY)
    assert not (runs / "ledger.jsonl").exists()


# --- Bad rows: every one named with its row, nothing written ---------------------------------


BAD_ROWS = [
    ("nope,yes,2022-01-20,src", "row 4: unknown question 'nope'. The run's questions: trade_low, trade_up"),
    ("trade_lo,yes,2022-01-20,src", "row 4: unknown question 'trade_lo'. Did you mean 'trade_low'?"),
    ("trade_up,lots,2023-01-20,src", "row 4: value 'lots' is neither yes/no nor a number"),
    ("trade_up,,2023-01-20,src", "row 4: no value: give yes, no or the number observed"),
    ("trade_up,inf,2023-01-20,src", "row 4: value 'inf' is not a finite number"),
    ("alliance_down,0.4,2023-01-20,src",
     "row 4: question 'alliance_down' cannot be resolved by a number: it compares the node alliance with its own 2019"),
    ("trade_low,yes,2022-02-01,src", "row 4: question 'trade_low' is already resolved in row 2; give one row per"),
    ("trade_up,yes,2023-13-01,src", "row 4: date '2023-13-01' is not a date as YYYY-MM-DD"),
    ("trade_up,yes,01/02/2023,src", "row 4: date '01/02/2023' is not a date as YYYY-MM-DD"),
    ("trade_up,yes,2021-06-30,src", "row 4: date 2021-06-30 is before 2022, the year question 'trade_up' asks about"),
    ("trade_up,yes,2027-01-20,src", "row 4: date 2027-01-20 is after today (2026-12-01)"),
    ("trade_up,yes,2023-01-20,", "row 4: no source: every row names where its value comes from"),
    ("trade_up,yes,2023-01-20,  ", "row 4: no source"),
]


@pytest.fixture(scope="module")
def run_and_ledger(tmp_path_factory) -> tuple[Run, bytes]:
    """A run to score (loaded once), and a ledger in which another run was scored."""
    root = tmp_path_factory.mktemp("bad-rows")
    earlier = make_run(root / "reports" / "earlier", created="2019-12-01T10:00:00+00:00")
    score_run(earlier, resolutions(root / "first.csv", *GOOD), today=TODAY)
    return load_run(make_run(root / "reports" / "a")), (root / "reports" / "ledger.jsonl").read_bytes()


@pytest.mark.parametrize("row, message", BAD_ROWS, ids=[m.split(": ", 1)[1][:40] for _, m in BAD_ROWS])
def test_a_bad_row_is_named_with_its_row_number_and_the_ledger_is_untouched(
        run_and_ledger, tmp_path: Path, row: str, message: str) -> None:
    run, before = run_and_ledger
    (tmp_path / "ledger.jsonl").write_bytes(before)
    bad = resolutions(tmp_path / "bad.csv", GOOD[0], "alliance_high,yes,2022-02-01,src", row)
    with pytest.raises(ResolutionError) as info:
        score_run(run, bad, ledger=tmp_path / "ledger.jsonl", today=TODAY)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{bad}: 1 problem; nothing was scored")
    assert (tmp_path / "ledger.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "ledger.jsonl"], "no file left behind"


def test_a_question_already_scored_for_this_run_is_refused(runs: Path, tmp_path: Path) -> None:
    run = make_run(runs / "a")
    score_run(run, resolutions(tmp_path / "first.csv", *GOOD), today=TODAY)
    before = (runs / "ledger.jsonl").read_bytes()
    again = resolutions(tmp_path / "again.csv", "trade_up,yes,2023-01-20,src", GOOD[1])
    with pytest.raises(ResolutionError, match=r"row 3: question 'alliance_down' was already scored for this run "
                                              r"\(ledger line 2, scored "):
        score_run(run, again, today=TODAY)
    assert (runs / "ledger.jsonl").read_bytes() == before


@pytest.mark.parametrize("header, row, message", [
    ("question,value,date", "trade_low,231.5,2022-01-20",
     "row 1: missing column 'source'; the columns are question,value,date,source"),
    ("question,value,date,sources", GOOD[0], "row 1: unknown column 'sources'. Did you mean 'source'?"),
    ("question,value,value,date,source", GOOD[0] + ",x",
     r"line 1 \(the header\): column 'value' appears twice; give each column its own name; nothing was scored"),
])
def test_a_bad_header_is_refused_whole(run_and_ledger, tmp_path: Path, header: str, row: str, message: str) -> None:
    with pytest.raises(ScoringError, match=message):
        score_run(run_and_ledger[0], resolutions(tmp_path / "r.csv", row, header=header),
                  ledger=tmp_path / "ledger.jsonl", today=TODAY)
    assert not (tmp_path / "ledger.jsonl").exists()


def test_every_bad_row_is_listed_at_once_and_good_rows_in_any_column_order_are_read(
        runs: Path, tmp_path: Path) -> None:
    run = make_run(runs / "a")
    bad = resolutions(tmp_path / "r.csv", "nope,yes,,src", "", "trade_low,yes,2022-01-20,")
    with pytest.raises(ResolutionError) as info:
        score_run(run, bad, today=TODAY)
    assert [(p.row, p.message[:20]) for p in info.value.problems] == [
        (2, "unknown question 'no"), (2, "date '' is not a dat"), (4, "no source: every row")]  # row 3: blank
    reordered = resolutions(tmp_path / "s.csv", "Panel minutes,2023-02-01,alliance_down,yes",
                            header="source,date,question,value")
    assert score_run(run, reordered, today=TODAY).entries[0]["outcome"] is True
    empty = resolutions(tmp_path / "e.csv")
    with pytest.raises(ResolutionError, match="no resolutions below the header"):
        score_run(run, empty, today=TODAY)


# --- The reliability table --------------------------------------------------------------------


def test_a_probability_falls_in_the_bin_it_opens() -> None:
    assert [bin_index(p) for p in (0.0, 0.0999, 0.1, 0.1 * 3, 0.7, 0.95, 1.0)] == [0, 0, 1, 3, 7, 9, 9]


def test_the_reliability_table_bins_forecasts_by_their_probability() -> None:
    probabilities = [0.05, 0.08, 0.15, 0.72, 0.78, 0.74, 1.0, 0.95]
    outcomes = [False, True, False, True, True, False, True, True]
    table = reliability(probabilities, outcomes, [log_score(p, o, 100) for p, o in zip(probabilities, outcomes)])
    assert [b.count for b in table.bins] == [2, 1, 0, 0, 0, 0, 0, 3, 0, 2]
    first, second, _, *_, seventh, _, last = table.bins
    assert (first.low, first.high, first.mean_forecast, first.observed_frequency) == (0.0, 0.1, 0.065, 0.5)
    assert (second.mean_forecast, second.observed_frequency) == (0.15, 0.0)
    assert seventh.mean_forecast == pytest.approx(0.74666667) and seventh.observed_frequency == pytest.approx(2 / 3)
    assert (last.low, last.high, last.mean_forecast, last.observed_frequency) == (0.9, 1.0, 0.975, 1.0)
    assert table.bins[3].mean_forecast is None and table.bins[3].observed_frequency is None
    assert table.count == 8
    assert table.brier == pytest.approx(np.mean([(p - o) ** 2 for p, o in zip(probabilities, outcomes)]))


def test_the_ledger_shows_the_reliability_table_from_ten_scored_forecasts(runs: Path, tmp_path: Path) -> None:
    csv = resolutions(tmp_path / "r.csv", *GOOD)
    for k in range(5):
        score_run(make_run(runs / f"run-{k}", created=f"2020-0{k + 1}-05T10:00:00+00:00"), csv, today=TODAY)
        book = Ledger.read(runs / "ledger.jsonl")
        assert (book.reliability() is None) == (k < 4), "from 10 scored forecasts on"
    shown = CliRunner().invoke(cli, ["ledger", str(runs / "ledger.jsonl")])
    assert shown.exit_code == 0, shown.output
    assert "10 scored forecasts of 2 questions" in shown.output
    assert "  2020-02-05T10:00:00+00:00  run-1  status_quo    0.50 ± 0.020  no " in shown.output  # each run's line
    assert "reliability (10 scored forecasts, binned by their probability)" in shown.output
    assert "  0.5-0.6        5           0.50                0.00" in shown.output  # alliance_down: 0.5, no
    assert "  0.7-0.8        5           0.70                1.00" in shown.output  # trade_low: 0.7, yes
    assert "mean Brier score 0.170" in shown.output  # (0.09 + 0.25) / 2


# --- The command line --------------------------------------------------------------------------


def test_forecast_score_prints_the_scores_and_the_ledger(runs: Path, tmp_path: Path) -> None:
    run = make_run(runs / "a")
    result = CliRunner().invoke(cli, ["score", str(run), str(resolutions(tmp_path / "r.csv", *GOOD))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "enacted strategy: status_quo (the baseline)" in out
    assert "trade_low      status_quo    0.70 ± 0.020  yes       0.090   0.357" in out
    assert "resolved    231.5 (yes) on 2022-01-20 (https://example.org/customs-2021)" in out
    assert "resolution  The customs office's full-year 2021 figure" in out
    assert "reliability: 2 scored forecasts; the table needs at least 10" in out
    other = tmp_path / "mine.jsonl"
    result = CliRunner().invoke(cli, ["score", str(run), str(resolutions(tmp_path / "s.csv", GOOD[0])),
                                      "--enacted", "press", "--ledger", str(other)])
    assert result.exit_code == 0, result.output
    assert json.loads(other.read_text())["strategy"] == "press"
    assert f"1 question scored; ledger: {other} (1 scored forecast)" in result.output


@pytest.mark.parametrize("args, message", [
    (["--enacted", "nope"], "error: no strategy 'nope' in the run; known: status_quo, press"),
    (["--ledger", "missing-folder/ledger.jsonl"], "does not exist; create it or give another --ledger"),
])
def test_forecast_score_refuses_with_exit_1_and_writes_nothing(runs: Path, tmp_path: Path, args, message) -> None:
    run = make_run(runs / "a")
    args = [a if not a.startswith("missing") else str(tmp_path / a) for a in args]
    result = CliRunner().invoke(cli, ["score", str(run), str(resolutions(tmp_path / "r.csv", *GOOD)), *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert not (runs / "ledger.jsonl").exists()


def test_forecast_score_names_the_bad_row_and_exits_1(runs: Path, tmp_path: Path) -> None:
    bad = resolutions(tmp_path / "r.csv", GOOD[0], "trade_up,yes,someday,src")
    result = CliRunner().invoke(cli, ["score", str(make_run(runs / "a")), str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {bad}: 1 problem; nothing was scored\n  - row 3: date 'someday' is not a date" in result.output
    assert not (runs / "ledger.jsonl").exists()


def test_forecast_ledger_without_a_ledger_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ledger", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1 and "no such ledger" in result.output
    assert "writes one beside the run, ledger.jsonl in the folder that holds RUN_DIR" in result.output


def test_forecast_ledger_reads_where_forecast_score_writes(tmp_path: Path, monkeypatch) -> None:
    """The tester's case: `forecast score runs/a ...` wrote runs/ledger.jsonl, and `forecast
    ledger` looked in reports/ only. Both go by the folder that holds the run: given the run, its
    folder or the file, the ledger reads what score wrote; with nothing it reads the default
    folder of runs' (reports/ledger.jsonl), and when that has none it names the ledgers nearby."""
    monkeypatch.chdir(tmp_path)
    csv = resolutions(tmp_path / "r.csv", *GOOD)
    make_run(tmp_path / "runs" / "a")
    assert CliRunner().invoke(cli, ["score", "runs/a", str(csv)]).exit_code == 0
    for where in ("runs/a", "runs", "runs/ledger.jsonl"):
        shown = CliRunner().invoke(cli, ["ledger", where])
        assert shown.exit_code == 0 and "2 scored forecasts of 2 questions" in shown.output, (where, shown.output)
    missing = CliRunner().invoke(cli, ["ledger"])
    assert missing.exit_code == 1
    assert missing.output.startswith(f"error: {Path('reports') / 'ledger.jsonl'}: no such ledger; `forecast score")
    assert f"found {Path('runs') / 'ledger.jsonl'}: `forecast ledger runs`" in missing.output
    make_run(tmp_path / "reports" / "b")
    assert CliRunner().invoke(cli, ["score", "reports/b", str(csv)]).exit_code == 0
    shown = CliRunner().invoke(cli, ["ledger"])
    assert shown.exit_code == 0 and f"ledger {Path('reports') / 'ledger.jsonl'}: 2 scored" in shown.output


def test_a_broken_ledger_is_named_without_pointing_to_other_ledgers(tmp_path: Path, monkeypatch) -> None:
    """Other ledgers nearby are a hint only when there is no ledger where the user looked: beside
    a ledger that exists but is broken they would send the user away from the file to fix."""
    monkeypatch.chdir(tmp_path)
    csv = resolutions(tmp_path / "r.csv", *GOOD)
    make_run(tmp_path / "runs" / "a")
    assert CliRunner().invoke(cli, ["score", "runs/a", str(csv)]).exit_code == 0
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "ledger.jsonl").write_text("not json\n")
    result = CliRunner().invoke(cli, ["ledger"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 1" in result.output and "found" not in result.output


def test_forecast_score_without_the_resolutions_file_exits_1(runs: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["score", str(make_run(runs / "a")), str(tmp_path / "none.csv")])
    assert result.exit_code == 1
    assert f"error: {tmp_path / 'none.csv'}: no such file; give the path of a resolutions CSV file" in result.output
    assert not (runs / "ledger.jsonl").exists()


@pytest.mark.slow
def test_a_sampled_run_is_scored_end_to_end(tmp_path: Path) -> None:
    """`forecast run` on the chain scenario, then `forecast score` and `forecast ledger`: the
    scores are those of the run's own probabilities, from all of its draws."""
    scenario = dict(CHAIN, questions=[{**q, "resolution": f"Table {k} of the yearbook"}
                                      for k, q in enumerate(CHAIN["questions"], start=1)])
    path = write_scenario(tmp_path, scenario)
    run = tmp_path / "reports" / "chain"
    made = CliRunner().invoke(cli, ["run", str(path), "--draws", "60", "--tune", "60", "--chains", "2", "-q",
                                    "--no-report", "--out", str(run)])
    assert made.exit_code == 0, made.output
    summary = json.loads((run / SUMMARY).read_text())
    assert [q["resolution"] for q in summary["questions"]] == ["Table 1 of the yearbook", "Table 2 of the yearbook"]
    csv = resolutions(tmp_path / "resolved.csv", "b_up,yes,2011-02-01,https://example.org/b-2010",
                      "c_high,48.5,2009-03-01,Yearbook 2009 table 2")
    scored = CliRunner().invoke(cli, ["score", str(run), str(csv), "--enacted", "hold_high"])
    assert scored.exit_code == 0, scored.output
    entries = [json.loads(x) for x in (tmp_path / "reports" / "ledger.jsonl").read_text().splitlines()]
    p = {q["id"]: q["by_strategy"]["hold_high"]["probability"] for q in summary["questions"]}
    b_up, c_high = entries
    assert b_up["run"]["draws"] == 120 and b_up["strategy"] == "hold_high"
    assert (b_up["outcome"], c_high["outcome"]) == (True, False)  # 48.5 is not above 50
    assert b_up["brier"] == pytest.approx((p["b_up"] - 1) ** 2, abs=1e-6)
    assert c_high["log_score"] == pytest.approx(-math.log(1 - min(max(p["c_high"], 0.5 / 120), 1 - 0.5 / 120)),
                                                abs=1e-6)
    assert f"{p['b_up']:.2f} ± " in scored.output and "resolution  Table 1 of the yearbook" in scored.output
    shown = CliRunner().invoke(cli, ["ledger", str(tmp_path / "reports" / "ledger.jsonl")])
    assert shown.exit_code == 0 and "2 scored forecasts of 2 questions" in shown.output
    again = CliRunner().invoke(cli, ["score", str(run), str(csv), "--enacted", "hold_high"])
    assert again.exit_code == 1 and "already scored for this run" in again.output


def test_a_number_its_subject_cannot_take_is_refused(tmp_path: Path) -> None:
    """An index beyond 0-100, a percentage of 150, a negative value on a log scale."""
    ranges = subject_ranges({"nodes": {"alliance": {"unit": "index 0-100"}},
                             "indicators": {"trade": {"transform": "log"}}})
    questions = {q["id"]: q for q in QUESTIONS}
    observed = {("trade", year): value for year, value in TRADE.items()}
    bad = resolutions(tmp_path / "bad.csv", "alliance_high,150,2022-02-01,src", "trade_low,-3,2022-01-20,src")
    with pytest.raises(ResolutionError) as info:
        read_resolutions(bad, questions, observed, today=TODAY, ranges=ranges)
    assert "row 2: value 150 is outside what alliance can be (an index from 0 to 100)" in str(info.value)
    assert "row 3: value -3 is outside what trade can be (a positive number" in str(info.value)
    good = resolutions(tmp_path / "good.csv", "alliance_high,100,2022-02-01,src", "trade_low,231.5,2022-01-20,src")
    assert len(read_resolutions(good, questions, observed, today=TODAY, ranges=ranges)) == 2
    percent = subject_ranges({"indicators": {"poll": {"transform": "logit_percent"}}})["poll"]
    assert percent.holds(99.5) and not percent.holds(100.0) and not percent.holds(150.0)
