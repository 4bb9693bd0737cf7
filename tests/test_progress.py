"""What a run shows while it works (forecast.progress): lines off a terminal, live
indicators on one, nothing without progress."""

from __future__ import annotations

import io

from rich.console import Console

from forecast.progress import StageProgress, shown


def test_off_a_terminal_a_stage_writes_a_line_when_it_starts_and_when_it_ends() -> None:
    lines: list[str] = []
    progress = StageProgress(lines.append)
    with progress.stage("forecast", total=3) as advance:
        advance(1)  # no bar to move: harmless
        lines.append("work")
    assert lines[:2] == ["forecast ...", "work"]
    assert lines[2].startswith("forecast done in ") and lines[2].endswith("s")


def test_on_a_terminal_a_stage_draws_a_bar_that_leaves_only_its_end_line() -> None:
    """The live display replaces the start line and is erased at the end (transient), so a
    finished run's terminal reads like its log."""
    screen = io.StringIO()
    lines: list[str] = []
    progress = StageProgress(lines.append, live=True, console=Console(file=screen, force_terminal=True, width=100))
    with progress.stage("forecast", total=3) as advance:
        for _ in range(3):
            advance(1)
    drawn = screen.getvalue()
    assert "[forecast] forecast" in drawn and "3/3" in drawn, "the bar and its count were drawn"
    assert len(lines) == 1 and lines[0].startswith("forecast done in ")


def test_a_stage_that_draws_its_own_bars_gets_lines_even_on_a_terminal() -> None:
    screen = io.StringIO()
    lines: list[str] = []
    progress = StageProgress(lines.append, live=True, console=Console(file=screen, force_terminal=True))
    with progress.stage("sample", live=False):
        pass
    assert screen.getvalue() == ""
    assert lines[0] == "sample ..." and lines[1].startswith("sample done in ")


def test_without_progress_a_stage_shows_nothing(capsys) -> None:
    with shown(None, "forecast", total=2) as advance:
        advance(2)
    assert capsys.readouterr() == ("", "")
