"""Test images and exemplar pairing.

Test images: every image file directly in ``--data`` (or, with ``--data synthetic-faces:N[:SEED]``, N held-out
faces of the offline synthetic-faces source, :class:`exegan.synthetic_faces.SyntheticFaces`, written as
``face_0000.png``... at their native 64 px: faces no training run sees, for a protocol that needs no dataset),
sorted by file name (the official loaders sort too), each
centre-cropped to a square and resized to S x S with LANCZOS (:func:`exegan.images.fit_square`, mode "crop"),
then saved as ``<stem>.png``; these PNGs are the ground truth of every metric. (Official: scale by
max(S/h, S/w) with LANCZOS and take a *random* S x S crop; for the usual S x S test sets both are the identity.)

Exemplar pairing (``--exemplars``):

* ``batch-reverse`` (default, the official protocol of test.py, docs/official-implementation.md §6.3): the sorted list
  is cut into consecutive batches of ``batch`` (8) images and the exemplar of the k-th image of a batch is the
  ``(batch-1-k)``-th image of the same batch (``torch.flip(real, [0])``). The official DataLoader has
  ``drop_last=True``, so an incomplete last batch is dropped (N = floor(N / 8) * 8); its batches are taken as
  consecutive runs of the sorted list (i.e. no shuffling: not established, see docs/official-implementation.md
  §6.3, but the only reading under which the official pairing is reproducible). ``keep_last`` instead reverses
  the remainder among itself. With an odd remainder its middle image is its own exemplar.
* ``same``: every image is its own exemplar (self-exemplar reconstruction; the training regime of Eq. 6).
* a folder: explicit exemplars, matched by file stem when every test image has one, else by sorted position
  (the official ``--exe_path`` behaviour); fitted like the test images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from PIL import Image

from exegan import images as im

__all__ = ["IMAGE_EXTS", "SYNTHETIC", "MAX_SYNTHETIC", "synthetic_spec", "resolve_data", "list_images",
           "prepare_images", "batch_reverse_pairs", "pair_exemplars"]

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


SYNTHETIC = "synthetic-faces"
MAX_SYNTHETIC = 5000


def synthetic_spec(data: str | os.PathLike) -> tuple[int, int] | None:
    """``"synthetic-faces:N[:SEED]"`` -> ``(N, SEED)`` (SEED default 0); None for anything else (a folder)."""
    text = str(data)
    if text != SYNTHETIC and not text.startswith(SYNTHETIC + ":"):
        return None
    parts = text.split(":")[1:]
    try:
        n, seed = int(parts[0]) if parts else 0, int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        n, seed = 0, 0
    if len(parts) not in (1, 2) or not 2 <= n <= MAX_SYNTHETIC or seed < 0:
        raise ValueError(f"--data {text}: use {SYNTHETIC}:N[:SEED] with N in 2-{MAX_SYNTHETIC} and SEED >= 0")
    return n, seed


def resolve_data(data: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[list[Path], str]:
    """The test image files of ``--data`` and a description for results.json: a folder's images
    (:func:`list_images`), or the synthetic faces of :func:`synthetic_spec`, written under ``out_dir``."""
    spec = synthetic_spec(data)
    if spec is None:
        return list_images(data), str(Path(data).resolve())
    from .synthetic import held_out_faces

    n, seed = spec
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i, pixels in enumerate(held_out_faces(n, seed=seed)):  # the faces of the synthetic check
        files.append(out / f"face_{i:04d}.png")
        Image.fromarray(pixels).save(files[-1])
    return files, f"{SYNTHETIC}:{n}:{seed} (held-out faces of exegan.synthetic_faces, 64 px)"


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; stems must be unique (they name every output)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such image folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    stems = [p.stem for p in files]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise ValueError(f"image stems must be unique in {folder}: {dup[:5]}")
    if not files:
        raise FileNotFoundError(f"no images in {folder}")
    return files


def prepare_images(files: Sequence[Path], size: int, out_dir: str | os.PathLike) -> list[Path]:
    """Fit every file to ``size`` x ``size`` (centre crop + LANCZOS) and save ``out_dir/<stem>.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        img = im.load_image(f)
        if img.size != (size, size):
            img, _ = im.fit_square(img, size, "crop")
        path = out / f"{Path(f).stem}.png"
        img.save(path)
        paths.append(path)
    return paths


def batch_reverse_pairs(n: int, batch: int = 8, drop_last: bool = True) -> list[int]:
    """Exemplar index of each used image under the batch-reverse rule (length = number of images used)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    used = n - n % batch if drop_last else n
    pairs = []
    for start in range(0, used, batch):
        stop = min(start + batch, used)
        pairs.extend(range(stop - 1, start - 1, -1))
    return pairs


def pair_exemplars(gt_paths: Sequence[Path], mode: str, out_dir: str | os.PathLike, size: int, batch: int = 8,
                   keep_last: bool = False) -> tuple[list[Path], list[Path], dict]:
    """-> (ground-truth paths used, exemplar path of each, info for results.json).

    ``mode``: ``batch-reverse``, ``same`` or a folder (see module docstring); folder exemplars are fitted to
    ``size`` and written to ``out_dir``.
    """
    gt_paths = list(gt_paths)
    if mode == "batch-reverse":
        idx = batch_reverse_pairs(len(gt_paths), batch, drop_last=not keep_last)
        if not idx:
            raise ValueError(f"batch-reverse pairing with batch {batch} drops all {len(gt_paths)} images (the last "
                             "incomplete batch is dropped, as officially): use more images, --pair-batch or "
                             "--keep-last")
        used = gt_paths[:len(idx)]
        info = {"mode": mode, "batch": batch, "drop_last": not keep_last,
                "rule": "sorted names; exemplar of position k in each batch = position batch-1-k (torch.flip)"}
        return used, [gt_paths[j] for j in idx], info
    if mode == "same":
        return gt_paths, gt_paths, {"mode": mode, "rule": "each image is its own exemplar"}
    files = list_images(mode)
    by_stem = {p.stem: p for p in files}
    if all(p.stem in by_stem for p in gt_paths):
        chosen, rule = [by_stem[p.stem] for p in gt_paths], "matched by file stem"
    elif len(files) >= len(gt_paths):
        chosen, rule = files[:len(gt_paths)], "matched by sorted position"
    else:
        raise ValueError(f"{mode} has {len(files)} exemplars for {len(gt_paths)} test images and the stems differ")
    fitted = prepare_images(chosen, size, out_dir)
    return gt_paths, fitted, {"mode": "folder", "folder": str(mode), "rule": rule}
