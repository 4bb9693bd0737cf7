"""The README's commands are real: every command and option it names exists."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from forecast.cli import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _forecast_lines() -> list[list[str]]:
    """Every line of the README's code blocks that runs ``forecast``, as arguments after it."""
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", README, flags=re.S)
    found = []
    for block in blocks:
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            for part in command.split("&&"):
                words = shlex.split(part)
                for i, word in enumerate(words):
                    if word == "forecast" or word.endswith("/forecast"):
                        found.append(words[i + 1:])
                        break
    return found


LINES = _forecast_lines()


def test_the_readme_shows_forecast_commands() -> None:
    assert len(LINES) >= 5


@pytest.mark.parametrize("args", LINES, ids=lambda a: " ".join(a[:2]))
def test_every_command_and_option_in_the_readme_exists(args: list[str]) -> None:
    name, rest = args[0], args[1:]
    assert name in cli.commands, f"README names `forecast {name}`, which does not exist"
    command = cli.commands[name]
    options = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts + p.secondary_opts}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"`forecast {name}` has no option {word}"


def test_the_readme_is_for_users_and_short() -> None:
    lines = README.splitlines()
    assert len(lines) <= 150
    assert not re.search(r"\b[0-9a-f]{7,40}\b", README), "no commit hashes in the README"
    assert not re.search(r"\b\d{1,2}:\d{2}\b", README), "no times of day in the README"


def test_the_readme_gives_every_exit_code_the_command_has() -> None:
    from forecast.cli import EPILOG

    codes = re.findall(r"^\s+(\d+)\s", EPILOG, flags=re.M) + re.findall(r"; (\d+):", EPILOG)
    table = README[README.index("| exit | meaning |"):]
    assert sorted(codes) == ["0", "1", "130", "143", "2", "3"]
    for code in codes:
        assert re.search(rf"^\| (?:\d+, )*{code}(?:, \d+)* \|", table, flags=re.M), code
