"""The command line, end to end on the default scenario, and the run directory's contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import arviz as az
import h5py
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from forecast.cli import cli
from forecast.results.store import RunError, load_run

from .conftest import DEFAULT_SCENARIO, ROOT, differences, summary_values

GOLDEN = ROOT / "tests" / "golden"
#: How far a golden number may move on another machine (relative; the last binary digits).
GOLDEN_TOLERANCE = 1e-9


def test_help_reads_like_a_manual_page() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for word in ("run", "validate", "report", "score", "ledger", "Exit codes"):
        assert word in top.output
    for sub in ("run", "validate", "report", "score", "ledger"):
        page = runner.invoke(cli, [sub, "--help"])
        assert page.exit_code == 0 and "Exit codes" in page.output
        codes = re.findall(r"^\s+(\d)  ", page.output.split("Exit codes:")[1], re.M)
        # each command lists the codes it can return, and no other: only run has --strict's 3
        assert codes == (["0", "1", "2", "3"] if sub == "run" else ["0", "1", "2"]), (sub, codes)


def test_unknown_option_value_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["run", str(DEFAULT_SCENARIO), "--sampler", "metropolis"])
    assert result.exit_code == 2


@pytest.mark.parametrize("option", [["--seed", "-1"], ["--seed", str(2**64)], ["--seed", "1.5"],
                                    ["--draws", "10000000000"], ["--chains", "0"], ["--keep-draws", "x"]])
def test_an_option_beyond_its_range_is_a_usage_error_not_a_traceback(option: list[str]) -> None:
    result = CliRunner().invoke(cli, ["run", str(DEFAULT_SCENARIO), *option])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"Invalid value for '{option[0]}'" in result.output


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("runs") / "article"
    result = CliRunner().invoke(
        cli, ["run", str(DEFAULT_SCENARIO), "--draws", "150", "--tune", "200", "--chains", "2", "--out", str(out), "-q"],
    )
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.mark.slow
def test_default_scenario_runs_end_to_end(default_run) -> None:
    out, output = default_run
    summary = json.loads((out / "summary.json").read_text())
    # the table printed: every question, every strategy, a probability each
    for q in summary["questions"]:
        assert q["id"] in output
        for r in q["by_strategy"].values():
            assert f"{r['probability']:.2f} ± {r['mcse']:.3f}" in output
    assert f"results: {out}" in output
    assert (out / "report" / "index.html").is_file()
    assert set(summary["questions"][0]["by_strategy"]) == {s["id"] for s in summary["strategies"]}
    # the likelihood the command compiled (its kernel in a child process) is sound
    assert summary["diagnostics"]["divergences"] == 0


@pytest.mark.slow
def test_the_default_scenario_gives_the_golden_numbers(default_run) -> None:
    """The same seed gives the same summary.json as tests/golden/article_summary.json, number for
    number to 1e-9 relative, whether the compile cache was cold or warm (see tests/golden/README.md:
    another CPU's vector maths can move the last binary digit of a few numbers; within one
    machine tests/test_reproducibility.py holds runs to exact equality)."""
    out, _ = default_run
    differ = differences(summary_values(GOLDEN / "article_summary.json"), summary_values(out / "summary.json"),
                         rel_tol=GOLDEN_TOLERANCE)
    assert not differ, differ


def test_an_indicator_on_a_log_scale_has_no_mean_in_the_summary() -> None:
    """Its heavy-tailed shocks' exponential leaves the average to a few extreme draws: a tester's
    averaged 10,500 USD bn against a median of 2.9. The golden summary (held to a run above) says
    null for those only."""
    from forecast.results.summary import quantile_summary

    golden = json.loads((GOLDEN / "article_summary.json").read_text(encoding="utf-8"))
    for ind in golden["indicators"].values():
        means = ind["history"]["mean"] + [m for f in ind["forecast"]["by_strategy"].values() for m in f["mean"]]
        assert all(m is None for m in means) if ind["transform"] == "log" else all(m is not None for m in means)
    found = quantile_summary(np.array([[1.0, 2.0], [3.0, 50.0]]), mean=False)
    assert found["mean"] == [None, None] and found["median"] == [2.0, 26.0]


@pytest.mark.slow
def test_results_load_with_arviz_and_xarray(default_run) -> None:
    out, _ = default_run
    tree = az.from_netcdf(out / "results.nc")
    assert {"posterior", "prior", "sample_stats", "observed_data", "posterior_predictive", "forecast"} <= set(tree.children)
    fc = xr.open_datatree(out / "results.nc")["forecast"].dataset
    assert set(fc["node_value"].dims) == {"chain", "draw", "strategy", "year", "node"}
    with h5py.File(out / "results.nc") as f:  # small results are not compressed (faster to write)
        assert f["forecast"]["node_value"].compression is None
    assert az.summary(tree, var_names=["effect"]).shape[0] == len(tree["posterior"]["claim"])
    posterior = tree["posterior"]  # what an ArviZ user reads there: each variable says what it is
    assert posterior["effect"].attrs["description"].startswith("beta: each claim's long-run effect")
    assert all("description" in posterior[v].attrs for v in posterior.data_vars)
    # the default scenario weighs competing hypotheses: its chains are a resample, and say so
    assert "they are not Markov chains" in posterior.attrs["chains_note"]


@pytest.mark.slow
def test_run_directory_has_manifest_and_exact_inputs(default_run) -> None:
    out, _ = default_run
    run = load_run(out)
    assert run.manifest["seed"] == 20250302
    assert (out / "scenario" / "scenario.toml").read_bytes() == DEFAULT_SCENARIO.read_bytes()
    assert run.manifest["inputs"]["scenario.toml"] == run.manifest["files"]["scenario/scenario.toml"]
    assert "pymc" in run.manifest["versions"]
    # the code that ran: its version, and its commit when run from a git checkout (as here)
    code = run.manifest["code"]
    assert code["version"] == run.manifest["versions"]["forecast"]
    if (ROOT / ".git").exists():
        assert len(code["commit"]) == 40 and isinstance(code["modified"], bool)


@pytest.mark.slow
def test_a_modified_run_is_refused(default_run, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(default_run[0], copy)
    (copy / "summary.json").write_text("{}")
    with pytest.raises(RunError, match="modified after the run"):
        load_run(copy)
    result = CliRunner().invoke(cli, ["report", str(copy)])
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.slow
def test_a_run_never_overwrites_an_earlier_one(default_run) -> None:
    out, _ = default_run
    before = (out / "summary.json").read_bytes()
    result = CliRunner().invoke(cli, ["run", str(DEFAULT_SCENARIO), "--out", str(out), "-q", "--draws", "10"])
    assert result.exit_code == 1 and "never overwritten" in result.output
    assert (out / "summary.json").read_bytes() == before
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".partial")]


@pytest.mark.slow
def test_same_seed_same_numbers_with_or_without_progress(chain_file, tmp_path) -> None:
    """The same seed gives the same numbers. Off a terminal, progress is a line per stage
    at its start and end, in the run's order, with nothing redrawn; --quiet shows none."""
    args = ["run", str(chain_file), "--draws", "100", "--tune", "100", "--chains", "2", "--seed", "5", "--no-report"]
    a = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    b = CliRunner().invoke(cli, [*args, "-q", "--out", str(tmp_path / "b")])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    sa["diagnostics"].pop("sampling_seconds"), sb["diagnostics"].pop("sampling_seconds")
    assert sa == sb

    started = [line.removeprefix("[forecast] ").removesuffix(" ...") for line in a.stderr.splitlines()
               if line.endswith(" ...")]
    assert [stage.split(" (")[0] for stage in started] == [
        "validate", "build", "compile", "sample", "history", "forecast", "summarise", "sensitivity", "write"]
    assert started[3] == "sample (2 chains x 100 draws after 100 tuning)"
    for stage in started:
        assert f"[forecast] {stage} done in " in a.stderr
    assert "\r" not in a.stderr and "\x1b" not in a.stderr, "no bar is redrawn off a terminal"
    assert "[forecast]" not in b.stderr


@pytest.mark.slow
def test_strict_turns_bad_diagnostics_into_exit_3(chain_file, tmp_path) -> None:
    # 12 draws per chain cannot give 100 effective draws per chain: the verdict is not "ok"
    result = CliRunner().invoke(cli, ["run", str(chain_file), "--draws", "12", "--tune", "50", "--chains", "2",
                                      "--strict", "-q", "--no-report", "--out", str(tmp_path / "r")])
    assert result.exit_code == 3, result.output
    assert "diagnostics: FAIL" in result.output or "diagnostics: WARN" in result.output
    assert (tmp_path / "r" / "summary.json").is_file(), "results are still written"


@pytest.mark.slow
def test_strategy_option_keeps_the_named_and_the_baseline(chain_file, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["run", str(chain_file), "--strategy", "natural", "--draws", "50", "--tune", "50",
                                      "--chains", "1", "-q", "--no-report", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [s["id"] for s in summary["strategies"]] == ["hold_low", "natural"]
    bad = CliRunner().invoke(cli, ["run", str(chain_file), "--strategy", "nope", "-q", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--strategy: 'nope': " in bad.output and "has no such strategy" in bad.output
    assert not (tmp_path / "x").exists()  # an option's bad value: a usage error, before anything is written


@pytest.mark.slow
def test_keep_draws_thins_stored_forecasts_only(chain_file, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["run", str(chain_file), "--draws", "100", "--tune", "50", "--chains", "2",
                                      "--keep-draws", "50", "-q", "--no-report", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    tree = xr.open_datatree(tmp_path / "r" / "results.nc")
    fc = tree["forecast"].dataset
    assert fc.sizes["chain"] * fc.sizes["draw"] == 50
    assert tree["posterior"].dataset.sizes["draw"] == 100
    assert "50 of 200" in fc.attrs["thinned"]


@pytest.mark.slow
def test_draws_over_years_are_stored_in_single_precision_and_large_results_compressed(
        chain_file, tmp_path, monkeypatch) -> None:
    from forecast.results import store as results

    monkeypatch.setattr(results, "COMPRESS_ABOVE_MB", 0)  # every run counts as large
    result = CliRunner().invoke(cli, ["run", str(chain_file), "--draws", "50", "--tune", "50", "--chains", "2",
                                      "-q", "--no-report", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "r" / "results.nc") as f:
        for group, name in [("posterior", "level"), ("prior", "node_value"), ("forecast", "node_value"),
                            ("posterior_predictive", "indicator_value")]:
            assert f[group][name].dtype == np.float32, (group, name)
            assert f[group][name].compression == "gzip", (group, name)
        assert f["posterior"]["effect"].dtype == np.float64  # parameters keep double precision
    run = load_run(tmp_path / "r")  # the manifest's hashes hold for the compressed file
    assert run.tree["forecast"].dataset["node_value"].notnull().all()


@pytest.mark.slow
def test_pymc_sampler_is_selectable(chain_file, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["run", str(chain_file), "--sampler", "pymc", "--draws", "100", "--tune", "100",
                                      "--chains", "2", "-q", "--no-report", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    run = load_run(tmp_path / "r")
    assert run.summary["diagnostics"]["sampler"] == "pymc"
    assert run.manifest["settings"]["sampler"] == "pymc"
    assert run.tree["posterior"].dataset.sizes["draw"] == 100
    assert not [g for g in run.tree.children if g.startswith("warmup")], "tuning draws are not kept"
    drawn = int(run.tree["sample_stats"].dataset["n_steps"].sum())
    assert run.summary["diagnostics"]["leapfrog_steps"] >= drawn + 2 * 100, "the tuning's steps are counted"


@pytest.mark.slow
def test_the_executable_exits_with_the_commands_code(tmp_path) -> None:
    """The installed entry point (forecast.__main__:main, as `python -m forecast`) skips
    interpreter teardown: its output must still arrive in full and its exit code must be the
    command's."""
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "forecast", "validate", str(DEFAULT_SCENARIO)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == CliRunner().invoke(cli, ["validate", str(DEFAULT_SCENARIO)]).output  # all of it
    bad = subprocess.run([sys.executable, "-m", "forecast.cli", "validate", str(tmp_path / "missing.toml")],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "missing.toml" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "forecast.cli", "run"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_validate_lists_each_question_s_answer_sought() -> None:
    """What the run will call the best strategy for, checkable before it samples."""
    result = CliRunner().invoke(cli, ["validate", str(DEFAULT_SCENARIO)])
    assert result.exit_code == 0
    assert ("cohesion_falls_2029: transatlantic_cohesion[2029] < transatlantic_cohesion[2024]  (answer sought: no)"
            in result.output)


@pytest.mark.parametrize("option", [["--draws", "\uff15\uff10"], ["--draws", "1_0"], ["--chains", "nan"],
                                    ["--target-accept", "\uff10.9"], ["--target-accept", "nan"]])
def test_a_number_on_the_command_line_is_read_from_ascii_digits_only(option) -> None:
    """Python's int() reads "５０" and "1_0"; a data file is refused for them, and so is an option."""
    done = CliRunner().invoke(cli, ["run", str(DEFAULT_SCENARIO), *option])
    assert done.exit_code == 2 and "written in the digits 0-9" in done.output, done.output


def test_an_empty_path_is_refused_not_taken_for_the_working_directory() -> None:
    done = CliRunner().invoke(cli, ["run", str(DEFAULT_SCENARIO), "--out", ""])
    assert done.exit_code == 2 and "an empty path; give a file or folder name" in done.output

