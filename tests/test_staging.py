"""Folders are written whole or not at all (forecast.results.staging): a claim refuses a
second writer at once, a staging folder is renamed into place or removed, a killed process's
leftovers are removed by the next one and a live process's never are."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from forecast import interrupts
from forecast.cli import cli
from forecast.results import staging
from forecast.results.staging import RunError, claim, claimed, remove_stale, replace_folder, sibling_dir

from .conftest import ROOT

#: A process that claims a folder, says so, and waits (until killed).
HOLDER = """
import sys, time
from pathlib import Path
from forecast.results.staging import claim, sibling_dir
with claim(Path(sys.argv[1])):
    tmp = sibling_dir(Path(sys.argv[1]))
    (tmp / "results.nc").write_bytes(b"half")
    print(tmp, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds a claim on a folder and stages into it; yields (process,
    its staging folder, the target)."""
    target = tmp_path / "reports" / "run"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdout=subprocess.PIPE, text=True,
                               env=os.environ | {"PYTHONPATH": str(ROOT)})
    partial = Path(process.stdout.readline().strip())
    process.stdout.close()
    yield process, partial, target
    process.kill()
    process.wait()


def test_a_staging_folder_is_named_for_its_target_and_its_process(tmp_path) -> None:
    tmp = sibling_dir(tmp_path / "run")
    match = staging.STAGED.match(tmp.name)
    assert match and match["target"] == "run" and match["pid"] == str(os.getpid()) and match["kind"] == "partial"
    staging.discard(tmp)


def test_a_live_process_keeps_its_staging_folder_and_a_killed_ones_is_removed(holder) -> None:
    process, partial, target = holder
    assert claimed(target)
    assert remove_stale(target.parent) == [] and partial.is_dir(), "a live run's folder is left alone"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert partial.is_dir() and staging.lock_file(target).exists(), "SIGKILL leaves them"
    assert not claimed(target), "the kernel released its lock"
    removed = remove_stale(target.parent)
    assert partial in removed and not partial.exists()
    assert not staging.lock_file(target).exists()
    assert sorted(os.listdir(target.parent)) == []


def test_the_next_run_in_the_same_folder_removes_what_a_killed_one_left(holder, tmp_path) -> None:
    process, partial, target = holder
    process.kill()
    process.wait()
    with staging.staging(target.parent / "other") as tmp:
        (tmp / "summary.json").write_text("{}")
    assert sorted(os.listdir(target.parent)) == ["other"]


def test_a_second_writer_of_the_same_folder_is_refused_at_once_with_the_first_ones_pid(holder) -> None:
    process, partial, target = holder
    with pytest.raises(RunError, match=rf"{target} is being written by another forecast process \(pid "
                                       rf"{process.pid}\); wait for it to finish or choose another --out"):
        with claim(target):
            pass
    assert partial.is_dir() and (partial / "results.nc").read_bytes() == b"half", "the first is untouched"


def test_a_run_naming_a_folder_another_run_writes_exits_1_before_sampling(holder, tmp_path) -> None:
    from .conftest import CHAIN, write_scenario

    process, partial, target = holder
    result = CliRunner().invoke(cli, ["run", str(write_scenario(tmp_path, CHAIN)), "--out", str(target), "-q"])
    assert result.exit_code == 1
    assert f"error: {target} is being written by another forecast process (pid {process.pid})" in result.output
    assert partial.is_dir()


def test_a_commit_onto_a_folder_written_meanwhile_keeps_that_folder_and_says_so(tmp_path) -> None:
    target = tmp_path / "run"
    with pytest.raises(RunError, match="was written by another process meanwhile; it is left as it is"):
        with staging.staging(target) as tmp:
            (tmp / "summary.json").write_text("mine")
            target.mkdir()  # another writer (not a forecast process) got there first
            (target / "summary.json").write_text("theirs")
    assert (target / "summary.json").read_text() == "theirs"
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_a_failure_while_staging_leaves_nothing(tmp_path) -> None:
    with pytest.raises(ZeroDivisionError):
        with staging.staging(tmp_path / "reports" / "run") as tmp:
            (tmp / "results.nc").write_bytes(b"x")
            1 / 0
    assert os.listdir(tmp_path) == [], "nor the reports folder it created"


def test_a_write_that_fails_is_a_run_error_naming_the_folder_and_the_fix(tmp_path) -> None:
    def full(*args):
        raise OSError(28, "No space left on device", str(tmp_path / "x"))

    with pytest.raises(RunError, match=r"writing .*run failed: No space left on device \(.*x\); nothing was kept: "
                                       r"free some disk space and try again"):
        with staging.staging(tmp_path / "run"):
            full()
    assert os.listdir(tmp_path) == []


def test_an_out_in_a_folder_that_cannot_be_created_is_a_run_error(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError, match="cannot create the folder .*file/run: Not a directory; choose a place"):
        with claim(tmp_path / "file" / "run" / "x"):
            pass


def test_an_interrupt_whose_raise_was_swallowed_still_commits_nothing(tmp_path) -> None:
    """A signal landing in a finaliser is printed as "Exception ignored" and dropped by Python;
    the staging still sees it before renaming anything into place."""
    with interrupts.handled():
        with pytest.raises(interrupts.Interrupted) as caught:
            with staging.staging(tmp_path / "run") as tmp:
                (tmp / "summary.json").write_text("{}")
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(1)
                except interrupts.Interrupted:
                    pass  # swallowed, as a finaliser would
    assert caught.value.exit_code == 143
    assert os.listdir(tmp_path) == []
    interrupts.check()  # outside handled(), nothing is left recorded


def test_a_folder_is_replaced_in_one_step(tmp_path) -> None:
    target = tmp_path / "report"
    target.mkdir()
    (target / "index.html").write_text("old")
    new = sibling_dir(target)
    (new / "index.html").write_text("new")
    replace_folder(new, target)
    assert (target / "index.html").read_text() == "new" and os.listdir(tmp_path) == ["report"]


def test_where_folders_cannot_be_exchanged_a_replacement_cut_short_is_rolled_back(tmp_path, monkeypatch) -> None:
    """Two renames instead of one exchange; a process that dies between them leaves the earlier
    folder aside, and the next one puts it back (as a rollback journal would)."""
    monkeypatch.setattr(staging, "_exchange", lambda a, b: False)
    target = tmp_path / "report"
    target.mkdir()
    (target / "index.html").write_text("old")
    new = sibling_dir(target)
    (new / "index.html").write_text("new")
    replace_folder(new, target)
    assert (target / "index.html").read_text() == "new" and os.listdir(tmp_path) == ["report"]

    # as if a dead process had set the report aside and died before putting the new one in
    aside = tmp_path / ".report.999999.abc.old"
    os.rename(target, aside)
    assert not claimed(target)
    assert remove_stale(tmp_path) == [aside]
    assert (target / "index.html").read_text() == "new" and os.listdir(tmp_path) == ["report"]


def test_an_out_that_is_a_file_or_a_full_folder_is_refused_before_any_work(tmp_path) -> None:
    from forecast.results.staging import check_target

    (tmp_path / "afile").write_text("")
    with pytest.raises(RunError, match="afile is a file, not a folder: choose another --out"):
        check_target(tmp_path / "afile")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(RunError, match="already exists and is not empty"):
        check_target(tmp_path / "full")
    check_target(tmp_path / "new")  # nothing there: fine


#: A process that starts writing a file whole, says where, and waits (until killed).
FILE_WRITER = """
import sys, time
from pathlib import Path
from forecast.files import atomic_file
with atomic_file(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half")
    print(tmp, flush=True)
    time.sleep(600)
"""


def test_a_file_written_whole_replaces_the_old_one_in_one_step_or_leaves_it(tmp_path) -> None:
    from forecast.files import atomic_file, write_atomically

    ledger = tmp_path / "ledger.jsonl"
    write_atomically(ledger, "one\n")
    with pytest.raises(ZeroDivisionError), atomic_file(ledger) as tmp:
        tmp.write_text("one\ntw")
        1 / 0
    assert ledger.read_text() == "one\n" and os.listdir(tmp_path) == ["ledger.jsonl"]
    assert ledger.stat().st_mode & 0o777 == 0o666 & ~_umask(), "an ordinary file, not mkstemp's 0600"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_next_write_of_a_file_removes_what_a_killed_writer_left_and_never_a_live_one_s(tmp_path) -> None:
    """Sweep outputs and the ledger are single files written whole: SIGKILL left their
    ``.NAME.PID-HOST.RANDOM.partial`` behind for good, as staging folders once were. Only this
    machine's dead writers' are removed: a pid means nothing on another machine sharing the disk."""
    from forecast.files import host_tag, remove_dead_partials, write_atomically

    target = tmp_path / "sweep.nc"
    writers = [subprocess.Popen([sys.executable, "-c", FILE_WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                                env=os.environ | {"PYTHONPATH": str(ROOT)}) for _ in range(2)]
    try:
        killed, live = (Path(w.stdout.readline().strip()) for w in writers)
        assert killed.name.startswith(f".sweep.nc.{writers[0].pid}-{host_tag()}.") and killed.name.endswith(".partial")
        writers[0].kill()
        writers[0].wait()
        dead = writers[0].pid
        other = tmp_path / f".variants.csv.{dead}-{host_tag()}.x.partial"  # another file's: not this one's to remove
        elsewhere = tmp_path / f".sweep.nc.{dead}-{'0' * 8}.x.partial"  # another machine's writer, maybe alive there
        for f in (other, elsewhere):
            f.write_text("x")
        write_atomically(target, b"whole")
        assert not killed.exists() and live.read_bytes() == b"half" and other.exists() and elsewhere.exists()
        assert target.read_bytes() == b"whole"
        assert remove_dead_partials(target) == []
    finally:
        for w in writers:
            w.kill()
            w.wait()
            w.stdout.close()

