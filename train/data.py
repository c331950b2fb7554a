"""Training data: an image folder (``exegan.synthetic_faces.SyntheticFaces`` is the offline alternative), and the
exemplar augmentation.

Datasets are map-style (``len`` + ``__getitem__``) whose items are float32 ``[3, R, R]`` tensors in
[-1, 1] (``x / 127.5 - 1`` of 8-bit RGB, the model's convention) and whose item ``i`` is a pure function of
``i``, the constructor arguments (and the epoch, for the folder's random flips), so data order + content are
reproducible from the sampler's seed alone.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from exegan.images import fit_square, image_to_tensor, load_image
from exegan.progress import progress_bar

__all__ = ["ImageFolderDataset", "image_files", "jitter_exemplar"]


# ------------------------------------------------------------------------------------------- image folder
def _image_extensions() -> frozenset[str]:
    Image.init()  # registers every plugin, so the list is complete
    return frozenset(ext.lower() for ext in Image.registered_extensions())


def image_files(root: str | os.PathLike, progress: bool = False) -> list[Path]:
    """Every file under ``root`` (recursively, following no symlinked directories) whose extension PIL
    registers for a format (``.png``, ``.jpg``, ``.jpeg``, ``.webp``, ``.bmp``, ``.tif``, ...; case-insensitive),
    skipping hidden files and folders (names starting with ".") and anything that is not a regular file (FIFOs,
    devices, links to them), sorted by their path relative to ``root``. ``progress``: count the images found on a
    bar (:mod:`exegan.progress`), for folders that take long to scan."""
    root = Path(root)
    exts = _image_extensions()
    found = []
    with progress_bar(desc=f"scan {root.name or root}", unit="img", disable=not progress) as bar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            before = len(found)
            for name in filenames:
                path = Path(dirpath) / name
                if not name.startswith(".") and os.path.splitext(name)[1].lower() in exts and path.is_file():
                    found.append(path)  # regular files only (following a file symlink): no FIFO, device or socket
            bar.update(len(found) - before)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


class ImageFolderDataset(torch.utils.data.Dataset):
    """All images under ``root`` (see :func:`image_files`), each fitted to ``resolution`` x ``resolution``.

    * Loading goes through :func:`exegan.images.load_image` (EXIF orientation, alpha over white, 16-bit, palette
      and CMYK images -> 8-bit RGB), then :func:`exegan.images.fit_square` in "crop" mode: the centre square of
      side ``min(w, h)`` resized to ``resolution`` with LANCZOS, i.e. "resize the shorter side, centre crop" --
      the same preprocessing as inference.
    * ``random_flip``: item ``i`` is mirrored horizontally with probability 0.5, decided by a per-item RNG seeded
      with ``(seed, epoch, i)`` (``numpy.random.default_rng``) -- no global RNG state is touched, so the data is
      reproducible given the sampler's order, whatever the number of workers. The flip pattern changes between
      epochs only if the training loop calls :meth:`set_epoch` (like ``DistributedSampler.set_epoch``) or asks
      for ``dataset.get(i, epoch)``; otherwise each image keeps one fixed orientation (``epoch`` = 0).
    * Unreadable files (corrupt, truncated, not an image despite the extension, vanished) never stop an epoch:
      the first failure of a file issues ONE ``UserWarning``, the file is remembered as bad, and the item is the
      next readable file in sorted order (wrapping around) -- deterministic. :attr:`skipped` counts the bad files
      found so far (per process: DataLoader workers each keep their own count). If no file at all can be read,
      ``RuntimeError``.
    * ``progress``: show a bar while the folder is scanned (:func:`image_files`).
    * A folder with no image files -> ``ValueError`` at construction; a missing folder -> ``FileNotFoundError``.
    """

    def __init__(self, root: str | os.PathLike, resolution: int, random_flip: bool = True, *, seed: int = 0,
                 progress: bool = False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.root}")
        if int(resolution) < 1:
            raise ValueError(f"resolution must be positive, got {resolution}")
        self.resolution = int(resolution)
        self.random_flip = bool(random_flip)
        self.seed = int(seed)
        self.epoch = 0
        self.files = image_files(self.root, progress)
        if not self.files:
            raise ValueError(f"no image files found under {self.root} (looked recursively for extensions PIL "
                             "knows, e.g. .png .jpg .jpeg .webp .bmp .tif; hidden files are ignored)")
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    @property
    def skipped(self) -> int:
        """Number of files found unreadable so far in this process (each warned about once)."""
        return len(self._bad)

    @property
    def bad_files(self) -> list[Path]:
        return [self.files[i] for i in sorted(self._bad)]

    def set_epoch(self, epoch: int) -> None:
        """Make the random flips of ``dataset[i]`` depend on the epoch too (call it with the sampler's epoch)."""
        self.epoch = int(epoch)

    def flipped(self, index: int, epoch: int | None = None) -> bool:
        """Whether item ``index`` is mirrored in ``epoch`` (default: the one set by :meth:`set_epoch`)."""
        if not self.random_flip:
            return False
        epoch = self.epoch if epoch is None else int(epoch)
        return bool(np.random.default_rng([self.seed, epoch, int(index)]).random() < 0.5)

    def _load(self, i: int) -> torch.Tensor:
        img = load_image(self.files[i])
        img, _ = fit_square(img, self.resolution, "crop")
        return image_to_tensor(img)

    def get(self, index: int, epoch: int | None = None) -> torch.Tensor:
        """Item ``index`` with the flip of ``epoch`` (default: the one set by :meth:`set_epoch`), without
        changing any state -- for loops that know each item's epoch."""
        n = len(self.files)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} images")
        index %= n
        for k in range(n):
            i = (index + k) % n
            if i in self._bad:
                continue
            try:
                x = self._load(i)
            except (ValueError, OSError) as err:  # load_image: ValueError for bad data, OSError for I/O trouble
                self._bad.add(i)
                warnings.warn(f"skipping unreadable image {self.files[i]} ({err}); {self.skipped} file(s) skipped "
                              "so far", UserWarning, stacklevel=3)
                continue
            return torch.flip(x, dims=[2]) if self.flipped(index, epoch) else x
        raise RuntimeError(f"none of the {n} image files under {self.root} could be read")

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.get(index)


# ------------------------------------------------------------------------------------ exemplar augmentation
def jitter_exemplar(images: torch.Tensor, strength: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A colour-changed, randomly mirrored copy of ``images`` for use as their own exemplars
    (``TrainConfig.exemplar_jitter``; not in the paper), and which of them are mirrored (bool [B]).

    Per image, in [0, 1] space: ``y' = gain_c * y ** gamma + shift``, with ``log gamma ~ U(-0.4, 0.4) * s``,
    ``log gain_c ~ N(0, (0.15 s)^2)`` per channel (a tint), ``shift ~ U(-0.15, 0.15) * s`` (brightness), clamped to
    [0, 1]; then a horizontal flip with probability 0.5. The person (identity, attributes) stays; the colours no
    longer equal the ground truth's. ``images``: [B,3,H,W] in [-1,1]; draws from the global torch RNG (seeded per
    step by the training loop); ``strength`` 0 returns ``images`` itself, none mirrored."""
    b, dev = images.shape[0], images.device
    if strength <= 0:
        return images, torch.zeros(b, dtype=torch.bool, device=dev)
    u = lambda *shape: torch.rand(*shape, device=dev) * 2 - 1  # noqa: E731  U(-1, 1)
    gamma = torch.exp(0.4 * strength * u(b, 1, 1, 1))
    gain = torch.exp(0.15 * strength * torch.randn(b, 3, 1, 1, device=dev))
    shift = 0.15 * strength * u(b, 1, 1, 1)
    y = ((images + 1) / 2).clamp(0, 1).pow(gamma) * gain + shift
    y = y.clamp(0, 1) * 2 - 1
    flip = torch.rand(b, device=dev) < 0.5
    return torch.where(flip[:, None, None, None], y.flip(-1), y), flip
