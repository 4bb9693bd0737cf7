"""A run directory's JSON files hold what their readers index into, or the run is refused when
loaded: the report, ``diff``, ``sensitivity`` and ``score`` never meet ``"settings": "x"``
deep inside themselves. Each refusal names the file, the key path, what it holds and what it
should, and the command line exits 1 without a traceback.

The runs are written by hand (what a run's files hold, without sampling), then edited as a
user or a damaged disk would, their sha256 in the manifest updated so that only the shapes
are wrong.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from forecast.cli import cli
from forecast.results.store import MANIFEST, SUMMARY, RunError, load_run
from forecast.scenario.domain import file_sha256

from .test_scoring import make_run


def edited(run: Path, name: str, change) -> Path:
    """``run`` with ``change`` applied to the JSON of its file ``name``, sha256 updated."""
    data = json.loads((run / name).read_text())
    change(data)
    (run / name).write_text(json.dumps(data))
    return rehashed(run, name) if name != MANIFEST else run


def rehashed(run: Path, name: str) -> Path:
    """``run`` with the manifest's sha256 of its file ``name`` made that of the file as it is."""
    manifest = json.loads((run / MANIFEST).read_text())
    manifest["files"][name] = file_sha256(run / name)
    (run / MANIFEST).write_text(json.dumps(manifest))
    return run


#: An edit of a run's file, and what loading the run says of it.
EDITS = {
    "settings_as_text": (MANIFEST, lambda m: m.update(settings="x"),
                         'manifest.json does not hold what `forecast run` writes (settings: "x" is text; it should be '
                         "an object { ... }): it was edited or damaged: re-run the scenario"),
    "versions_null": (MANIFEST, lambda m: m.update(versions=None, created=5),
                      "(created: 5 is a whole number; it should be text in quotes; versions: null; it should be an "
                      "object { ... })"),
    "command_of_numbers": (MANIFEST, lambda m: m.update(command=["forecast", 7]),
                           "command[1]: 7 is a whole number; it should be text in quotes"),
    "questions_as_text": (SUMMARY, lambda s: s.update(questions="oops"),
                          'summary.json does not hold what `forecast run` writes (questions: "oops" is text; it should '
                          "be a list [ ... ])"),
    "strategies_a_number": (SUMMARY, lambda s: s.update(strategies=5), "strategies: 5 is a whole number; it should "
                                                                        "be a list [ ... ]"),
    "nodes_null": (SUMMARY, lambda s: s.update(nodes=None), "nodes: null; it should be an object { ... }"),
    "probability_as_text": (SUMMARY, lambda s: s["questions"][0]["by_strategy"]["press"].update(probability="0.2"),
                            'questions[0].by_strategy.press.probability: "0.2" is text; it should be a number'),
    "baseline_as_text": (SUMMARY, lambda s: s["strategies"][0].update(baseline="yes"),
                         'strategies[0].baseline: "yes" is text; it should be true or false'),
    # a tester's edits with the hashes made again: each failed deep in a reader (KeyError, TypeError)
    "probability_beyond_one": (SUMMARY, lambda s: s["questions"][0]["by_strategy"]["press"].update(probability=2.0),
                               "questions[0].by_strategy.press.probability: 2.0 is a number; it should be at most "
                               "1.0"),
    "answered_under_no_strategy": (SUMMARY, lambda s: s["questions"][0].update(by_strategy={}),
                                   "question 'trade_low' is answered under [], not under the strategies "
                                   "['status_quo', 'press']"),
    "no_threshold_nor_reference": (SUMMARY, lambda s: s["questions"][0].update(threshold=None),
                                   "question 'trade_low' has neither a threshold nor a reference year"),
    "claim_without_its_nodes": (SUMMARY, lambda s: s["claims"].update(c={"label": "C", "cause": "x", "effect": "y"}),
                                "claim 'c' links nodes the summary does not have"),
    "sensitivity_emptied": (SUMMARY, lambda s: s.update(sensitivity={}),
                            "sensitivity.questions: the key is missing"),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "written")


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_run_file_with_values_of_the_wrong_kind_is_refused_naming_the_key(written, tmp_path, name) -> None:
    file, change, message = EDITS[name]
    run = edited(shutil.copytree(written, tmp_path / name), file, change)
    with pytest.raises(RunError) as info:
        load_run(run)
    assert str(info.value).startswith(f"{run}: {file} does not hold what `forecast run` writes (")
    assert message in str(info.value)
    for command in (["report", str(run)], ["diff", str(run), str(written)], ["sensitivity", str(run)]):
        result = CliRunner().invoke(cli, command)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
        assert result.output.startswith(f"error: {run}: {file} does not hold") and "Traceback" not in result.output


def test_a_run_written_by_forecast_run_has_the_shapes_its_readers_rely_on(written) -> None:
    assert load_run(written).summary["questions"]


def test_a_run_shows_itself_in_one_line_in_a_notebook_not_as_its_whole_tree(written) -> None:
    shown = repr(load_run(written))
    assert shown.startswith(f"Run({str(written)!r}: ") and "\n" not in shown and len(shown) < 300
    assert shown.endswith("'tiny', 2 strategies, 6 questions, 2 chains x 50 draws)")  # no diagnostics written


def test_a_file_of_a_run_that_is_a_symbolic_link_is_refused(written, tmp_path) -> None:
    """A manifest may list a link whose target's sha256 it gives: it would read anything."""
    run = shutil.copytree(written, tmp_path / "run")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the run's")
    (run / "notes.txt").symlink_to(outside)
    with pytest.raises(RunError, match="notes.txt is a symbolic link, which a run never writes"):
        load_run(rehashed(run, "notes.txt"))


def test_a_big_number_in_a_run_file_is_refused_by_its_limit(written, tmp_path) -> None:
    run = shutil.copytree(written, tmp_path / "run")
    text = (run / SUMMARY).read_text()
    (run / SUMMARY).write_text(text[:-2] + ', "x": ' + "9" * 5000 + "}\n")
    rehashed(run, SUMMARY)
    with pytest.raises(RunError, match=r"summary.json is not a run's JSON \(a whole number of 5000 digits, more "
                                       r"than the limit of 30\); it was damaged"):
        load_run(run)


def test_a_scenario_copy_that_is_not_text_is_refused_when_the_run_is_loaded(written, tmp_path) -> None:
    """The report shows it and diff loads it again: a UnicodeDecodeError there was a traceback."""
    run = shutil.copytree(written, tmp_path / "run")
    (run / "scenario").mkdir()
    (run / "scenario" / "scenario.toml").write_bytes(b"\xff\xfe garbage")
    rehashed(run, "scenario/scenario.toml")
    with pytest.raises(RunError, match=r"scenario/scenario.toml is UTF-16 text; it was damaged: re-run the scenario"):
        load_run(run)


def test_diff_of_a_run_whose_scenario_copy_is_refused_now_exits_1_and_says_why(written, tmp_path) -> None:
    """A run's copy of its scenario can be refused by a later version (stricter checks): diff
    and sensitivity say so, with the fix, instead of a ScenarioError traceback."""
    run = shutil.copytree(written, tmp_path / "run")
    (run / "scenario").mkdir()
    (run / "scenario" / "scenario.toml").write_text('[scenario]\nname = "old"\n')
    rehashed(run, "scenario/scenario.toml")
    for command in (["diff", str(run), str(run)], ["sensitivity", str(written)]):
        result = CliRunner().invoke(cli, command)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
        assert "the run's copy of its scenario cannot be loaded again" in result.output
        assert "re-run its scenario with this version of forecast" in result.output
        assert "Traceback" not in result.output


# --- Runs that cannot start, and sweep files: bad input, exit 1 ------------------------------


def test_a_sampler_that_cannot_start_is_a_bad_input_with_its_likely_cause(chain_file, monkeypatch) -> None:
    """nutpie's "All initialization points failed" (and a Rust backtrace) comes from a scenario
    no model can start from: exit 1 naming the likely cause, not a traceback."""
    import forecast.pipeline
    from forecast.compiled import runtime

    def cannot_start(*args, **kwargs):
        raise RuntimeError("All initialization points failed\n\nCaused by:\n    Logp function returned error")

    monkeypatch.setattr(runtime, "start_background_compile", lambda: None)
    monkeypatch.setattr(forecast.pipeline, "run_scenario", cannot_start)
    result = CliRunner().invoke(cli, ["run", str(chain_file), "-q"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {chain_file}: the sampler could not start: the model's log density is "
                                    "not finite at any starting point. The likely cause is a prior or data value of "
                                    "extreme size")
    assert "Caused by" not in result.output


def test_a_sweep_variant_or_calibration_fit_that_cannot_start_is_recorded_with_the_same_cause() -> None:
    """Where one failed fit must not stop the others (sweeps, calibration), it is recorded, and
    a sampler that could not start reads as the command line says it, not as a backtrace."""
    from forecast.sweeps.engine import guarded

    def cannot_start(task):
        raise RuntimeError("All initialization points failed\n\nCaused by:\n    Logp function returned error")

    def broken(task):
        raise FloatingPointError("the covariance is not positive definite")

    said = guarded(cannot_start, None)["error"]
    assert said.startswith("the sampler could not start: the model's log density is not finite") and "Caused" not in said
    assert guarded(broken, None)["error"] == "FloatingPointError: the covariance is not positive definite"


def test_any_other_runtime_error_is_not_taken_for_a_bad_input(chain_file, monkeypatch) -> None:
    import forecast.pipeline
    from forecast.compiled import runtime

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(runtime, "start_background_compile", lambda: None)
    monkeypatch.setattr(forecast.pipeline, "run_scenario", broken)
    result = CliRunner().invoke(cli, ["run", str(chain_file), "-q"])
    assert isinstance(result.exception, RuntimeError)


@pytest.mark.parametrize("content, message", [
    ("a = " + "[" * 5000 + "]" * 5000, "tables or lists nested thousands of levels deep, more than the limit of 12 "
                                       "(a sweep file needs 6 at most); check the brackets"),
    ("[[variants]\n", "not valid TOML: "),
    ('title = "x"\n', "a sweep file holds [[variants]] tables only"),
    (None, "is a folder, not a file; give the path of a sweep .toml file"),
])
def test_a_bad_sweep_file_is_a_bad_input_file(chain_file, tmp_path, content, message) -> None:
    """Exit 1 as any bad input file (README), never a RecursionError traceback, nor exit 2 as
    a mistyped option."""
    sweep = tmp_path / "sweep.toml"
    if content is None:
        sweep.mkdir()
    else:
        sweep.write_text(content)
    result = CliRunner().invoke(cli, ["sweep", str(chain_file), "--sweep", str(sweep), "--workers", "0"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {sweep}") and message in result.output, result.output


def test_a_vary_value_nested_beyond_reason_is_a_usage_error(chain_file) -> None:
    deep = "[" * 5000 + "]" * 5000
    result = CliRunner().invoke(cli, ["sweep", str(chain_file), "--vary", f"claims.l_to_a.prior={deep}",
                                      "--workers", "0"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output
    assert "nested thousands of levels deep" in result.output and "check the brackets" in result.output
