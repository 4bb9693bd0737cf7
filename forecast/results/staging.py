"""Writing a folder whole or not at all: a run directory, a report.

What SQLite and git do for their files, done for folders:

* **A claim** (:func:`claim`): before any work, a process takes an advisory lock on the
  hidden file ``.NAME.lock`` beside the folder ``NAME`` it will write, and writes its pid
  there. A second process naming the same folder is refused at once, with that pid. The lock
  is the kernel's (``flock``): it ends with its process however that ends, so a killed run
  leaves no lock that must be removed by hand (git's ``index.lock`` does).
* **Staging** (:func:`staging`): the folder is written as a hidden sibling,
  ``.NAME.PID.RANDOM.partial``, on the same file system, and renamed into place in one step
  once complete (SQLite's journal, git's ``.lock`` files): a reader sees the whole folder or
  none of it. A failure, SIGINT or SIGTERM removes the staging folder on the way out; a
  signal after the rename leaves the whole folder, as SQLite keeps a committed transaction.
* **Stale folders** (:func:`remove_stale`): SIGKILL (or a power cut) leaves a staging folder
  behind. Before staging, a process removes the staging folders beside its target whose owner
  holds no claim (it is dead; a live owner always holds one), and only those: a live run's
  folder is left alone.
* **Replacing** a folder (a report rendered again, :func:`replace_folder`) is one atomic
  exchange (Linux's ``renameat2(RENAME_EXCHANGE)``); elsewhere two renames, and should a
  process die between them, the next one puts the earlier folder back (a rollback journal).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forecast import interrupts
from forecast.errors import ForecastError
from forecast.files import ordinary_mode

try:
    import fcntl
except ImportError:  # not POSIX: no claims, and staging folders are never taken for stale
    fcntl = None  # type: ignore[assignment]


class RunError(ForecastError):
    """A run directory (or a report folder) that cannot be used or written: the message names
    it and the fix."""


#: A staging folder's name: ``.TARGET.PID.RANDOM.partial``; an earlier folder waiting to be
#: removed (or put back) while it is replaced: ``.TARGET.PID.RANDOM.old``.
STAGED = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.(?P<random>[^.]+)\.(?P<kind>partial|old)$")
#: How long a claim waits for a lock another process holds for a moment (a check that its
#: owner is alive) before it takes the holder for a run writing the same folder.
WAIT_SECONDS = 1.0

#: The folders this process holds a claim on: their lock file's descriptor and how many
#: nested claims hold it.
_held: dict[Path, list[int]] = {}
#: The staging folders this process made (never stale while it lives).
_mine: set[Path] = set()


def lock_file(target: Path) -> Path:
    """The hidden lock file beside ``target``."""
    return target.parent / f".{target.name}.lock"


@contextmanager
def claim(target: Path) -> Iterator[Path]:
    """Hold ``target`` (a folder to write) for this process while active; yields its absolute
    path. Refuses with :class:`RunError` if another process holds it. Nested claims of the
    same folder by one process share the lock. Parent folders it had to create are removed
    again on exit when they are still empty."""
    target = Path(os.path.abspath(target))
    if target in _held:
        _held[target][1] += 1
        try:
            yield target
        finally:
            _held[target][1] -= 1
        return
    created = _make_parents(target.parent)
    try:
        fd = _acquire(target)
    except BaseException:
        _remove_empty(created)
        raise
    _held[target] = [fd, 1]
    try:
        yield target
    finally:
        del _held[target]
        _release(target, fd)
        _remove_empty(created)


def _make_parents(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        try:
            f.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            _remove_empty(missing[missing.index(f) + 1:])
            raise RunError(f"cannot create the folder {f}: {exc.strerror}; choose a place you can write to") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (innermost first) that are still empty."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return


def _acquire(target: Path) -> int:
    """The lock on ``target``'s lock file, held: its descriptor (with this pid written in)."""
    lock = lock_file(target)
    if fcntl is None:
        return -1
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise RunError(f"cannot create {lock} to claim {target}: {exc.strerror}; choose a place you can "
                           "write to") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise RunError(f"{target} is being written by another forecast process ({owner}); wait for it to "
                           "finish or choose another --out") from None
        # Its last holder may have removed the file between our open and our lock: then the
        # lock is on a file nobody else will open. Take the one at the path instead.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _owner(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "its pid unknown"


def _release(target: Path, fd: int) -> None:
    """Remove the lock file while still holding it, then let go (see :func:`_acquire`)."""
    if fd < 0:
        return
    try:
        os.unlink(lock_file(target))
    except OSError:
        pass
    os.close(fd)


def claimed(target: Path) -> bool:
    """Whether a live process (this one included) holds ``target``'s claim."""
    target = Path(os.path.abspath(target))
    if target in _held:
        return True
    if fcntl is None:
        return True  # cannot tell: treat as alive
    try:
        fd = os.open(lock_file(target), os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def remove_stale(folder: Path) -> list[Path]:
    """Remove the staging folders in ``folder`` whose owner is dead (it holds no claim on their
    target), and their targets' abandoned lock files; put back an earlier folder that a dead
    process had set aside to replace (when its place is empty). Returns what was removed or
    put back. Folders of live processes, and anything not named as a staging folder, are
    left alone."""
    done: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return done
    for entry in entries:
        match = STAGED.match(entry.name)
        path = Path(os.path.abspath(entry.path))
        if not match or path in _mine or not entry.is_dir(follow_symlinks=False):
            continue
        target = path.parent / match["target"]
        if target in _held or not claimed(target):  # our own target: not our folder, so a dead one's
            try:
                if match["kind"] == "old" and not target.exists():
                    os.rename(path, target)
                else:
                    shutil.rmtree(path)
                done.append(path)
            except OSError:
                continue
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".lock") and fcntl is not None:
            target = Path(os.path.abspath(folder)) / entry.name[1:-5]
            if target not in _held and not claimed(target) and _remove_lock(target):
                done.append(lock_file(target))
    return done


def _remove_lock(target: Path) -> bool:
    """Remove an abandoned lock file, holding its lock meanwhile (so a process that opened it
    just now retries on a fresh one, :func:`_acquire`)."""
    try:
        fd = os.open(lock_file(target), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(lock_file(target))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def sibling_dir(target: Path, kind: str = "partial") -> Path:
    """A new hidden folder beside ``target``, named for it and this process (same file system,
    so renaming it is atomic); stale ones are removed first."""
    target = Path(os.path.abspath(target))
    remove_stale(target.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=f".{kind}", dir=target.parent))
    except OSError as exc:
        raise RunError(f"cannot create a folder in {target.parent}: {exc.strerror}; choose a place you can "
                       "write to") from None
    _mine.add(tmp)
    tmp.chmod(ordinary_mode(folder=True))  # mkdtemp makes it private; outputs are ordinary folders
    return tmp


def discard(tmp: Path) -> None:
    """Remove a staging folder of this process."""
    shutil.rmtree(tmp, ignore_errors=True)
    if not tmp.exists():
        _mine.discard(tmp)


def check_target(out: Path) -> None:
    """Refuse an existing, non-empty folder (before any expensive work)."""
    out = Path(out)
    try:
        taken = out.exists() and (not out.is_dir() or any(out.iterdir()))
    except OSError as exc:
        raise RunError(f"{out} cannot be checked: {exc.strerror}; choose another --out") from None
    if taken and not out.is_dir():
        raise RunError(f"{out} is a file, not a folder: choose another --out")
    if taken:
        raise RunError(f"{out} already exists and is not empty; runs are never overwritten: "
                       "choose another --out or remove it")


@contextmanager
def staging(out: Path, *, final: bool = True) -> Iterator[Path]:
    """A staging folder for ``out``, renamed to ``out`` when the block succeeds and removed
    when it fails or is interrupted. ``out`` must not exist (or be an empty folder). ``final``:
    ``out`` is the command's output, so that once it is in place a signal no longer stops the
    command (:func:`forecast.interrupts.committed`); a sweep's variant runs are not."""
    with claim(out) as target:
        check_target(target)
        tmp = sibling_dir(target)
        try:
            yield tmp
            interrupts.check()  # a signal whose raise was swallowed: nothing is committed
            _commit(tmp, target)
            if final:
                interrupts.committed()
        except OSError as exc:
            discard(tmp)
            raise RunError(_write_failed(target, exc)) from None
        except BaseException:
            discard(tmp)
            raise
        _mine.discard(tmp)


def _commit(tmp: Path, target: Path) -> None:
    try:
        os.rename(tmp, target)  # replaces an empty folder, refuses a non-empty one
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            discard(tmp)
            raise RunError(f"{target} was written by another process meanwhile; it is left as it is, and this "
                           "run's results were not kept: run again with another --out") from None
        raise


def _write_failed(target: Path, exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    fix = "free some disk space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
        "check the permissions and the disk"
    return f"writing {target} failed: {exc.strerror or exc}{where}; nothing was kept: {fix} and try again"


# --- Replacing a folder --------------------------------------------------------------------

RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # the kernel or the file system cannot: rename twice instead
    raise OSError(code, os.strerror(code), str(b))


def replace_folder(tmp: Path, target: Path) -> None:
    """Put the complete folder ``tmp`` (a staging folder of this process) at ``target``, whose
    earlier content is removed once the new one is in place."""
    if not target.exists():
        os.rename(tmp, target)
        _mine.discard(tmp)
        return
    if _exchange(tmp, target):
        discard(tmp)  # now the earlier folder
        return
    old = sibling_dir(target, "old")
    os.rename(target, old)  # onto the empty placeholder; should this process die now, the next puts it back
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    _mine.discard(tmp)
    discard(old)
