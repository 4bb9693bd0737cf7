"""Every file the command line reads gets a clear message and exit 1 when it cannot be used,
never a traceback: each broken file in tests/broken/ with its own expected message, and the
cases a repository cannot hold (folders, pipes, permissions, limits) made here.

A broken scenario file says what it expects on its first line (``# expect: ...``); the few
that cannot (an empty file, a UTF-16 one) are listed in :data:`NO_FIRST_LINE`. Fragments
separated by " … " must appear in that order (what lies between is a path on this machine).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from forecast.cli import cli
from forecast.scenario import ScenarioError, load_scenario

from .conftest import CHAIN, ROOT, write_scenario

BROKEN = ROOT / "tests" / "broken"
SCENARIOS = sorted(BROKEN.glob("*.toml"))
RUNS = BROKEN / "runs"

#: Broken files whose first line cannot carry their expected message.
NO_FIRST_LINE = {
    "empty.toml": "the file is empty; a scenario declares [scenario], its [nodes.ID], [[claims]], [[strategies]] "
                  "and [[questions]] (see priors/README.md)",
    "utf16.toml": 'is UTF-16 text; save it as UTF-8 (in a spreadsheet: "CSV UTF-8"; in an editor: encoding UTF-8) '
                  "to use it as a scenario .toml file",
}


def expected_message(path: Path) -> str:
    if path.name in NO_FIRST_LINE:
        return NO_FIRST_LINE[path.name]
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name} says nothing of what it expects"
    return first.removeprefix("# expect: ")


def assert_says(message: str, expected: str) -> None:
    """``expected``'s fragments (split at " … ") appear in ``message`` in order."""
    at = 0
    for fragment in expected.split(" … "):
        found = message.find(fragment, at)
        assert found >= 0, f"{fragment!r} not in {message!r}"
        at = found + len(fragment)


def test_the_broken_files_cover_every_class_of_problem() -> None:
    names = {p.stem for p in SCENARIOS}
    assert len(SCENARIOS) + len(list(RUNS.iterdir())) >= 40 and len(SCENARIOS) >= 40
    for kind in ("not_utf8", "binary", "utf16", "empty", "deep_nesting", "too_many_nodes", "nan_initial_sd",
                 "text_where_number", "boolean_where_lag", "csv_extra_field", "csv_not_utf8", "csv_nan_cell"):
        assert kind in names, kind


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_broken_scenario_file_is_refused_with_its_message(path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert_says(str(info.value), expected_message(path))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_validate_exits_1_without_a_traceback(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert isinstance(result.exception, SystemExit), result.exception  # nothing escaped the command
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith(f"error: {path}")


def test_validate_on_every_file_in_the_broken_folder_prints_no_traceback() -> None:
    """Data files and run files given to validate by mistake too: a clean refusal each."""
    files = sorted(p for p in BROKEN.rglob("*") if p.is_file())
    assert len(files) > len(SCENARIOS)
    for path in files:
        result = CliRunner().invoke(cli, ["validate", str(path)])
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (path, result.exception)
        assert "Traceback" not in result.output and result.output.startswith(f"error: {path}"), path


def test_missing_scenario_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert "nope.toml: 1 problem\n  - no such file; give the path of a scenario" in result.output


def test_bad_scenario_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(BROKEN / "unknown_key.toml"), "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


# --- What a repository cannot hold ---------------------------------------------------------


def _refused(path: Path, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert_says(str(info.value), expected)


def test_a_folder_given_as_a_scenario_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scenario.toml").mkdir()
    _refused(tmp_path / "scenario.toml", "is a folder, not a file; give the path of a scenario .toml file")


def test_a_pipe_given_as_a_scenario_is_refused_without_waiting_for_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.toml")
    _refused(tmp_path / "fifo.toml", "is not a regular file (a device, pipe or socket)")


def test_a_device_is_refused_before_anything_is_read() -> None:
    _refused(Path("/dev/zero"), "is not a regular file")


def test_a_file_beyond_the_size_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    from forecast.scenario import load

    path = write_scenario(tmp_path, CHAIN)
    monkeypatch.setattr(load, "MAX_SCENARIO_BYTES", 100)
    _refused(path, "1 problem\n  - is … bytes, more than the limit of 100 bytes for a scenario .toml file")
    monkeypatch.setattr(load, "MAX_SCENARIO_BYTES", 4 << 20)  # a tester's: "is 4 MiB, more than the limit of 4 MiB"
    path.write_bytes(path.read_bytes() + b"#" * ((4 << 20) + 1 - path.stat().st_size))
    _refused(path, "is 4,194,305 bytes, more than the limit of 4 MiB for a scenario .toml file")


def test_an_unreadable_scenario_says_so(tmp_path: Path, monkeypatch) -> None:
    """Permission denied, as an unprivileged user meets it (root reads anything: the refusal
    is made by the file system call, as it would be)."""
    path = write_scenario(tmp_path, CHAIN)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    _refused(path, "cannot be read: permission denied; give yourself read access (chmod u+r)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_a_file_without_read_permission_says_so(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, CHAIN)
    path.chmod(0)
    _refused(path, "cannot be read: permission denied")


def test_a_data_file_through_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    data = {**CHAIN, "indicators": {"poll": {"label": "Poll", "node": "B", "file": "loop.csv", "column": "v",
                                             "source": "test"}}}
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    _refused(write_scenario(tmp_path, data), "indicators.poll.file: 'loop.csv' is not a usable path (Symlink loop")


def test_a_data_file_beyond_the_row_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    from forecast.scenario import data as data_module

    monkeypatch.setattr(data_module, "MAX_ROWS", 3)
    (tmp_path / "poll.csv").write_text("year,v,source\n" + "".join(f"{y},1,t\n" for y in range(2000, 2005)))
    data = {**CHAIN, "indicators": {"poll": {"label": "Poll", "node": "B", "file": "poll.csv", "column": "v",
                                             "source": "test"}}}
    _refused(write_scenario(tmp_path, data), "indicators.poll.file: poll.csv has more than the limit of 3 rows")


def test_every_broken_file_is_refused_by_the_executable_without_a_traceback() -> None:
    """The command in its own process (as installed: main() with its signal handlers and its
    exit), on a sample of the classes; the in-process tests above cover every file."""
    import subprocess
    import sys

    names = ["binary.toml", "utf16.toml", "deep_nesting.toml", "csv_not_utf8.toml", "text_where_number.toml"]
    for name in names:
        done = subprocess.run([sys.executable, "-m", "forecast.cli", "validate", str(BROKEN / name)],
                              capture_output=True, text=True, check=False, env=os.environ | {"PYTHONPATH": str(ROOT)})
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and done.stderr.startswith("error: "), done.stderr


def test_the_documented_limits_are_the_code_limits() -> None:
    from forecast.scenario import data, load
    from forecast.scenario.schema import LIMITS

    readme = (ROOT / "priors" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Limits"):]
    numbers = [*LIMITS.values(), data.MAX_ROWS, data.MAX_CELL, data.MAX_DATA_BYTES >> 20, load.MAX_SCENARIO_BYTES >> 20]
    for n in numbers:
        assert f"{n:,}" in section or str(n) in section, n
    from forecast.scenario.errors import limit_text
    from forecast.scenario.priors import PARAMETER_LIMIT, SCALE_FLOOR

    for n in (PARAMETER_LIMIT, SCALE_FLOOR, data.DATA_LIMIT):
        assert limit_text(n) in section, n


# --- Run directories: `forecast report` and load_run refuse what is not a whole run --------

#: Each broken run directory under tests/broken/runs/ and what it is told.
RUN_MESSAGES = {
    "no_manifest": "no_manifest is not a run directory (no manifest.json); give a directory written by "
                   "`forecast run`",
    "manifest_not_json": "manifest_not_json: manifest.json is not valid JSON (Expecting property name enclosed in "
                         "double quotes at line 2, column 1); it was damaged: re-run the scenario",
    "manifest_not_utf8": "manifest_not_utf8: manifest.json is not UTF-8 text: line 1, column 42 has the byte 0xe9 "
                         "(another encoding, such as Latin-1 or Windows-1252?); it was damaged or is not a run's: "
                         "re-run the scenario",
    "manifest_binary": "manifest_binary: manifest.json is not a text file (line 3 holds a NUL byte: binary data?); "
                       "it was damaged or is not a run's",
    "manifest_not_an_object": "manifest_not_an_object: manifest.json holds a JSON list, not an object: it was not "
                              "written by `forecast run`",
    "manifest_with_nan": "manifest_with_nan: manifest.json is not a run's JSON (NaN is not a number JSON allows); "
                         "it was damaged",
    "manifest_of_another_tool": "manifest_of_another_tool: manifest.json is not a manifest written by `forecast "
                                "run` (no forecast_run = 1 and files)",
    "manifest_nested_deeply": "manifest_nested_deeply: manifest.json is not a run's JSON (nested too deeply: arrays or "
                              "objects within each other thousands of levels deep",
    "manifest_names_a_file_outside": "manifest_names_a_file_outside: manifest.json names '../outside.txt', a file "
                                     "outside the run; it was edited: re-run the scenario",
    "manifest_without_results": "manifest_without_results: manifest.json does not list results.nc; the run is "
                                "incomplete: re-run the scenario",
    "listed_file_missing": "listed_file_missing: results.nc is missing; the run is incomplete. Re-run the scenario",
    "file_modified_after_the_run": "file_modified_after_the_run: summary.json was modified after the run (sha256 "
                                   "differs from manifest.json); re-run the scenario rather than editing results",
    "summary_not_json": "summary_not_json: summary.json is not valid JSON (Expecting value at line 1, column 27); "
                        "it was damaged: re-run the scenario",
    "summary_of_another_version": "summary_of_another_version: summary.json lacks scenario, nodes, strategies, "
                                  "trajectories, contrasts, claims, indicators, diagnostics: it was not written by "
                                  "this version of forecast, or was edited; re-run the scenario",
    "results_not_netcdf": "results_not_netcdf: results.nc cannot be read as results (OSError: Unable to "
                          "synchronously open file (file signature not found)); it was damaged: re-run the scenario",
}


def test_every_broken_run_directory_has_its_message() -> None:
    assert sorted(p.name for p in RUNS.iterdir()) == sorted(RUN_MESSAGES)


@pytest.mark.parametrize("name", sorted(RUN_MESSAGES))
def test_a_broken_run_directory_is_refused_with_its_message(name: str, tmp_path: Path) -> None:
    from forecast.results.store import RunError, load_run

    with pytest.raises(RunError) as info:
        load_run(RUNS / name)
    assert_says(str(info.value), RUN_MESSAGES[name])
    copy = shutil.copytree(RUNS / name, tmp_path / name)  # the report is not written beside the original
    result = CliRunner().invoke(cli, ["report", str(copy)])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert "Traceback" not in result.output and result.output.startswith(f"error: {copy}")
    assert sorted(os.listdir(copy)) == sorted(os.listdir(RUNS / name)), "nothing written into it"


def test_an_empty_folder_is_not_a_run(tmp_path: Path) -> None:
    from forecast.results.store import RunError, load_run

    with pytest.raises(RunError, match=r"is an empty folder \(no manifest.json\); give a directory written by"):
        load_run(tmp_path)


def test_a_file_or_nothing_is_not_a_run(tmp_path: Path) -> None:
    from forecast.results.store import RunError, load_run

    (tmp_path / "file").write_text("")
    with pytest.raises(RunError, match="is a file, not a run directory"):
        load_run(tmp_path / "file")
    with pytest.raises(RunError, match="no such directory; give a run directory written by `forecast run`"):
        load_run(tmp_path / "nothing")


def test_an_unreadable_run_file_says_so(tmp_path: Path, monkeypatch) -> None:
    from forecast.results.store import RunError, load_run

    run = shutil.copytree(RUNS / "results_not_netcdf", tmp_path / "run")

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(RunError, match="manifest.json cannot be read: permission denied; give yourself read access"):
        load_run(run)
