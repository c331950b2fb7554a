"""Test masks, materialised to disk once so that every method and every run sees identical masks.

Buckets (``--masks``): ``center`` (the fixed square [S/4, 3S/4)^2, 128x128 at 256: the paper's "Fixed 128x128")
and hole-ratio ranges ``LO-HI`` in percent (``10-20`` ... ``50-60``: the paper's irregular-mask rows, presumably
the NVIDIA irregular test-mask categories 2..6, docs/official-implementation.md §6.3). Mask i of a bucket goes with test
image i.

Where ratio masks come from:

* generated (default): ``exegan.masks.ratio_mask(S, rng, lo, hi)`` with
  ``rng = numpy.random.default_rng([mask_seed, round(1000 lo), round(1000 hi), i])``, so mask i depends only on
  (seed, bucket, i), never on N, the method or the process layout;
* a folder of mask pictures (e.g. the NVIDIA irregular mask test set): every file is read as grayscale, resized
  to S x S with NEAREST, hole = value > 0 (the official rule; ``invert`` for black-hole masks), and put in the
  bucket its *measured* hole ratio at S falls in (``lo <= r < hi``); files sorted by name, image i takes bucket
  mask ``i % count`` (as the official loader, which cycles through its sorted list).

Layout: ``DIR/<bucket>/<i:06d>.png`` (8-bit, white = hole) plus ``DIR/manifest.json`` (parameters, per-bucket
sha256 of the mask set, hole-ratio summary, source file names). A manifest whose parameters match is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from exegan.masks import center_mask, hole_ratio, ratio_mask

__all__ = ["MaskBucket", "MaskSet", "parse_buckets", "materialise_masks", "load_mask", "mask_sha256", "mask_set_sha256",
           "DEFAULT_BUCKETS"]

DEFAULT_BUCKETS = "center,10-20,20-30,30-40,40-50,50-60"
_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class MaskBucket:
    """``center`` (low = high = None) or a hole-ratio range [low, high) as fractions."""

    name: str
    low: float | None = None
    high: float | None = None

    @property
    def is_center(self) -> bool:
        return self.low is None


@dataclass
class MaskSet:
    """The materialised masks of one bucket: ``paths[i]`` goes with test image i."""

    bucket: MaskBucket
    paths: list[Path]
    sha256: str
    info: dict = field(default_factory=dict)


def parse_buckets(text: str) -> list[MaskBucket]:
    """``"center,10-20,..."`` -> buckets (ranges in percent, 0 <= lo < hi <= 100)."""
    buckets = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "center":
            buckets.append(MaskBucket("center"))
            continue
        m = re.fullmatch(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", part)
        if not m or not 0 <= float(m[1]) < float(m[2]) <= 100:
            raise ValueError(f"bad mask bucket {part!r}: use 'center' or LO-HI in percent, e.g. 10-20")
        buckets.append(MaskBucket(part, float(m[1]) / 100, float(m[2]) / 100))
    if not buckets or len({b.name for b in buckets}) != len(buckets):
        raise ValueError(f"need one or more distinct mask buckets, got {text!r}")
    return buckets


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """A materialised mask file -> bool ``[S, S]`` (True = hole)."""
    return np.asarray(Image.open(path).convert("L")) > 127


def mask_sha256(mask: np.ndarray) -> str:
    """sha256 (hex) of one bool mask (shape and bits)."""
    m = np.asarray(mask, bool)
    return hashlib.sha256(f"{m.shape};".encode() + np.packbits(m).tobytes()).hexdigest()


def mask_set_sha256(masks: Sequence[np.ndarray] | Sequence[str]) -> str:
    """sha256 (hex) of a sequence of masks, in order: the sha256 of their :func:`mask_sha256` digests (which may
    be passed instead of the masks)."""
    digests = [m if isinstance(m, str) else mask_sha256(m) for m in masks]
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def _read_folder(folder: Path, size: int, invert: bool) -> tuple[list[str], list[np.ndarray]]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXTS)
    if not files:
        raise FileNotFoundError(f"no mask images in {folder}")
    masks = []
    for p in files:
        img = Image.open(p).convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.NEAREST)
        hole = np.asarray(img) > 0
        masks.append(~hole if invert else hole)
    return [p.name for p in files], masks


def _bucket_masks(bucket: MaskBucket, n: int, size: int, seed: int,
                  folder: tuple[list[str], list[np.ndarray]] | None) -> tuple[list[np.ndarray], dict]:
    if bucket.is_center:
        m = center_mask(size) > 0.5
        return [m] * n, {"source": f"center square [{size // 4}, {3 * size // 4})^2"}
    if folder is None:
        lo, hi = bucket.low, bucket.high
        masks = [ratio_mask(size, np.random.default_rng([seed, round(1000 * lo), round(1000 * hi), i]), lo, hi) > 0.5
                 for i in range(n)]
        return masks, {"source": "generated: exegan.masks.ratio_mask", "seed": seed,
                       "rng": "numpy.random.default_rng([seed, round(1000*lo), round(1000*hi), index])"}
    names, arrays = folder
    members = [i for i, m in enumerate(arrays) if bucket.low <= hole_ratio(m) < bucket.high]
    if not members:
        raise ValueError(f"no mask in the folder has a hole ratio in [{bucket.low}, {bucket.high}) at {size}x{size}")
    chosen = [members[i % len(members)] for i in range(n)]
    return [arrays[j] for j in chosen], {"source": "folder", "candidates": len(members),
                                         "files": [names[j] for j in chosen]}


def materialise_masks(buckets: Sequence[MaskBucket], n: int, size: int, out_dir: str | os.PathLike,
                      source: str | os.PathLike | None = None, seed: int = 0,
                      invert: bool = False) -> dict[str, MaskSet]:
    """Write (or reuse) ``n`` masks per bucket under ``out_dir``; returns ``{bucket name: MaskSet}``.

    ``source``: None to generate ratio masks, or a folder of mask pictures (see module docstring).
    """
    out = Path(out_dir)
    params = {"size": size, "n": n, "seed": seed, "invert": invert,
              "source": str(Path(source).resolve()) if source else "generated"}
    manifest_path = out / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    folder = None
    result = {}
    kept = old.get("buckets", {}) if old.get("params") == params else {}
    manifest = {"params": params, "buckets": dict(kept)}  # other buckets of the same parameters stay listed
    for bucket in buckets:
        paths = [out / bucket.name / f"{i:06d}.png" for i in range(n)]
        entry = old.get("buckets", {}).get(bucket.name)
        if old.get("params") == params and entry and all(p.is_file() for p in paths):
            sha = mask_set_sha256([load_mask(p) for p in paths])
            if sha == entry["sha256"]:
                manifest["buckets"][bucket.name] = entry
                result[bucket.name] = MaskSet(bucket, paths, sha, entry)
                continue
        if source and not bucket.is_center and folder is None:
            folder = _read_folder(Path(source), size, invert)
        masks, info = _bucket_masks(bucket, n, size, seed, folder)
        (out / bucket.name).mkdir(parents=True, exist_ok=True)
        for p, m in zip(paths, masks):
            Image.fromarray(m.astype(np.uint8) * 255).save(p)
        ratios = [hole_ratio(m) for m in masks]
        entry = {**info, "sha256": mask_set_sha256(masks), "count": n,
                 "hole_ratio": {"mean": float(np.mean(ratios)), "min": float(np.min(ratios)),
                                "max": float(np.max(ratios))}}
        manifest["buckets"][bucket.name] = entry
        result[bucket.name] = MaskSet(bucket, paths, entry["sha256"], entry)
    out.mkdir(parents=True, exist_ok=True)
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(manifest_path)
    return result
