"""What is wrong with a scenario file, said so that a user can fix it.

Every check collects :class:`Problem` s (a key path and the fix) instead of stopping at the
first, and :class:`ScenarioError` lists them all with the file's name. Pydantic's errors are
translated here into the same form, with a "did you mean" for unknown keys.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (a key path) and what to do."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(Exception):
    """A scenario file that cannot be used. ``str()`` lists every problem with its key path."""

    def __init__(self, file: Path | str, problems: list[Problem]):
        self.file = Path(file)
        self.problems = problems
        lines = [f"{self.file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str] | dict) -> str:
    """The hint " Did you mean 'x'?" for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def keypath(loc: tuple) -> str:
    """pydantic's location tuple as the key path a user sees: ``claims[2].prior``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
