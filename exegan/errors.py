"""Expected failures on the command line: one line naming the input and the problem, exit status 2.

Every command (``python -m exegan``, ``exegan.convert``, ``train/train.py``, ``eval.run``, ``eval.synthetic``) runs
its ``main`` through :func:`run_cli`. The errors below are what bad input, a bad file or a full disk produce; any
other exception is a bug and keeps its traceback. ``EXEGAN_DEBUG=1`` shows the traceback of expected errors too.
"""

from __future__ import annotations

import sys
from typing import Callable

from .env import env_flag

EXPECTED_ERRORS = (ValueError, OSError, FloatingPointError, RecursionError, MemoryError, KeyboardInterrupt)
"""ValueError: bad input or file contents; OSError: missing / existing / unwritable paths, full disk;
FloatingPointError: a model or a training run produced NaN/inf; RecursionError: absurdly nested input;
MemoryError: a request larger than this machine; KeyboardInterrupt: Ctrl-C."""


def describe(err: BaseException) -> str:
    """One line for a user: the error's own message (OSError: ``strerror: filename``)."""
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    if isinstance(err, RecursionError):
        return "input nested too deeply"
    if isinstance(err, MemoryError):
        return "out of memory: the request is too large for this machine"
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    return " ".join(str(err).split()) or type(err).__name__


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """``main(argv)``'s exit status; an expected error prints ``error: <one line>`` to stderr and returns 2
    (130 for Ctrl-C)."""
    try:
        return int(main(argv) or 0)
    except EXPECTED_ERRORS as err:
        if env_flag("EXEGAN_DEBUG"):
            raise
        print(f"error: {describe(err)}", file=sys.stderr)
        return 130 if isinstance(err, KeyboardInterrupt) else 2
