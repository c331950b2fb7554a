"""Sharding work over Accelerate processes (``accelerate launch ... -m eval.run``); a no-op single-process.

Work lists are cut into batches; process r handles batches b with ``b % world == r``; results are gathered with
``accelerate.utils.gather_object`` and put back in order, so every process ends with the full result list. The
output folder must be visible to all processes (one machine, or a shared filesystem).
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import torch

__all__ = ["Dist"]

T = TypeVar("T")
R = TypeVar("R")


class Dist:
    """Process layout from ``accelerate.PartialState`` (rank 0 of 1 when not launched by Accelerate)."""

    def __init__(self):
        from accelerate import PartialState
        from accelerate.utils import parse_flag_from_env

        # AcceleratorState honours ACCELERATE_USE_CPU (CPU multi-process runs, gloo); PartialState only via cpu=
        self.state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
        self.rank, self.world = self.state.process_index, self.state.num_processes
        self.is_main = self.state.is_main_process
        self.device: torch.device = self.state.device

    def __enter__(self) -> "Dist":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Tear the process group down before the interpreter exits: a gloo group left to die with the process can
        abort it ("terminate called without an active exception") after the work is done."""
        if self.world > 1:
            self.state.destroy_process_group()

    def barrier(self) -> None:
        if self.world > 1:
            self.state.wait_for_everyone()

    def map(self, fn: Callable[[list[T]], list[R]], items: Sequence[T], batch_size: int = 16,
            desc: str | None = None) -> list[R]:
        """``fn`` over ``items`` in batches, batches spread over processes; the results of all items, in order.
        ``desc``: name of a progress bar on the main process (rate, ETA; ``exegan.progress`` decides whether it
        is drawn), counting this process's items."""
        from exegan.progress import progress_bar

        items = list(items)
        batches = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
        mine = range(self.rank, len(batches), self.world)
        local = []
        with progress_bar(total=sum(len(batches[b]) for b in mine), desc=desc, unit="img",
                          disable=desc is None or not self.is_main) as bar:
            for b in mine:
                out = fn(batches[b])
                if len(out) != len(batches[b]):
                    raise RuntimeError(f"batch function returned {len(out)} results for {len(batches[b])} items")
                local.append((b, out))
                bar.update(len(out))
        if self.world > 1:
            local = self.gather(local)
        return [r for _, out in sorted(local, key=lambda x: x[0]) for r in out]

    def gather(self, local: list) -> list:
        """Every process's ``local`` list, concatenated (``accelerate.utils.gather_object``)."""
        from accelerate.utils import gather_object

        return gather_object(local)
