"""On/off switches from the environment (``EXEGAN_DEBUG``, ``EXEGAN_PROGRESS``, the demo's ``EXEGAN_APP_*``), read
by one rule: ``1``, ``true``, ``yes``, ``on`` are on; ``0``, ``false``, ``no``, ``off`` are off (any case, spaces
ignored); unset or anything else is "not set"."""

from __future__ import annotations

import os

__all__ = ["env_flag"]

_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_flag(name: str) -> bool | None:
    """True / False for an on / off value of ``$name``; None when it is unset or neither."""
    value = os.environ.get(name, "").strip().lower()
    return True if value in _ON else False if value in _OFF else None
