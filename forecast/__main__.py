"""The ``forecast`` executable's first lines (also ``python -m forecast``).

A signal can arrive before the command line is even read: while Python imports click and this
package. Until :func:`forecast.cli.main` puts its own handlers in place
(:mod:`forecast.interrupts`), SIGINT and SIGTERM end the process at once, with the shell's exit
code and one line, never a ``KeyboardInterrupt`` traceback: nothing has been written yet.
"""

from __future__ import annotations

import os
import signal
import sys


def _stop_at_once(signum: int, frame) -> None:
    sys.stderr.write(f"interrupted ({signal.Signals(signum).name}): stopped before the command started; nothing "
                     "was written\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def _stop_after(signum: int, frame) -> None:
    """Around the command (its own handlers are in place while it runs, and put this back):
    stop at once, without claiming anything about what was written."""
    sys.stderr.write(f"interrupted ({signal.Signals(signum).name}): stopped\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_at_once)
    from forecast.cli import main as command_line

    for signum in (signal.SIGINT, signal.SIGTERM):  # the command's own handlers take over from here
        signal.signal(signum, _stop_after)
    command_line()


if __name__ == "__main__":
    main()
