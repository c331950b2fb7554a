"""Does a fill have its exemplar's structure? A network-free, colour-blind check of exemplar guidance, independent
of SFace (which the identity rates, the identity loss and the ``sface`` style encoder all use).

:func:`hole_structure` compares two aligned faces inside the hole only: luminance (ITU-R BT.601 weights), then per
image zero mean and unit variance over the hole's pixels, then the mean product — the normalised cross-correlation
(NCC, in [-1, 1]). A gain or offset of brightness (the exemplar's lighting, skin tone) does not change it; where the
fill puts its dark and light parts (eyes, brows, nostrils, mouth, beard) does. Pasting the exemplar's own pixels
scores 1; a flat fill scores 0.

Used by ``eval.synthetic`` on held-out faces, which are aligned alike, so the same hole covers the same facial
parts in the output and in both exemplars: guidance holds when ``NCC(out_A, A) > NCC(out_A, B)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hole_structure"]

_LUMA = np.array([0.299, 0.587, 0.114])


def _standardised_luma(images: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """[N,H,W,3] uint8 + [N,H,W] bool -> [N,H,W] float64, zero mean and unit std over each hole (0 outside it and
    where the hole is flat)."""
    y = images.astype(np.float64) @ _LUMA
    count = holes.sum((1, 2)).clip(min=1)[:, None, None]
    mean = (y * holes).sum((1, 2))[:, None, None] / count
    centred = (y - mean) * holes
    std = np.sqrt((centred ** 2).sum((1, 2))[:, None, None] / count)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-9)


def hole_structure(a: np.ndarray, b: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Per image pair: the NCC of the luminance of ``a`` and ``b`` ([N,H,W,3] uint8, aligned alike) inside
    ``holes`` ([N,H,W] bool, True = missing); 0 for an empty or flat hole."""
    if a.shape != b.shape or a.ndim != 4 or a.shape[-1] != 3 or holes.shape != a.shape[:3]:
        raise ValueError(f"expected two [N,H,W,3] images and [N,H,W] holes, got {a.shape}, {b.shape}, {holes.shape}")
    holes = holes.astype(bool)
    za, zb = _standardised_luma(a, holes), _standardised_luma(b, holes)
    return (za * zb).sum((1, 2)) / holes.sum((1, 2)).clip(min=1)
