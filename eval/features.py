"""Per-image features (Inception, identity, style codes) computed once and cached by image content.

The cache key of an image is the sha256 of its decoded 8-bit pixels (and shape), so the ground truth -- the
same for every mask, seed and method -- is embedded once, deterministic methods cost one pass for all seeds,
and re-runs (``--cache`` shared between runs) skip everything already seen. Entries live in memory and, when a
cache folder is given, on disk as ``<cache>/<extractor id>/<key[:2]>/<key>.npy``; the extractor id includes the
network's weight fingerprint, so features of different weights never mix.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from .distributed import Dist

__all__ = ["FeatureStore", "load_uint8", "content_key"]

Extractor = Callable[[np.ndarray], np.ndarray]  # uint8 [B, H, W, 3] -> [B, ...]


def load_uint8(path: str | os.PathLike) -> np.ndarray:
    """An image file -> uint8 ``[H, W, 3]`` RGB."""
    return np.asarray(Image.open(path).convert("RGB"))


def content_key(pixels: np.ndarray) -> str:
    """sha256 (hex) of an 8-bit image's shape and pixels."""
    return hashlib.sha256(f"{pixels.shape};".encode() + np.ascontiguousarray(pixels).tobytes()).hexdigest()


class FeatureStore:
    """Features of image files by content, computed in sharded batches (see module docstring)."""

    def __init__(self, dist: Dist, cache_dir: str | os.PathLike | None = None, batch_size: int = 16):
        self.dist, self.batch_size = dist, batch_size
        self.root = Path(cache_dir) if cache_dir else None
        self._keys: dict[str, str] = {}  # path -> content key
        self._mem: dict[tuple[str, str], np.ndarray] = {}  # (extractor id, key) -> feature
        self.computed: dict[str, int] = {}  # extractor id -> number of images actually run through it

    def keys(self, paths: Sequence[os.PathLike]) -> list[str]:
        """Content keys of ``paths`` (hashing sharded over processes, memoised by path)."""
        paths = [str(p) for p in paths]
        todo = list(dict.fromkeys(p for p in paths if p not in self._keys))
        if todo:
            found = self.dist.map(lambda batch: [content_key(load_uint8(p)) for p in batch], todo, 64,
                                  desc="hash images")
            self._keys.update(zip(todo, found))
        return [self._keys[p] for p in paths]

    def _file(self, extractor_id: str, key: str) -> Path:
        return self.root / extractor_id / key[:2] / f"{key}.npy"

    def features(self, extractor_id: str, extract: Extractor, paths: Sequence[os.PathLike]) -> np.ndarray:
        """``[len(paths), ...]`` features; only images whose content is in neither cache are run through
        ``extract`` (in batches of ``batch_size``, spread over processes). Every process gets the full array."""
        keys = self.keys(paths)
        rep = dict(zip(keys, (str(p) for p in paths)))  # one file per distinct content
        missing = []
        for key in rep:
            if (extractor_id, key) in self._mem:
                continue
            if self.root is not None and self._file(extractor_id, key).is_file():
                self._mem[(extractor_id, key)] = np.load(self._file(extractor_id, key))
            else:
                missing.append(key)
        if missing:
            out = self.dist.map(lambda batch: list(extract(np.stack([load_uint8(rep[k]) for k in batch]))),
                                missing, self.batch_size, desc=f"features {extractor_id.rsplit('-', 1)[0]}")
            for key, feat in zip(missing, out):
                self._mem[(extractor_id, key)] = np.asarray(feat)
            if self.root is not None and self.dist.is_main:
                for key in missing:
                    f = self._file(extractor_id, key)
                    f.parent.mkdir(parents=True, exist_ok=True)
                    with open(f.with_suffix(".tmp"), "wb") as fh:  # write, then rename: no torn entries
                        np.save(fh, self._mem[(extractor_id, key)])
                    f.with_suffix(".tmp").replace(f)
            self.dist.barrier()  # disk cache complete before anyone looks again
        self.computed[extractor_id] = self.computed.get(extractor_id, 0) + len(missing)
        return np.stack([self._mem[(extractor_id, k)] for k in keys])
