"""Face-part masks from the detector's five landmarks: eyes, brows, nose, mouth, lower face (beard) or the whole face.

Each part is a union of ellipses placed in the aligned face square (the FFHQ-style template of
:data:`exegan.align.TEMPLATE`: eyes at (0.379, 0.472) and (0.621, 0.472), mouth corners at (0.40, 0.75) and
(0.60, 0.75), in units of the square's side), and mapped into the photo through the face's alignment, so it follows
the face's position, size and tilt. Masks are ``HxW`` bool at the photo's size, True = hole (fill).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import align as al
from . import images as im


class Ellipse(NamedTuple):
    """An ellipse in template units: centre (cx, cy), radii (rx, ry); only rows with y >= ``y_min`` count."""

    cx: float
    cy: float
    rx: float
    ry: float
    y_min: float = 0.0


REGIONS: dict[str, tuple[Ellipse, ...]] = {
    "eyes": (Ellipse(0.379, 0.472, 0.085, 0.05), Ellipse(0.621, 0.472, 0.085, 0.05)),
    "brows": (Ellipse(0.379, 0.385, 0.095, 0.035), Ellipse(0.621, 0.385, 0.095, 0.035)),
    "nose": (Ellipse(0.5, 0.555, 0.065, 0.1),),
    "mouth": (Ellipse(0.5, 0.75, 0.13, 0.065),),
    "lower_face": (Ellipse(0.5, 0.76, 0.26, 0.21, y_min=0.655),),  # below the nose: mouth, chin, beard
    "face": (Ellipse(0.5, 0.58, 0.29, 0.37),),
}
"""The parts, by name (also the CLI's ``--region`` choices and the demo's buttons)."""


def region_in_square(region: str, size: int) -> np.ndarray:
    """``size x size`` bool mask of ``region`` in the aligned face square (pixel centres tested)."""
    shapes = _shapes(region)
    y, x = (np.mgrid[0:size, 0:size] + 0.5) / size
    return _inside(shapes, x, y)


def region_mask(region: str, landmarks: np.ndarray, photo_size: tuple[int, int]) -> np.ndarray:
    """``HxW`` bool mask (``photo_size`` = (W, H)) of ``region`` on the face with these 5 ``landmarks`` (photo
    coordinates, :data:`exegan.align.TEMPLATE` order)."""
    shapes = _shapes(region)
    a = al.alignment_for(landmarks, 1, photo_size)  # photo -> template units ([0, 1] = the face square)
    w, h = photo_size
    corners = a.inverse @ np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], np.float64).T
    x0, y0 = np.maximum(np.floor(corners[:2].min(1)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners[:2].max(1)).astype(int), [w, h])
    out = np.zeros((h, w), bool)
    if x1 <= x0 or y1 <= y0:
        return out
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
    m = a.matrix
    u = m[0, 0] * gx + m[0, 1] * gy + m[0, 2]
    v = m[1, 0] * gx + m[1, 1] * gy + m[1, 2]
    out[y0:y1, x0:x1] = _inside(shapes, u, v)
    return out


def face_region_mask(photo, region: str, *, face: int = 0, detector: al.Detector | None = None,
                     faces: list[al.DetectedFace] | None = None) -> np.ndarray:
    """Detect the faces of ``photo`` (any image source; or pass ``faces``) and return the ``HxW`` bool mask of
    ``region`` on face ``face`` (0 = the largest). Raises :class:`exegan.align.NoFaceError` without a face,
    ``ValueError`` for an unknown region or face."""
    _shapes(region)
    image = im.load_image(photo)
    found = list(faces) if faces is not None else (detector or al.default_detector())(image)
    if not found:
        raise al.NoFaceError("no face found in the photo, so its parts cannot be located: paint the mask by hand")
    if not 0 <= face < len(found):
        raise ValueError(f"face {face + 1} requested, but {len(found)} face(s) were found")
    return region_mask(region, found[face].landmarks, image.size)


def _shapes(region: str) -> tuple[Ellipse, ...]:
    if region not in REGIONS:
        raise ValueError(f"unknown face region {region!r}; choose one of {', '.join(REGIONS)}")
    return REGIONS[region]


def _inside(shapes: tuple[Ellipse, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape, bool)
    for e in shapes:
        out |= (((x - e.cx) / e.rx) ** 2 + ((y - e.cy) / e.ry) ** 2 <= 1) & (y >= e.y_min)
    return out
