"""Progress bars (tqdm) for long loops, with one rule for the library, training and evaluation.

A bar is drawn on stderr when stderr is a terminal. The environment variable ``EXEGAN_PROGRESS`` overrides that:
``0`` hides every bar, ``1`` draws them even when stderr is redirected (a log file, a test). A caller's
``disable=True`` (a process other than the main one, ``--progress_bar false``) always wins.
"""

from __future__ import annotations

import sys
from typing import Iterable

from tqdm import tqdm

from .env import env_flag

__all__ = ["ENV", "progress_enabled", "progress_bar", "write"]

ENV = "EXEGAN_PROGRESS"


def progress_enabled(disable: bool | None = None) -> bool:
    """Whether a bar is shown: never when ``disable`` is true; else ``EXEGAN_PROGRESS`` (1/0) when set, else
    whether stderr is a terminal."""
    if disable:
        return False
    setting = env_flag(ENV)
    if setting is not None:
        return setting
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(iterable: Iterable | None = None, *, total: float | None = None, desc: str | None = None,
                 unit: str = "it", disable: bool | None = None, **kwargs) -> tqdm:
    """A tqdm bar on stderr over ``iterable`` (or updated by hand with ``.update(n)``), shown as
    :func:`progress_enabled` decides; ``kwargs`` go to tqdm (``initial``, ``leave``, ...). A hidden bar iterates
    and accepts every call, so callers need no second code path."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not progress_enabled(disable),
                file=sys.stderr, dynamic_ncols=True, **kwargs)


def write(line: str) -> None:
    """Print ``line`` on stdout without breaking a bar that is being drawn (the bar is cleared and redrawn)."""
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()
