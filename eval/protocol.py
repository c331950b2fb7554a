"""The fixed inputs of a run -- ground-truth PNGs, exemplar of each, masks of each bucket -- written once by the
main process under ``OUT/inputs`` (and the mask folder) and read back by every process from
``OUT/inputs/protocol.json``, so all processes and all methods use the very same files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .data import pair_exemplars, prepare_images, resolve_data
from .distributed import Dist
from .masks import materialise_masks, parse_buckets
from .report import write_json

__all__ = ["Protocol", "prepare_protocol", "output_path"]


@dataclass
class Protocol:
    """``gt[i]`` (an S x S PNG) is completed with ``exemplars[i]`` under ``masks[bucket][i]``; ``info`` goes to
    results.json (data folder, counts, pairing rule and pairs, per-bucket mask source / sha256 / hole ratios)."""

    size: int
    gt: list[Path]
    exemplars: list[Path]
    masks: dict[str, list[Path]]
    info: dict

    @property
    def names(self) -> list[str]:
        return [p.stem for p in self.gt]


def prepare_protocol(out: str | os.PathLike, data: str | os.PathLike, size: int, dist: Dist, *, masks: str,
                     exemplars: str = "batch-reverse", pair_batch: int = 8, keep_last: bool = False,
                     limit: int | None = None, mask_dir: str | os.PathLike | None = None,
                     mask_source: str | None = None, mask_seed: int = 0, mask_invert: bool = False) -> Protocol:
    """Write (main process) and load (everyone) the protocol; see :mod:`eval.data` and :mod:`eval.masks`."""
    out = Path(out)
    proto_file = out / "inputs" / "protocol.json"
    if dist.is_main:
        files, source = resolve_data(data, out / "inputs" / "source")
        files = files[:limit]
        gt_all = prepare_images(files, size, out / "inputs" / "gt")
        gt, ex, ex_info = pair_exemplars(gt_all, exemplars, out / "inputs" / "exemplars", size, pair_batch, keep_last)
        sets = materialise_masks(parse_buckets(masks), len(gt), size, Path(mask_dir) if mask_dir else out / "masks",
                                 mask_source, mask_seed, mask_invert)
        write_json(proto_file, {
            "size": size, "gt": [str(p.resolve()) for p in gt], "exemplars": [str(p.resolve()) for p in ex],
            "masks": {b: [str(p.resolve()) for p in s.paths] for b, s in sets.items()},
            "info": {"data": source, "n_available": len(files), "n": len(gt),
                     "exemplars": {**ex_info, "pairs": {g.stem: e.stem for g, e in zip(gt, ex)}},
                     "masks": {b: s.info for b, s in sets.items()}}})
    dist.barrier()
    d = json.loads(proto_file.read_text())
    return Protocol(d["size"], [Path(p) for p in d["gt"]], [Path(p) for p in d["exemplars"]],
                    {b: [Path(p) for p in ps] for b, ps in d["masks"].items()}, d["info"])


def output_path(out: str | os.PathLike, label: str, mask: str, seed: int, name: str) -> Path:
    """Where a completion is saved: ``OUT/outputs/<method>/<mask>/seed<seed>/<stem>.png``."""
    return Path(out) / "outputs" / label / mask / f"seed{seed}" / f"{name}.png"
