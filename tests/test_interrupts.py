"""SIGINT (Ctrl-C) and SIGTERM stop ``forecast run`` at any stage with exit 130 or 143, and
leave nothing behind: no run directory, no staging folder, no lock, no process.

Each run is the installed command in its own process group, as a terminal runs it. Its
progress lines on standard error (``[forecast] STAGE ...``) say when a stage starts; the
signal is sent then (to the whole group for SIGINT, as Ctrl-C does; to the command alone for
SIGTERM, as ``kill`` does). A short stage may end before the signal lands: the signal then
stops the next one, which must leave nothing either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from .conftest import CHAIN, ROOT, write_scenario

STAGES = ["validate", "build", "compile", "sample", "history", "forecast", "summarise", "sensitivity", "write",
          "report"]


def _group(pid: int) -> list[str]:
    """The processes left in a process group."""
    found = subprocess.run(["pgrep", "-g", str(pid), "-a"], capture_output=True, text=True, check=False)
    return [line for line in found.stdout.splitlines() if "<defunct>" not in line]


def _start(args: list[str], **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "forecast.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=os.environ | {"PYTHONPATH": str(ROOT), **env})


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("stage", STAGES)
def test_a_signal_at_any_stage_stops_the_run_and_leaves_nothing(tmp_path, stage, signum) -> None:
    scenario = write_scenario(tmp_path / "scenario", CHAIN)
    reports = tmp_path / "reports"
    run = _start(["run", str(scenario), "--draws", "300", "--tune", "200", "--chains", "2",
                  "--out", str(reports / "run")])
    seen = []
    for line in run.stderr:
        seen.append(line)
        if line.startswith(f"[forecast] {stage}") and line.rstrip().endswith(" ..."):
            if signum == signal.SIGINT:
                os.killpg(run.pid, signum)  # Ctrl-C: the command and every process it started
            else:
                run.send_signal(signum)  # kill PID: the command alone, which stops its children
            break
    else:
        pytest.fail(f"the stage {stage!r} never started:\n{''.join(seen)}")
    stderr = run.stderr.read()
    run.wait(timeout=120)
    run.stdout.close()
    run.stderr.close()
    assert run.returncode == 128 + signum, "".join(seen) + stderr
    assert f"interrupted ({signal.Signals(signum).name}): stopped; nothing half-written is left" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert not reports.exists() or os.listdir(reports) == [], os.listdir(reports)
    time.sleep(0.2)  # a child the kernel ended as its parent died is reaped by init
    assert _group(run.pid) == [], "the background compile and the drawing workers are stopped"


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_on_local_workers_stops_it_with_one_line_and_no_worker_traceback(tmp_path) -> None:
    """Ctrl-C signals the command's whole process group, its Dask workers too: the command
    stops (130, the finished variants kept) and the workers leave the signal to it."""
    scenario = write_scenario(tmp_path / "scenario", CHAIN)
    run = _start(["sweep", str(scenario), "--vary", "scenario.shock_df=3,5", "--workers", "1", "--draws", "300",
                  "--tune", "300", "--chains", "2", "--out", str(tmp_path / "sweep")])
    seen = []
    for line in run.stderr:
        seen.append(line)
        if line.startswith("[forecast] variant 1/3"):  # the worker is up, and fitting the next
            os.killpg(run.pid, signal.SIGINT)
            break
    else:
        pytest.fail("".join(seen))
    stderr = run.stderr.read()
    run.wait(timeout=120)
    run.stdout.close()
    run.stderr.close()
    assert run.returncode == 130, "".join(seen) + stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "interrupted (SIGINT)" in stderr
    time.sleep(0.5)
    assert _group(run.pid) == [], "the workers are stopped"


@pytest.mark.slow
def test_a_killed_run_leaves_its_staging_folder_to_the_next_run_which_removes_it(tmp_path) -> None:
    """SIGKILL cannot be caught: the folder a run was writing stays. The next run writing beside
    it finds its owner dead (it holds no claim) and removes it; the next run's own output is
    all that is left."""
    scenario = write_scenario(tmp_path / "scenario", CHAIN)
    reports = tmp_path / "reports"
    args = ["run", str(scenario), "--draws", "100", "--tune", "100", "--chains", "2", "--no-report"]
    first = _start([*args, "--out", str(reports / "first")])
    for line in first.stderr:
        if line.startswith("[forecast] write ..."):
            time.sleep(0.1)
            first.kill()
            break
    first.wait()
    first.stdout.close()
    first.stderr.close()
    left = sorted(os.listdir(reports))
    assert any(name.startswith(f".first.{first.pid}.") and name.endswith(".partial") for name in left), left
    second = subprocess.run([sys.executable, "-m", "forecast.cli", *args, "-q", "--out", str(reports / "second")],
                            capture_output=True, text=True, check=False, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert second.returncode == 0, second.stderr
    assert sorted(os.listdir(reports)) == ["second"]


@pytest.mark.slow
def test_two_runs_naming_the_same_out_at_once_one_wins_and_the_other_is_told(tmp_path) -> None:
    scenario = write_scenario(tmp_path / "scenario", CHAIN)
    out = tmp_path / "reports" / "run"
    args = ["run", str(scenario), "--draws", "100", "--tune", "100", "--chains", "2", "--no-report", "-q",
            "--out", str(out)]
    runs = [_start(args), _start(args)]
    results = [(r.wait(timeout=600), r.stdout.read(), r.stderr.read()) for r in runs]
    for r in runs:
        r.stdout.close()
        r.stderr.close()
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert f"{out} " in loser and ("is being written by another forecast process" in loser
                                   or "already exists and is not empty" in loser), loser
    from forecast.results.store import load_run

    load_run(out)  # the winner's run is whole and verifies
    assert sorted(os.listdir(out.parent)) == ["run"]


@pytest.mark.slow
def test_an_interrupt_while_nutpie_samples_cancels_its_chains(chain_file) -> None:
    """In a notebook's process as well as the command's: the sampler's threads stop, they do
    not go on sampling in the background."""
    from forecast import interrupts
    from forecast.model.build import build_model
    from forecast.posterior.sampling import sample_posterior
    from forecast.progress import StageProgress
    from forecast.scenario import load_scenario
    from forecast.settings import SamplerSettings

    model = build_model(load_scenario(chain_file))
    settings = SamplerSettings(draws=200_000, tune=1000, chains=2, seed=1, progress=False)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))

    def line(message: str) -> None:  # the Ctrl-C comes a second into sampling
        if message.startswith("sample (") and message.endswith(" ..."):
            timer.start()

    with interrupts.handled():
        with pytest.raises(interrupts.Interrupted) as caught:
            sample_posterior(model, settings, StageProgress(line))
    timer.join()
    assert caught.value.exit_code == 130
    cpu = time.process_time()
    time.sleep(2.0)
    assert time.process_time() - cpu < 0.1, "the chains' threads still sample"
    del caught  # (its traceback holds the sampler)


def test_an_error_that_escapes_after_a_signal_is_the_signal_s_doing(monkeypatch, capsys) -> None:
    """A signal's raise can land inside compiled code, which wraps it in an error of its own
    (numba: "SystemError: CPUDispatcher(forward) returned a result with an exception set").
    Once a signal was received, whatever escapes the command exits as the signal asks: 143
    for SIGTERM, the interrupted line, no traceback."""
    from forecast import cli, interrupts

    def wrapped_by_compiled_code() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the raise lands here
        except interrupts.Interrupted:
            raise SystemError("CPUDispatcher(<function forward>) returned a result with an exception set") from None

    monkeypatch.setattr(cli, "cli", lambda **kwargs: wrapped_by_compiled_code())
    with interrupts.handled():
        assert cli._command() == 143
    assert "interrupted (SIGTERM): stopped; nothing half-written is left" in capsys.readouterr().err


def test_without_a_signal_an_error_is_not_taken_for_an_interrupt() -> None:
    from forecast import interrupts

    with interrupts.handled():
        assert interrupts.interrupted_by(SystemError("a bug")) is None
        stop = interrupts.Interrupted(signal.SIGINT)
        assert interrupts.interrupted_by(stop) is stop


def test_a_signal_while_the_executable_imports_stops_it_with_one_line() -> None:
    """Ctrl-C in the first moments, while Python imports click, NumPy and PyMC: the executable's
    first lines have put their handlers in place (``import forecast`` loads none of those), so
    the signal ends it with 130 and a line, not a KeyboardInterrupt traceback."""
    light = subprocess.run([sys.executable, "-c", "import sys, forecast; print('numpy' in sys.modules)"],
                           capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, check=True)
    assert light.stdout.strip() == "False"
    during_imports = """
import builtins, os, signal
import forecast.__main__ as entry
real = builtins.__import__
def signalled(name, *args, **kwargs):
    if name == "forecast.cli":
        os.kill(os.getpid(), signal.SIGINT)
    return real(name, *args, **kwargs)
builtins.__import__ = signalled
entry.main()
"""
    done = subprocess.run([sys.executable, "-c", during_imports, "validate", "x.toml"], capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert done.returncode == 130, done.stderr
    assert done.stderr == "interrupted (SIGINT): stopped before the command started; nothing was written\n"


def test_a_signal_after_the_output_is_in_place_no_longer_stops_the_command() -> None:
    """A tester's SIGINT landed as `forecast score` printed what it had appended to the ledger:
    it exited 130 ("nothing half-written") with the scores written, and a retry was refused as
    already scored. Once the output is committed a signal is only recorded, apart."""
    from forecast import interrupts

    with interrupts.handled():
        interrupts.committed()
        os.kill(os.getpid(), signal.SIGINT)  # no Interrupted raised
        assert interrupts.received() is None and interrupts.after_commit() == signal.SIGINT
        interrupts.record_only()
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.received() is None and interrupts.after_commit() == signal.SIGINT
    interrupts.committed()  # outside a command (a notebook): nothing changes
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
