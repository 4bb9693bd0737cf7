"""The ledger: every scored forecast, one JSON object per line, kept across runs.

``forecast score`` appends to it; nothing else writes it. An analyst follows each question
over time in it (every run that forecast the question, under the strategy that was enacted,
with the outcome and its scores) and, once enough forecasts are scored, reads the
reliability table. It lives beside the runs, in the folder that holds the run scored
(``reports/ledger.jsonl`` for runs in the default folder): ``forecast score RUN_DIR`` writes
there, and ``forecast ledger`` reads there, given the run, the folder or nothing
(:func:`ledger_at`).

Each line is self-contained (see :func:`forecast.scoring.score.ledger_entry`)::

    {"ledger": 1, "scored": "...", "run": {"path", "created", "scenario", "manifest_sha256",
     "inputs", "draws"}, "question": {"id", "text", "resolution", "rule", "year"},
     "strategy", "baseline", "probability", "mcse", "outcome", "resolved_value",
     "resolution_date", "source", "brier", "log_score", "resolutions": {"file", "row"}}

The ledger is rewritten atomically on each append (a new file renamed over the old), so a
failure leaves it as it was.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from forecast import interrupts
from forecast.files import FileProblem, JsonProblem, MiB, MissingFile, atomic_file, parse_json, read_text
from forecast.results.shapes import MANIFEST, JsonShape, json_kind, shape_problems
from forecast.scoring.errors import LedgerError, MissingLedger
from forecast.scoring.scores import RELIABILITY_MIN, Reliability, reliability

LEDGER = "ledger.jsonl"
VERSION = 1
#: The largest ledger read (an entry takes about 1 kB: a quarter of a million scored forecasts).
MAX_LEDGER_BYTES = 256 * MiB
#: The folder runs go to by default (``forecast run``'s ``--out``), so the default ledger's.
RUNS_FOLDER = Path("reports")


def beside(run_dir: str | Path) -> Path:
    """The ledger of a run: ``ledger.jsonl`` in the folder that holds the run directory, shared
    by the runs in it."""
    return Path(run_dir).resolve().parent / LEDGER


def ledger_at(path: str | Path = RUNS_FOLDER) -> Path:
    """The ledger a user means by ``path``: a run directory's (:func:`beside` it, where
    ``forecast score`` writes for that run), a folder's own ``ledger.jsonl`` (a folder of runs),
    or the file itself; a path that does not exist is a folder unless it names a file (has a
    suffix). The default is the default folder of runs' ledger, ``reports/ledger.jsonl``."""
    path = Path(path)
    if path.is_dir():
        return beside(path) if (path / MANIFEST).is_file() else path / LEDGER
    return path / LEDGER if not path.exists() and not path.suffix else path


def ledgers_in(folder: str | Path = ".") -> list[Path]:
    """The ledgers in ``folder`` and its subfolders one level down (``runs/ledger.jsonl``), to
    point a user who looked in the wrong place to the right one."""
    folder = Path(folder)
    found = [folder / LEDGER] + sorted(folder.glob(f"*/{LEDGER}"))
    return [f for f in found if f.is_file()]


@dataclass
class Ledger:
    """The entries of a ledger file, in the order they were scored."""

    path: Path
    entries: list[dict] = field(default_factory=list)
    raw: bytes = b""  # the file as read: an append checks that nobody changed it since

    @classmethod
    def read(cls, path: str | Path, *, missing_ok: bool = True) -> Ledger:
        """Every entry of the ledger at ``path``; a missing file is an empty ledger unless
        ``missing_ok`` is false. The file is read as every file a user gives is
        (:func:`forecast.files.read_text`: a regular file within :data:`MAX_LEDGER_BYTES`,
        UTF-8), each line as a run's JSON is (:func:`forecast.files.parse_json`), and each entry
        is checked strictly (:class:`Entry`): a line that is not an entry is an error naming
        its line and what is wrong."""
        path = Path(path)
        try:
            read = read_text(path, what="a ledger (.jsonl, written by `forecast score`)", limit=MAX_LEDGER_BYTES)
        except MissingFile:
            if missing_ok:
                return cls(path)
            raise MissingLedger(f"{path}: no such ledger; `forecast score RUN_DIR RESOLUTIONS.csv` writes one beside the "
                              "run, ledger.jsonl in the folder that holds RUN_DIR (or where its --ledger says)") from None
        except FileProblem as exc:
            raise LedgerError(f"{path}: {exc}") from None
        lines = [(n, line) for n, line in enumerate(read.text.splitlines(), start=1) if line.strip()]
        return cls(path, [_entry(path, n, line, first=i == 0) for i, (n, line) in enumerate(lines)], read.data)

    def scored_for(self, manifest_sha256: str) -> dict[str, str]:
        """The questions already scored for one run (its manifest's sha256): id -> where."""
        return {e["question"]["id"]: f"ledger line {e['line']}, scored {e['scored']}"
                for e in self.entries if e["run"].get("manifest_sha256") == manifest_sha256}

    def by_question(self) -> dict[str, list[dict]]:
        """Each question's scored forecasts over time (by the run's creation, then scoring),
        questions in the order they first entered the ledger."""
        out: dict[str, list[dict]] = {}
        for e in self.entries:
            out.setdefault(e["question"]["id"], []).append(e)
        return {q: sorted(es, key=lambda e: (e["run"].get("created") or "", e["scored"])) for q, es in out.items()}

    def reliability(self, minimum: int = RELIABILITY_MIN) -> Reliability | None:
        """The reliability table over every scored forecast, or None below ``minimum`` of them."""
        if len(self.entries) < minimum:
            return None
        return reliability([e["probability"] for e in self.entries], [e["outcome"] for e in self.entries],
                           [e["log_score"] for e in self.entries])

    def frame(self):
        """One row per scored forecast, as a pandas DataFrame (for a notebook)."""
        import pandas as pd

        return pd.DataFrame([{
            "question": e["question"]["id"], "text": e["question"].get("text"),
            "run": e["run"].get("path"), "run_created": e["run"].get("created"),
            "scenario": e["run"].get("scenario"), "strategy": e["strategy"], "probability": e["probability"],
            "mcse": e.get("mcse"), "outcome": e["outcome"], "resolved_value": e.get("resolved_value"),
            "resolution_date": e.get("resolution_date"), "source": e.get("source"), "brier": e["brier"],
            "log_score": e["log_score"], "scored": e["scored"]} for e in self.entries])


class RunRef(JsonShape):
    path: str | None = None
    created: str | None = None
    scenario: str | None = None
    manifest_sha256: str | None = None
    inputs: dict[str, str] = {}
    draws: int | None = Field(default=None, ge=1)


class QuestionRef(JsonShape):
    id: str
    text: str
    resolution: str = ""
    rule: str = ""
    year: int | None = None


#: A log score above this is no score this tool writes: probabilities are kept at least
#: 1/(2 draws) from 0 and 1 (``forecast.scoring.scores``), so -ln p stays far below it.
LOG_SCORE_LIMIT = 100.0


class Entry(JsonShape):
    """What :func:`forecast.scoring.score.ledger_entry` writes, as the ledger's views and the
    reliability table read it: strict kinds (``"ledger": true`` is no version, ``"0.7"`` no
    probability), probabilities and scores within their ranges."""

    ledger: int
    scored: str
    run: RunRef
    question: QuestionRef
    strategy: str
    baseline: bool | None = None
    probability: float = Field(ge=0.0, le=1.0)
    mcse: float | None = Field(default=None, ge=0.0)
    outcome: bool
    resolved_value: Literal["yes", "no"] | float
    resolution_date: str | None = None
    source: str | None = None
    brier: float = Field(ge=0.0, le=1.0)
    log_score: float = Field(ge=0.0, le=LOG_SCORE_LIMIT)


def _entry(path: Path, n: int, line: str, *, first: bool = False) -> dict:
    """Line ``n`` of the ledger as an entry (with its line number), or :class:`LedgerError`. A
    file whose first line is no entry is most likely not a ledger at all (a scenario file or a
    run's summary.json given as --ledger): it is not to be edited, but replaced by the right path."""
    fix = ("so this is not a ledger (the JSON-lines file `forecast score` writes, ledger.jsonl): give the path of "
           "one" if first else "the ledger is written by `forecast score` only: restore the line or remove it")
    try:
        entry = parse_json(line)
    except JsonProblem as exc:
        if exc.syntax:
            raise LedgerError(f"{path}, line {n}: not JSON ({exc.reason} at column {exc.column}); {fix}") from None
        raise LedgerError(f"{path}, line {n}: not a ledger entry ({exc.reason}); {fix}") from None
    if not isinstance(entry, dict):
        raise LedgerError(f"{path}, line {n}: not a ledger entry ({json_kind(entry)}; an entry is a JSON object "
                          f"{{ ... }}); {fix}")
    found = shape_problems(Entry, entry)
    if found:
        raise LedgerError(f"{path}, line {n}: not a ledger entry ({'; '.join(found)}); {fix}")
    if entry["ledger"] != VERSION:
        raise LedgerError(f"{path}, line {n}: ledger version {entry['ledger']!r}; this forecast reads version "
                          f"{VERSION}")
    return entry | {"line": n}


def append(path: str | Path, entries: list[dict], *, expected: bytes | None = None) -> Ledger:
    """Add ``entries`` to the ledger at ``path`` in one step: the old lines and the new ones are
    written to a new file beside it, which is renamed over the old. Returns the ledger as it
    now is. With ``expected`` (the file as it was read when the entries were checked against
    it), a ledger changed since is refused. The ledger's folder must exist (a mistyped
    --ledger makes no directories)."""
    path = Path(path)
    try:
        if path.parent.exists() and not path.parent.is_dir():
            raise LedgerError(f"{path}: {path.parent} is a file, not a folder; give another --ledger")
        if not path.parent.is_dir():
            raise LedgerError(f"{path}: the folder {path.parent} does not exist; create it or give another --ledger")
        return _append(path, entries, expected)
    except OSError as exc:  # a read-only place, a full disk
        raise LedgerError(f"cannot write the ledger {path}: {exc.strerror or exc}; nothing was written: give a --ledger "
                          "in a folder you can write to") from None


def _append(path: Path, entries: list[dict], expected: bytes | None) -> Ledger:
    for e in entries:  # what the ledger would refuse when read next is never written into it
        found = shape_problems(Entry, e)
        if found:
            raise LedgerError(f"{path}: the new scores are not ledger entries ({'; '.join(found)}); nothing was "
                              "written: the run's numbers are out of range, so re-run its scenario")
    before = path.read_bytes() if path.exists() else b""
    if expected is not None and before != expected:
        raise LedgerError(f"{path} changed while scoring (another `forecast score`?); nothing was written: "
                          "run the command again")
    lines = "".join(json.dumps(e, ensure_ascii=False, allow_nan=False) + "\n" for e in entries).encode("utf-8")
    joint = b"" if not before or before.endswith(b"\n") else b"\n"
    with atomic_file(path, mode=path.stat().st_mode & 0o777 if path.exists() else None) as tmp:
        with open(tmp, "wb") as f:
            f.write(before + joint + lines)
            f.flush()
            os.fsync(f.fileno())
        now = path.read_bytes() if path.exists() else b""
        if now != before:
            raise LedgerError(f"{path} changed while scoring (another `forecast score`?); nothing was written: "
                              "run the command again")
    interrupts.committed()  # the scores are in the ledger: a signal now no longer undoes them
    return Ledger.read(path)


