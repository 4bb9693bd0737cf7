"""Reading the files a user gives (scenario files, data files, a run's JSON, resolutions, the
ledger, sweep files): as bounded UTF-8 text, with every way of failing said plainly, with its
fix; then parsing JSON and TOML with the same guards for every caller (:func:`parse_json`,
:func:`parse_toml`).

A file is read whole, so a size limit comes first: a mistyped path to a video, or to
``/dev/zero``, is refused before anything is read. Text is UTF-8; a byte-order mark (which
Windows tools write) is accepted and dropped; a UTF-16 file, a binary file or one stray
byte of another encoding is refused with the line it is on. The callers put the file's name
and the key or row in front of these messages.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MiB = 1 << 20


class FileProblem(Exception):
    """A file that cannot be read as the caller needs: ``reason`` and ``fix``, which the message
    joins (the caller names the file, and may give a fix of its own)."""

    def __init__(self, reason: str, fix: str):
        self.reason, self.fix = reason, fix
        super().__init__(f"{reason}; {fix}")


class MissingFile(FileProblem):
    """There is no file at the path (callers add where such paths start from)."""


class Unreadable(FileProblem):
    """The file is there but this user cannot read it (permissions, I/O errors)."""


@dataclass(frozen=True)
class Text:
    """A file's text, whether it began with a UTF-8 byte-order mark (dropped from the text), and
    its bytes as read (what a run keeps a copy of: the very bytes its numbers come from)."""

    text: str
    bom: bool = False
    data: bytes = b""


def ordinary_mode(folder: bool = False) -> int:
    """An ordinary file's (or folder's) mode under the user's umask: what an output written
    through a private temporary (``mkstemp``, ``mkdtemp``: 0600, 0700) is given before it
    takes its name, so that it reads like any other file the user writes."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


#: A file being written whole (:func:`atomic_file`): ``.NAME.PID-HOST.RANDOM.partial`` beside
#: ``NAME`` (HOST: :func:`host_tag`), as a run's staging folder is named (:mod:`forecast.results.staging`).
PARTIAL_FILE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.(?P<random>[^.]+)\.partial$")


@cache
def host_tag() -> str:
    """This machine, in eight hex digits: a pid means a process only on the machine that wrote
    it (a ledger on a shared disk is written from several)."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


@contextmanager
def atomic_file(path: Path, mode: int | None = None) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write, which takes ``path``'s name in
    one step when the block succeeds (with ``mode``, else an ordinary file's) and is removed
    when it fails or is interrupted: a reader sees the old file or the new one, never half.
    Temporaries of ``path`` that dead processes left (SIGKILL, a power cut) are removed first."""
    path = Path(path)
    remove_dead_partials(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-{host_tag()}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, ordinary_mode() if mode is None else mode)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all (:func:`atomic_file`)."""
    with atomic_file(path, mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def remove_dead_partials(path: Path) -> list[Path]:
    """Remove the temporaries of ``path`` (:data:`PARTIAL_FILE`) that a dead process of this
    machine left: only those; one another process is writing now, here or on another machine
    sharing the folder, is left alone. Returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    here = host_tag()
    for entry in entries:
        match = PARTIAL_FILE.match(entry.name)
        if match and match["name"] == path.name and match["host"] == here and not _alive(int(match["pid"])) \
                and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                continue
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may be alive on this machine: only a pid the kernel says is no
    process is dead (another user's process cannot be signalled, and is alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def _size_words(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def read_bytes(path: Path, *, what: str, limit: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; ``what`` names what
    it should be ("a scenario .toml file") for the messages."""
    give = f"give the path of {what}"
    try:
        info = path.stat()
    except FileNotFoundError:
        raise MissingFile("no such file", give) from None
    except NotADirectoryError:
        raise MissingFile("no such file (a folder on its path is a file)", give) from None
    except PermissionError:
        raise Unreadable("cannot be reached: permission denied on a folder of its path",
                         "ask for access or copy the file somewhere you can read") from None
    except ValueError:  # a NUL character in the path
        raise FileProblem("is not a valid path", give) from None
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror})", give) from None
    if stat.S_ISDIR(info.st_mode):
        raise FileProblem("is a folder, not a file", give)
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("is not a regular file (a device, pipe or socket)", give)
    if info.st_size > limit:
        size = _size_words(info.st_size)
        size = size if size != _size_words(limit) else f"{info.st_size:,} bytes"  # not "4 MiB, more than 4 MiB"
        raise FileProblem(f"is {size}, more than the limit of {_size_words(limit)} for {what}",
                          "check that this is the file you meant")
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except PermissionError:
        raise Unreadable("cannot be read: permission denied",
                         "give yourself read access (chmod u+r) or copy the file somewhere you can read") from None
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror})", "check the disk, or copy the file elsewhere") from None
    if len(data) > limit:  # it grew while being read
        raise FileProblem(f"is more than the limit of {_size_words(limit)} for {what}",
                          "check that this is the file you meant")
    return data


def decode(data: bytes, *, what: str) -> Text:
    """UTF-8 text from ``data``; a byte-order mark is dropped and noted. Refuses UTF-16, binary
    data and bytes that are not UTF-8, with the line they are on and how to fix it."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem("is UTF-16 text", f'save it as UTF-8 (in a spreadsheet: "CSV UTF-8"; in an editor: '
                          f"encoding UTF-8) to use it as {what}")
    raw = data
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8):]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise FileProblem(f"is not a text file (line {line} holds a NUL byte: binary data?)", f"give the path of {what}")
    try:
        return Text(data.decode("utf-8"), bom, raw)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", errors="replace")) + 1
        raise FileProblem(f"is not UTF-8 text: line {line}, column {column} has the byte 0x{data[exc.start]:02x} "
                          "(another encoding, such as Latin-1 or Windows-1252?)", "save the file as UTF-8") from None


def read_text(path: Path, *, what: str, limit: int) -> Text:
    """:func:`read_bytes`, then :func:`decode`."""
    return decode(read_bytes(path, what=what, limit=limit), what=what)


# --- Parsing what was read: JSON and TOML, guarded ---------------------------------------------

#: The most digits of a whole number read from JSON: a run writes seeds and counts (ten digits
#: at most); Python's own limit (4300) would end in a message about ``sys``.
MAX_JSON_DIGITS = 30


class JsonProblem(ValueError):
    """Text that is not the JSON data a caller wants. ``syntax``: not JSON at all (``str()``
    adds the ``line`` and ``column``); otherwise JSON that holds what no file of ours holds
    (NaN or infinity, a number beyond range, nesting beyond reason). Callers add the file and
    the fix."""

    def __init__(self, reason: str, *, syntax: bool = False, line: int = 0, column: int = 0):
        self.reason, self.syntax, self.line, self.column = reason, syntax, line, column
        super().__init__(f"{reason} at line {line}, column {column}" if syntax else reason)


def _json_constant(word: str):
    raise JsonProblem(f"{word} is not a number JSON allows")


def _json_object(pairs: list[tuple[str, object]]) -> dict:
    """An object whose every key is its own: with a key given twice, Python's reader keeps the
    last value silently (a ledger line then showed 0.90 beside the Brier score of 0.35)."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise JsonProblem(f"the key {key[:40]!r} is given twice in one object")
        found[key] = value
    return found


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity
        raise JsonProblem(f"{text[:20]} is too large for a number")
    return value


def _json_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_DIGITS:
        raise JsonProblem(f"a whole number of {digits} digits, more than the limit of {MAX_JSON_DIGITS}")
    return int(text)


def parse_json(text: str):
    """JSON data from ``text``, as strictly as JSON itself is (Python's reader takes NaN and
    infinity, and keeps the last of a key given twice), with every failure a
    :class:`JsonProblem`: a syntax error with its line and column, NaN or infinity, a number too
    large, a key given twice, nesting too deep for the reader."""
    try:
        return json.loads(text, parse_constant=_json_constant, parse_float=_json_float, parse_int=_json_int,
                          object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise JsonProblem(exc.msg, syntax=True, line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise JsonProblem("nested too deeply: arrays or objects within each other thousands of levels deep, "
                          "beyond what the reader takes") from None


def parse_toml(text: str, *, kind: str, depth: int, usual: int) -> dict:
    """A TOML document from ``text``; :class:`FileProblem` with the fix for a syntax error (its
    line and column) and for nesting so deep that the reader itself would fail (``kind``: what
    the file is, "a scenario"; ``depth``: its limit of nesting; ``usual``: how deep one nests)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(f"not valid TOML: {exc}", "fix the syntax at that line") from None
    except RecursionError:
        raise FileProblem(f"tables or lists nested thousands of levels deep, more than the limit of {depth} "
                          f"({kind} needs {usual} at most)", "check the brackets") from None
