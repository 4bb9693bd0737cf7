"""The files ``forecast score`` and ``forecast ledger`` read are read as every file a user
gives is: a resolutions CSV as the scenario's data files are (the same size limits,
encodings, separators and exact numbers), a ledger's lines as a run's JSON is (the same
guards), each entry with strict kinds. Every refusal names the file, the line or row, and the
fix, and exits 1 through the command line; nothing is scored from a refused file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from forecast.cli import cli
from forecast.scoring import Ledger, LedgerError, ResolutionError, ScoringError, score_run

from .test_scoring import GOOD, TODAY, make_run, resolutions

# --- Resolutions: read by the scenario's table reader ----------------------------------------


def _refused(run: Path, path: Path, message: str, error: type[Exception] = ScoringError) -> None:
    with pytest.raises(error) as info:
        score_run(run, path, today=TODAY)
    assert message in str(info.value)
    assert not (run.parent / "ledger.jsonl").exists(), "nothing was scored"


def test_a_cell_beyond_the_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    """A cell of more than 128 KiB (an unclosed quote swallowing the file, say) was a `_csv.Error`."""
    run = make_run(tmp_path / "reports" / "a")
    bad = resolutions(tmp_path / "r.csv", GOOD[0], f"trade_up,yes,2023-01-20,{'x' * 200_000}")
    _refused(run, bad, "r.csv line 3: a cell of more than the limit of 10000 characters (an unclosed quote?); "
                       "check the quotes on that line; nothing was scored")


def test_a_pipe_is_refused_without_waiting_for_it(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports" / "a")
    os.mkfifo(tmp_path / "r.csv")
    _refused(run, tmp_path / "r.csv", "r.csv: is not a regular file (a device, pipe or socket); give the path of a "
                                      "resolutions CSV file")


def test_a_file_beyond_the_size_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    from forecast.scenario import data

    run = make_run(tmp_path / "reports" / "a")
    monkeypatch.setattr(data, "MAX_DATA_BYTES", 50)
    _refused(run, resolutions(tmp_path / "r.csv", *GOOD), "bytes, more than the limit of 50 bytes for a resolutions")


def test_digits_other_than_0_to_9_are_not_read_as_a_number(tmp_path: Path) -> None:
    """Python's float() reads the full-width ２３１ as 231; no spreadsheet writes a number so."""
    run = make_run(tmp_path / "reports" / "a")
    bad = resolutions(tmp_path / "r.csv", "trade_low,２３１,2022-01-20,customs")
    _refused(run, bad, "row 2: value '２３１' is not a number as written: write it with the digits 0-9",
             ResolutionError)


def test_a_nul_byte_never_reaches_the_ledger(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports" / "a")
    bad = tmp_path / "r.csv"
    bad.write_bytes(b"question,value,date,source\ntrade_low,231.5,2022-01-20,cust\x00oms\n")
    _refused(run, bad, "r.csv: is not a text file (line 2 holds a NUL byte: binary data?)")


def test_a_semicolon_separated_export_with_decimal_commas_is_read_as_written(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports" / "a")
    excel = tmp_path / "r.csv"
    excel.write_bytes("\ufeffquestion;value;date;source\r\ntrade_low;231,5;2022-01-20;customs, table 4\r\n"
                      .encode("utf-8"))
    entry = score_run(run, excel, today=TODAY).entries[0]
    assert entry["resolved_value"] == 231.5 and entry["source"] == "customs, table 4"


def test_a_row_with_a_field_too_many_is_refused_with_its_line_as_a_data_row_is(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports" / "a")
    bad = resolutions(tmp_path / "r.csv", GOOD[0], "trade_up,228,4,2023-01-20,src")
    _refused(run, bad, "r.csv line 3 has 5 fields where the header has 4 (question, value, date, source); a decimal "
                       "comma splits a number in two")


def test_an_empty_resolutions_file_says_what_it_should_hold(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports" / "a")
    (tmp_path / "r.csv").write_text("")
    _refused(run, tmp_path / "r.csv", "r.csv is empty; a resolutions file has the header question,value,date,source "
                                      "and a row per resolved question")


# --- The ledger: each line read as a run's JSON, each entry strictly -------------------------


def _entry(**changes) -> dict:
    entry = {"ledger": 1, "scored": "2026-01-01T00:00:00+00:00", "run": {"path": "/r", "created": "2025"},
             "question": {"id": "q", "text": "Q?"}, "strategy": "s", "probability": 0.7, "outcome": True,
             "resolved_value": "yes", "brier": 0.09, "log_score": 0.36}
    return entry | changes


def _ledger(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("line, message", [
    ("[" * 100_000 + "]" * 100_000, "line 2: not a ledger entry (nested too deeply"),
    ('{"ledger": ' + "9" * 5000 + "}", "line 2: not a ledger entry (a whole number of 5000 digits, more than the "
                                       "limit of 30)"),
    (json.dumps(_entry()).replace("0.7", "NaN"), "line 2: not a ledger entry (NaN is not a number JSON allows)"),
    (json.dumps(_entry()).replace("0.7", "1e999"), "line 2: not a ledger entry (1e999 is too large for a number)"),
    (json.dumps(_entry(ledger=True)), "line 2: not a ledger entry (ledger: true is a boolean; it should be a whole "
                                      "number)"),
    (json.dumps(_entry(probability="0.7")), "probability: \"0.7\" is text; it should be a number"),
    (json.dumps(_entry(probability=1.5)), "probability: 1.5 is a number; it should be at most 1.0"),
    (json.dumps(_entry(outcome="yes")), "outcome: \"yes\" is text; it should be true or false"),
    (json.dumps(_entry(run=None)), "run: null; it should be an object { ... }"),
    ("[1, 2]", "line 2: not a ledger entry ([1, 2] is a list; an entry is a JSON object { ... })"),
    # a tester's: 0.90 was shown beside the Brier score of 0.35, and a 300-digit log score averaged in
    (json.dumps(_entry()).replace('"probability": 0.7', '"probability": 0.35, "probability": 0.9'),
     "line 2: not a ledger entry (the key 'probability' is given twice in one object)"),
    (json.dumps(_entry(log_score=1e308)), "log_score: 1e+308 is a number; it should be at most 100.0"),
    (json.dumps(_entry(mcse=-0.01)), "mcse: -0.01 is a number; it should be at least 0.0"),
    (json.dumps(_entry(run={"path": "/r", "draws": 0})), "run.draws: 0 is a whole number; it should be at least 1"),
    ("{not json", "line 2: not JSON (Expecting property name enclosed in double quotes at column 2)"),
])
def test_a_line_that_is_not_an_entry_is_named_with_what_is_wrong(tmp_path: Path, line: str, message: str) -> None:
    path = _ledger(tmp_path, json.dumps(_entry()), line)
    with pytest.raises(LedgerError) as info:
        Ledger.read(path)
    assert str(info.value).startswith(f"{path}, line 2: ")
    assert message in str(info.value)
    assert str(info.value).endswith("restore the line or remove it")


def test_a_whole_ledger_of_entries_is_read(tmp_path: Path) -> None:
    book = Ledger.read(_ledger(tmp_path, json.dumps(_entry()), "", json.dumps(_entry(resolved_value=231.5))))
    assert [e["line"] for e in book.entries] == [1, 3]


def test_a_pipe_given_as_a_ledger_is_refused_without_waiting_for_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "ledger.jsonl")
    with pytest.raises(LedgerError, match=r"is not a regular file \(a device, pipe or socket\); give the path of a "
                                          r"ledger"):
        Ledger.read(tmp_path / "ledger.jsonl")


def test_a_ledger_beyond_the_size_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    from forecast.scoring import ledger

    monkeypatch.setattr(ledger, "MAX_LEDGER_BYTES", 100)
    with pytest.raises(LedgerError, match="bytes, more than the limit of 100 bytes for a ledger"):
        Ledger.read(_ledger(tmp_path, json.dumps(_entry())))


# --- Through the command line: folders and unreadable files are the loaders' to refuse --------


def _says(args: list[str], message: str) -> None:
    """``forecast ARGS`` exits 1 (a bad input file, as the README says) with the loader's
    message and fix: not click's usage error (exit 2) with no fix."""
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert "Traceback" not in result.output and message in result.output, result.output


def test_a_folder_given_for_a_file_is_refused_by_its_loader_with_exit_1(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports" / "a")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    _says(["validate", str(folder)], "is a folder, not a file; give the path of a scenario .toml file")
    _says(["score", str(run), str(folder)], "is a folder, not a file; give the path of a resolutions CSV file")
    _says(["score", str(run), str(resolutions(tmp_path / "r.csv", *GOOD)), "--ledger", str(folder)],
          "is a folder, not a file; give the path of a ledger")
    _says(["ledger", str(folder)], f"{folder / 'ledger.jsonl'}: no such ledger")  # a folder of runs: its ledger
    _says(["report", str(resolutions(tmp_path / "r.csv", *GOOD))], "is a file, not a run directory")


def test_an_unreadable_file_is_refused_by_its_loader_with_exit_1(tmp_path: Path, monkeypatch) -> None:
    """Permission denied as an unprivileged user meets it: click's check (os.access) would
    exit 2 first, so it says no as well; the loader's read is refused by the file system call."""
    run = make_run(tmp_path / "reports" / "a")
    csv_file = resolutions(tmp_path / "r.csv", *GOOD)
    scenario = tmp_path / "s.toml"
    scenario.write_text("")
    ledger = tmp_path / "l.jsonl"
    ledger.write_text("")
    opened = Path.open

    def denied(self, *args, **kwargs):
        if self in (csv_file, scenario, ledger):
            raise PermissionError(13, "Permission denied", str(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    monkeypatch.setattr(Path, "open", denied)
    fix = "cannot be read: permission denied; give yourself read access (chmod u+r)"
    _says(["validate", str(scenario)], fix)
    _says(["score", str(run), str(csv_file)], fix)
    _says(["ledger", str(ledger)], fix)


def test_a_value_whose_comma_may_separate_thousands_is_refused_with_both_readings(tmp_path: Path) -> None:
    """"1,234" in a file with decimal points: the fix "write 1.234" would turn 1234 into about
    1 and flip the question's answer; both readings are given, and the writer chooses."""
    from forecast.scoring.resolutions import parse_value

    with pytest.raises(ValueError, match=r"value '1,234' reads as 1234 if the comma separates thousands, or as 1.234 "
                                         r"if it is a decimal mark; write 1234 or 1.234"):
        parse_value("1,234")
    with pytest.raises(ValueError, match=r"value '231,5': this file's numbers use a decimal point; write 231.5"):
        parse_value("231,5")
    with pytest.raises(ValueError, match=r"value '0,500': this file's numbers use a decimal point; write 0.500"):
        parse_value("0,500")  # no thousands start with 0
