"""The demo's logic without its user interface: requests in, images and messages out (no Gradio needed).

``app.py`` lays out the Gradio page, builds an :class:`InpaintRequest` from the controls, calls :func:`inpaint` or
:func:`mixing_sweep` and shows the :class:`Outcome`. Everything here works on plain values: an image editor payload
(a dict), image sources (anything :func:`exegan.images.load_image` reads: path, PIL image, HxWxC array), numbers.

Failures meant for the user raise :class:`DemoError`, whose message is one sentence saying what to do. Notices
(adjustments made to a request, fallbacks taken) are collected in :class:`Notes`, shown in the outcome's status
text, and handed one by one to a ``notify`` callback as they happen (``warnings.warn`` unless one is given).

Controls -> pipeline arguments (:func:`pipeline_kwargs`):

* *Samples per exemplar* -> ``n_samples``; at most :data:`MAX_OUTPUTS` images per request in total.
* *Seed* -> ``seed`` (the same seed and settings give the same images).
* *Truncation psi* -> ``truncation``.
* *Exemplar strength* k -> ``phi`` = the last k of the model's usable latents (``min(n_latent, n_styles)``), i.e.
  the exemplar drives the fine-to-middle styles first and, at the top of the scale, also the coarse ones (pose,
  face shape). k equal to the size of the model's official phi (10 of 14 at 256: latents 4-13) is the official
  phi exactly (``phi=None``); 0 ignores the exemplar. *Pick latents by hand* replaces the slider by an explicit
  list of latents.
* *Style mixing* with exemplars A and B -> ``mix`` = crossover c: the first c exemplar-driven latents (coarser)
  from A, the rest from B. *Sweep* renders every c (:meth:`ExeGAN.mixing_sweep`).
* *Align* -> :func:`exegan.align.inpaint_photo` (detect, align, inpaint, paste back); off -> ``fit``.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
from PIL import Image

from . import align as al
from . import images as im
from .env import env_flag

__all__ = ["DemoError", "ModelUnavailable", "Notes", "ModelManager", "InpaintRequest", "Outcome", "FaceSearch",
           "inpaint", "mixing_sweep", "find_faces", "read_photo_and_mask", "read_exemplars", "pipeline_kwargs",
           "phi_limit", "default_strength", "strength_to_phi", "selected_latents", "latent_choices", "random_seed",
           "strip", "model_switch_allowed", "model_switch_policy", "model_presets",
           "public_text"]

MIN_SIDE = 32
"""Photos and exemplars smaller than this on either side are refused: no face can be read or filled in them.
(Large photos are processed at their own resolution, up to ``exegan.images.MAX_PIXELS``.)"""
MAX_SAMPLES = 8
MAX_OUTPUTS = 16
MAX_SEED = 2 ** 31 - 1
MODE_SEPARATE, MODE_MIX = "separate", "mix"
FIT_MODES = ("pad", "crop", "stretch")
EMPTY_CAPTION = "input (nothing to fill)"
SHARP_SIZE = 256
"""Models below this resolution get a notice that fills of real photos will be soft (the face is upscaled)."""
UPSCALE_NOTICE = 2.0
"""Say so with a result when its fill was upscaled by more than this factor into the photo."""
MODEL_GUIDANCE = (
    "The bundled model is a small 64×64 demo trained on synthetic faces: on real photos its fills are soft and "
    "may not match the skin tone. For sharp results use the authors' FFHQ models (256 or 512 px, non-commercial "
    "licence): download `EXE_GAN_model_256.pt` (or `_512.pt`) and `psp_ffhq_encode.pt` from the links in the "
    "authors' repository (LonglongaaaGo/EXE-GAN on GitHub), convert them once with "
    "`python -m exegan.convert --exe EXE_GAN_model_256.pt --psp psp_ffhq_encode.pt --out exegan-ffhq-256`, and "
    "start the demo with `EXEGAN_MODEL=exegan-ffhq-256 python app.py` (or set the Space variable `EXEGAN_MODEL` "
    "to a Hub repo holding the converted model).")
"""What to do for better results on photos: shown in the demo's model panel."""
RETRY_SECONDS = 30.0  # after a failed model load, wait this long before trying again

Progress = Callable[[float, str], object]
"""Called as ``progress(fraction in [0, 1], description)`` while a request runs."""
Notify = Callable[[str], object]
"""Called with each notice for the user as it happens."""


# ----------------------------------------------------------------------------------------------- messages
class DemoError(ValueError):
    """A request the demo cannot run; the message is one sentence for the user, saying what to do."""


class ModelUnavailable(DemoError):
    """No model is loaded and none could be: the message says why and how to provide one."""


class Notes(list):
    """Notices for the user, in order (``str`` each, one sentence). :meth:`add` also hands each one to ``notify``
    (default ``warnings.warn``), so an interface can show it at once rather than only in the final status."""

    def __init__(self, notify: Notify | None = None):
        super().__init__()
        self.notify = notify or warnings.warn

    def add(self, message: str) -> None:
        message = _sentence(message)
        self.append(message)
        self.notify(message)


def _sentence(text: str) -> str:
    """``text`` as a sentence: capitalised, ending with a full stop (unless it already ends a sentence)."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ----------------------------------------------------------------------------------------------- the model
def model_presets() -> list[str]:
    """The models the operator offers (``EXEGAN_MODELS``: comma-separated folders / Hub repo ids)."""
    return [s.strip() for s in os.environ.get("EXEGAN_MODELS", "").split(",") if s.strip()]


def model_switch_policy() -> str:
    """Who may switch the one shared model, as the operator set it (safe by default, e.g. on a public Space):

    - ``"off"`` (default, and always with ``EXEGAN_APP_LOCK_MODEL=1``): nobody; the Model panel is hidden and
      ``/load_model`` refuses;
    - ``"presets"`` (``EXEGAN_MODELS`` set): visitors choose among the operator's presets only;
    - ``"any"`` (``EXEGAN_APP_ALLOW_MODEL_SWITCH=1``, for a demo on your own machine): any folder, Hub repo or
      pair of the authors' files the server can read.
    """
    if env_flag("EXEGAN_APP_LOCK_MODEL"):
        return "off"
    if env_flag("EXEGAN_APP_ALLOW_MODEL_SWITCH"):
        return "any"
    return "presets" if model_presets() else "off"


def model_switch_allowed() -> bool:
    """Whether the Model panel and ``/load_model`` are offered (:func:`model_switch_policy` is not ``"off"``)."""
    return model_switch_policy() != "off"


_PATH = re.compile(r"(?<![\w.~-])~?(?:[\\/][^\s\\/'\"`:,;()]+)+[\\/]?")  # absolute path, not "org/name"


def public_text(text: str) -> str:
    """``text`` with every absolute server path reduced to its last part (``/srv/models/tiny`` -> ``tiny``), for
    messages shown to visitors."""
    return _PATH.sub(lambda m: Path(m.group(0).rstrip("/\\")).name or "/", text)


class ModelManager:
    """The one active model of the demo (shared by all users), loaded on first use and swapped on request.

    ``source``: a folder / Hub repo in exegan's format; None = ``$EXEGAN_MODEL``, then the bundled default model.
    ``model_kwargs`` go to ``ExeGAN.load`` (default: ``$EXEGAN_DEVICE`` / ``$EXEGAN_PRECISION``, else precision "auto").
    ``lock`` serialises inference (the model's exemplar-code cache is not thread-safe).
    """

    def __init__(self, source: str | None = None, **model_kwargs):
        self.source = source
        self.model_kwargs = model_kwargs or _env_model_kwargs()
        self.model = None
        self.error: str | None = None
        self.failed_at = 0.0
        self.lock = threading.RLock()

    def get(self):
        """The active ``ExeGAN``, loaded now if needed. Raises :class:`ModelUnavailable` when it cannot be loaded
        (and, for :data:`RETRY_SECONDS` after a failure, without trying again)."""
        with self.lock:
            if self.model is None:
                if self.error is not None and time.monotonic() - self.failed_at < RETRY_SECONDS:
                    raise ModelUnavailable(self._unavailable())  # do not hammer the Hub on every request
                self._load_default()
            return self.model

    def _load_default(self) -> None:
        from .pipeline import ExeGAN

        try:
            self.model = ExeGAN.load(self.source, **self.model_kwargs)
            self.error = None
        except (FileNotFoundError, ValueError, OSError) as err:
            self.error = str(err)
            self.failed_at = time.monotonic()
            raise ModelUnavailable(self._unavailable()) from None

    def _unavailable(self) -> str:
        text = public_text(f"No model is loaded: {self.error.rstrip('.')}.")
        if "EXEGAN_MODEL" not in text:
            text += " Set EXEGAN_MODEL to a model folder or Hub repo id and restart."
        return text + (" You can also load one in the Model panel below." if model_switch_allowed() else "")

    def load(self, source: str | None = None, exe: str | None = None, psp: str | None = None):
        """Switch everyone to ``source`` (folder / Hub repo in exegan's format), or to the authors' checkpoint
        files ``exe`` (EXE_GAN_model_*.pt) + ``psp`` (psp_ffhq_encode.pt), and return the new model. Raises
        :class:`DemoError` when switching is disabled, the arguments are incomplete or loading fails; the active
        model then stays."""
        from .pipeline import ExeGAN

        policy = model_switch_policy()
        if policy == "off":
            raise DemoError("Switching models is disabled on this server (the operator enables it with "
                            "EXEGAN_MODELS or EXEGAN_APP_ALLOW_MODEL_SWITCH).")
        source, exe, psp = (s.strip() if isinstance(s, str) and s.strip() else None for s in (source, exe, psp))
        if policy == "presets" and (exe or psp or source not in model_presets()):
            raise DemoError("This server offers only its listed models: " + ", ".join(
                public_text(p) for p in model_presets()) + ".")
        if not (source or exe or psp):
            raise DemoError("Give a model folder or Hugging Face Hub repo id (org/name), or both of the authors' "
                            "files.")
        if bool(exe) != bool(psp):
            raise DemoError("The authors' weights need both files: EXE_GAN_model_*.pt and psp_ffhq_encode.pt.")
        try:
            model = (ExeGAN.from_official(exe, psp, **self.model_kwargs) if exe
                     else ExeGAN.load(source, **self.model_kwargs))
        except (FileNotFoundError, ValueError, OSError, RuntimeError) as err:
            raise DemoError(_sentence(public_text(f"Could not load the model: {err}"))) from None
        with self.lock:
            self.model, self.error = model, None
            self.source = f"{exe} + {psp}" if exe else source
        return model

    def describe(self) -> str:
        """Markdown: the active model (name, resolution, licence, source) or why there is none."""
        try:
            m = self.get()
        except ModelUnavailable as err:
            return f"⚠️ **{err}**"
        c = m.config
        phi = m.resolve_phi(None)
        text = (f"**Model:** {c.name} · **resolution** {m.size}×{m.size} · **licence:** {c.license}  \n"
                f"source: `{public_text(self.source or _default_source_text())}`"
                + (f" ({public_text(c.source)})" if c.source else ""))
        if phi:
            text += f" · {m.n_latent} latents; official exemplar-driven latents {phi[0]}–{phi[-1]}"
        text += f" · runs on {m.device.type} in {m.precision}"
        if m.size < SHARP_SIZE:
            text += (f"  \n⚠️ This {m.size}×{m.size} model fills faces at {m.size} px, so fills in real photos look "
                     "soft: see **Sharper results on photos** below.")
        return text


def _env_model_kwargs() -> dict:
    kw = {}
    if os.environ.get("EXEGAN_DEVICE"):
        kw["device"] = os.environ["EXEGAN_DEVICE"]
    if os.environ.get("EXEGAN_PRECISION"):
        kw["precision"] = os.environ["EXEGAN_PRECISION"]
    return kw


def _default_source_text() -> str:
    from .checkpoints import default_model_source

    try:
        return default_model_source()
    except FileNotFoundError:
        return "none"


# ----------------------------------------------------------------------------------------------- the request
@dataclass
class InpaintRequest:
    """One run of the demo: the page's control values, which are also the parameters of the ``/inpaint`` API
    (``/mixing_sweep`` takes the same minus ``more_exemplars``, ``n_samples``, ``mode`` and ``crossover``).
    Values are taken as the controls deliver them (numbers may be floats, lists may be None) and checked when the
    request runs. Image fields take any image source: a path, a PIL image of any mode, an HxWxC array."""

    photo: dict | None = None
    """The image editor's value: ``{"background": photo, "layers": [painted layers], "composite": ...}``. The hole
    is the union of the layers' ``alpha > 0`` (layers without alpha are read like mask pictures, white = hole)."""
    mask_image: Any = None
    """An uploaded mask picture (white = hole), combined with the painted hole; resized to the photo."""
    exemplar: Any = None
    """Exemplar A: the face whose attributes (eyes, glasses, beard, expression...) fill the hole."""
    exemplar_b: Any = None
    """Exemplar B: a second exemplar with its own results, or the partner of A in style mixing."""
    more_exemplars: Sequence | None = None
    """Further exemplars, each with its own results (ignored in style mixing)."""
    n_samples: int = 4
    """Results per exemplar, 1..:data:`MAX_SAMPLES`; lowered so that one request makes at most
    :data:`MAX_OUTPUTS` images."""
    seed: int = 0
    """0..:data:`MAX_SEED`: the same seed and settings give the same images."""
    truncation: float = 1.0
    """Truncation psi in 0..2 for the random codes: below 1 more typical, 1 none."""
    strength: int | None = None
    """Exemplar strength k in 0..:func:`phi_limit`: the exemplar drives the last k latents; None = the model's
    official phi."""
    custom_phi: bool = False
    """Use ``phi_latents`` instead of ``strength``."""
    phi_latents: Sequence[int] | None = None
    """The exemplar-driven latents, picked by hand (indices into the model's latents)."""
    mode: str = MODE_SEPARATE
    """:data:`MODE_SEPARATE`: each exemplar its own results; :data:`MODE_MIX`: A and B mixed at ``crossover``."""
    crossover: int | None = None
    """Style mixing: the first c exemplar-driven latents (coarse) from A, the rest from B; None = half of them."""
    align: bool = True
    """Detect and align the face FFHQ-style, fill it, paste it back; off (or no face found) = ``fit``."""
    face: int | str | None = None
    """Which detected face to fill: 1 = the largest (also None / "" / 0), 2 = the next one..."""
    align_exemplars: bool = True
    """Detect the face in each exemplar and crop it the same way (no face: the centre square)."""
    fit: str = "pad"
    """Without alignment, the picture is fitted to the model's square by one of :data:`FIT_MODES`."""


# ----------------------------------------------------------------------------------------------- controls
def phi_limit(model) -> int:
    """Latents that can be exemplar-driven: the style encoder gives one code per latent up to its n_styles."""
    return min(model.n_latent, model.style_encoder.n_styles)


def default_strength(model) -> int:
    """The strength that gives the model's official phi: its number of exemplar-driven latents."""
    return len(model.resolve_phi(None))


def strength_to_phi(model, strength: int) -> list[int] | None:
    """Exemplar strength k -> phi: the last k usable latents; the official phi (None) at the default strength."""
    limit = phi_limit(model)
    k = int(strength)
    if not 0 <= k <= limit:
        raise DemoError(f"Exemplar strength must be in 0..{limit}, got {k}.")
    if k == default_strength(model):
        return None
    return list(range(limit - k, limit))


def selected_latents(model, strength: int) -> list[int]:
    """The latents that exemplar strength k drives (for the per-latent selector's display)."""
    return model.resolve_phi(strength_to_phi(model, strength))


def latent_resolution(j: int, size: int) -> int:
    """The resolution whose layers latent j styles (StyleGAN2 order: 0 -> 4 px, 1-2 -> 8 px, 3-4 -> 16 px, ...)."""
    return min(size, 4 if j == 0 else 2 ** (2 + (j + 1) // 2))


def latent_choices(model) -> list[tuple[str, int]]:
    """(label, latent) pairs of the per-latent selector, labelled "j · R px (coarse|middle|fine: ...)"."""
    out = []
    for j in range(phi_limit(model)):
        r = latent_resolution(j, model.size)
        kind = "coarse: pose, shape" if r <= 8 else "middle: features" if r <= 32 else "fine: colour, texture"
        out.append((f"{j} · {r} px ({kind})", j))
    return out


def resolve_phi(model, strength: int, custom: bool, latents: Sequence | None) -> list[int] | None:
    """phi for ``ExeGAN.inpaint``: the hand-picked ``latents`` when ``custom``, else from ``strength``; None when
    it is the model's official phi."""
    if custom:
        idx = sorted({int(v) for v in (latents or [])})
        return model.resolve_phi(idx) if idx != model.resolve_phi(None) else None
    return strength_to_phi(model, strength)


def pipeline_kwargs(model, request: InpaintRequest, n_exemplars: int = 1) -> tuple[dict, list[str]]:
    """The request's controls -> keyword arguments of ``ExeGAN.inpaint`` (``n_samples``, ``seed``, ``truncation``,
    ``phi``, and ``mix`` in style mixing), plus notices of the adjustments made (crossover capped, fewer samples
    so that ``n_exemplars`` x ``n_samples`` <= :data:`MAX_OUTPUTS`). Raises :class:`DemoError` for values out of
    range."""
    notes = []
    n = int(request.n_samples)
    if not 1 <= n <= MAX_SAMPLES:
        raise DemoError(f"Samples per exemplar must be in 1..{MAX_SAMPLES}, got {n}.")
    seed = int(request.seed)
    if not 0 <= seed <= MAX_SEED:
        raise DemoError(f"The seed must be in 0..{MAX_SEED}, got {seed}.")
    psi = float(request.truncation)
    if not 0 <= psi <= 2:
        raise DemoError(f"Truncation psi must be in 0..2, got {psi}.")
    strength = default_strength(model) if request.strength is None else request.strength
    phi = resolve_phi(model, strength, request.custom_phi, request.phi_latents)
    kw: dict[str, Any] = dict(n_samples=n, seed=seed, truncation=psi, phi=phi)
    if request.mode == MODE_MIX:
        n_phi = len(model.resolve_phi(phi))
        c = n_phi // 2 if request.crossover is None else int(request.crossover)
        if c > n_phi:
            notes.append(f"Only {n_phi} latents are exemplar-driven, so crossover {c} became {n_phi}.")
            c = n_phi
        kw["mix"] = max(0, c)
    else:
        groups = max(1, n_exemplars)
        if n * groups > MAX_OUTPUTS:
            kw["n_samples"] = max(1, MAX_OUTPUTS // groups)
            notes.append(f"{groups} exemplars × {n} samples would be more than {MAX_OUTPUTS} images, so "
                         f"{kw['n_samples']} samples per exemplar are made.")
    return kw, notes


def random_seed() -> int:
    """A fresh random seed in 0..:data:`MAX_SEED`."""
    return secrets.randbelow(MAX_SEED + 1)


# ----------------------------------------------------------------------------------------------- inputs
def _layer_alpha(layer) -> np.ndarray | None:
    """A painted layer -> hole (HxW bool): ``alpha > 0`` when the layer has alpha (the editor's RGBA layers),
    otherwise the layer is read like a mask picture (white = hole)."""
    if layer is None:
        return None
    if isinstance(layer, np.ndarray) and layer.ndim == 3 and layer.shape[-1] == 4:
        return layer[..., 3] > 0
    if isinstance(layer, np.ndarray) and layer.ndim == 2:
        return layer > 0
    if not isinstance(layer, (np.ndarray, Image.Image)):
        try:
            layer = im.open_image(layer)
        except (OSError, ValueError, TypeError) as err:
            raise DemoError(_sentence(public_text(f"The painted mask layer could not be read: {err}"))) from None
    if isinstance(layer, Image.Image) and ("A" in layer.getbands() or "transparency" in layer.info):
        return np.asarray(layer.convert("RGBA"))[..., 3] > 0
    return np.asarray(im.load_mask(layer)) > 0


def editor_mask(value: dict | None, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The painted hole of an image editor value (HxW bool): the union over its layers of ``alpha > 0`` (the
    eraser restores alpha 0). None when nothing was painted. ``size`` (w, h): resize the layers to it."""
    if not value:
        return None
    hole = None
    for layer in value.get("layers") or []:
        a = _layer_alpha(layer)
        if a is None:
            continue
        if size is not None and a.shape[::-1] != tuple(size):
            a = np.asarray(Image.fromarray(a).resize(size, Image.Resampling.NEAREST))
        hole = a if hole is None else (hole | a)
    if hole is None or not hole.any():
        return None
    return hole


def editor_background(value: dict | None):
    """The photo of an editor value: its background (or the composite when there is no background); None for
    no value or a fully transparent canvas."""
    if not value:
        return None
    bg = value.get("background")
    if bg is None:
        bg = value.get("composite")
    if isinstance(bg, Image.Image) and bg.mode in ("RGBA", "LA", "PA"):
        alpha = np.asarray(bg.getchannel("A"))
    elif isinstance(bg, np.ndarray) and bg.ndim == 3 and bg.shape[-1] == 4:
        alpha = bg[..., 3]
    else:
        return bg
    return bg if alpha.any() else None


def _check_size(image: Image.Image, what: str) -> Image.Image:
    if min(image.size) < MIN_SIDE:
        raise DemoError(f"{what} is {image.width}×{image.height} pixels, too small to show a face: use a picture "
                        f"at least {MIN_SIDE} pixels on each side.")
    return image


def read_photo_and_mask(editor: dict | None, mask_image=None, notes: Notes | None = None
                        ) -> tuple[Image.Image, np.ndarray]:
    """Photo (RGB) + hole (HxW bool, True = fill) from the editor's painted layers and/or an uploaded mask
    picture (white = hole; the union of both). The photo keeps its resolution; a mask picture of another size is
    resized to it with a notice. Raises :class:`DemoError` without a readable photo or mask, or for a photo
    under :data:`MIN_SIDE` px."""
    notes = Notes() if notes is None else notes
    bg = editor_background(editor)
    if bg is None:
        raise DemoError("Add a face photo first: upload it, paste it or take one with the webcam in the editor.")
    try:
        photo = im.load_image(bg)
    except (ValueError, TypeError, OSError) as err:
        raise DemoError(_sentence(public_text(f"The photo could not be read: {err}"))) from None
    _check_size(photo, "The photo")
    hole = editor_mask(editor, photo.size)
    if mask_image is not None:
        try:
            m = im.load_mask(mask_image)
        except (ValueError, TypeError, OSError) as err:
            raise DemoError(_sentence(public_text(f"The mask image could not be read: {err}"))) from None
        if m.size != photo.size:
            notes.add(f"The mask image is {m.width}×{m.height}, the photo {photo.width}×{photo.height}: "
                      "the mask was resized to the photo.")
            m = m.resize(photo.size, Image.Resampling.NEAREST)
        up = np.asarray(m) > 0
        hole = up if hole is None else hole | up
    if hole is None:
        hole = np.zeros(photo.size[::-1], bool)
    return photo, hole


def read_exemplars(exemplar=None, exemplar_b=None, more=None, mode: str = MODE_SEPARATE) -> list[Image.Image]:
    """Exemplars as RGB images: A, B, then the extra ones; style mixing (:data:`MODE_MIX`) takes exactly A and B.
    Raises :class:`DemoError` when one cannot be read or the mode lacks exemplars."""
    def load(src, what):
        try:
            image = im.load_image(src)
        except (ValueError, TypeError, OSError) as err:
            raise DemoError(_sentence(public_text(f"{what} could not be read: {err}"))) from None
        return _check_size(image, what)

    if mode == MODE_MIX:
        if exemplar is None or exemplar_b is None:
            raise DemoError("Style mixing needs two exemplars: give exemplar A and exemplar B.")
        return [load(exemplar, "Exemplar A"), load(exemplar_b, "Exemplar B")]
    more = list(more or [])
    given = (exemplar is not None) + (exemplar_b is not None) + len(more)
    if given > MAX_OUTPUTS:  # each exemplar makes at least one image: checked before anything is read
        raise DemoError(f"{given} exemplars were given; at most {MAX_OUTPUTS} per request (one result each at "
                        "least). Remove some extra exemplars.")
    out = []
    if exemplar is not None:
        out.append(load(exemplar, "Exemplar A"))
    if exemplar_b is not None:
        out.append(load(exemplar_b, "Exemplar B"))
    for i, f in enumerate(more):
        out.append(load(f, f"Extra exemplar {i + 1}"))
    if not out:
        raise DemoError("Add at least one exemplar face: the filled region takes its attributes (eyes, glasses, "
                        "beard, expression...) from the exemplar.")
    return out


def masked_preview(photo: Image.Image, hole: np.ndarray) -> Image.Image:
    """The photo with the hole (HxW bool) shown as grey stripes: what the model has to fill."""
    a = np.asarray(photo).copy()
    yy, xx = np.mgrid[0:hole.shape[0], 0:hole.shape[1]]
    stripes = np.where(((xx + yy) // max(2, max(hole.shape) // 64)) % 2 == 0, 150, 110).astype(np.uint8)
    a[hole] = stripes[hole][:, None]
    return Image.fromarray(a)


# ----------------------------------------------------------------------------------------------- faces
AUTO_FACE_LABEL = "The face(s) under the mask"


def face_choices(faces: Sequence[al.DetectedFace]) -> list[tuple[str, int]]:
    """(label, face number): 0 = the face(s) the mask covers (the default), then each face from 1 = the largest."""
    return [(AUTO_FACE_LABEL, 0)] + [(f"Face {i + 1}{' (largest)' if i == 0 else ''}: {f.describe()}", i + 1)
                                     for i, f in enumerate(faces)]


def face_index(face) -> int | None:
    """A face number -> 0-based index, or None (None / "" / 0) for the face(s) the mask covers. Raises
    :class:`DemoError` for a value that is not a face number."""
    if face in (None, "") or face == AUTO_FACE_LABEL:
        return None
    try:
        n = int(float(face))
    except (TypeError, ValueError):
        raise DemoError(f"Face must be a face number (1 = the largest, 0 = the face under the mask), got "
                        f"{face!r}.") from None
    return None if n <= 0 else n - 1


def _check_face(index: int | None, faces: Sequence) -> None:
    """Refuse a chosen face number (0-based ``index``; None = the face under the mask) the photo does not have."""
    if index is not None and index >= len(faces):
        raise DemoError(f"Face {index + 1} was chosen, but the photo has {len(faces)} face(s): press 'Find faces' "
                        "again.")


def _detector_or_none(notes: Notes):
    try:
        return al.default_detector()
    except al.DetectorUnavailable as err:
        notes.add(f"Face detection is not available ({err}); the picture is used as it is.")
        return None


class FaceSearch(NamedTuple):
    """What :func:`find_faces` found."""

    choices: list[tuple[str, int]]
    """(label, face number) per face, from 1 = the largest; empty when none was found."""
    preview: Image.Image | None
    """The photo with numbered boxes around the faces (face 1 highlighted); None without a photo."""
    message: str
    """One line for the user: how many faces, which one is used, or why none."""


def find_faces(editor: dict | None, notify: Notify | None = None) -> FaceSearch:
    """Detect the faces in the editor's photo (largest first). Raises :class:`DemoError` for an unreadable
    photo."""
    notes = Notes(notify)
    if editor_background(editor) is None:
        return FaceSearch([], None, "Upload a photo to find faces.")
    photo, _ = read_photo_and_mask(editor, None, notes)
    det = _detector_or_none(notes)
    if det is None:
        return FaceSearch([], None, " ".join(notes))
    faces = det(photo)
    if not faces:
        return FaceSearch([], photo, "No face found. Turn alignment off to use the picture as it is (best for "
                                     "256×256 face crops).")
    msg = (f"{len(faces)} faces found: the face(s) you paint over are filled; pick one in the list to fill only "
           "that one." if len(faces) > 1 else f"One face found ({faces[0].describe()}).")
    return FaceSearch(face_choices(faces), al.draw_faces(photo, faces, None if len(faces) > 1 else 0),
                      " ".join(notes + [msg]))


REGION_LABELS = {"eyes": "Eyes", "brows": "Brows", "nose": "Nose", "mouth": "Mouth", "lower_face": "Lower face",
                 "face": "Whole face"}
"""The face parts offered as one-click masks (``exegan.regions``), with their button labels."""
BRUSH_RGBA = (255, 0, 204, 153)
"""A part mask is added to the editor as a layer painted in the brush's colour (alpha > 0 = fill)."""


def add_region(editor: dict | None, region: str, face=None, notify: Notify | None = None) -> tuple[dict, str]:
    """The editor value with the mask of face part ``region`` added to its painted layer (so the brush and eraser
    can refine it), and a one-line message. The part is located from the landmarks of face ``face`` (a face
    number; default the largest). Raises :class:`DemoError` without a photo, a detector or a face."""
    from . import regions

    if region not in REGION_LABELS:
        raise DemoError(f"Unknown face part {region!r}; choose one of {', '.join(REGION_LABELS.values())}.")
    notes = Notes(notify)
    photo, hole = read_photo_and_mask(editor, None, notes)
    det = _detector_or_none(notes)
    if det is None:
        raise DemoError("Face parts need the face detector, which is not available: paint the mask by hand.")
    faces = det(photo)
    if not faces:
        raise DemoError("No face found in the photo, so its parts cannot be located: paint the mask by hand.")
    index = face_index(face) or 0
    _check_face(index, faces)
    part = regions.region_mask(region, faces[index].landmarks, photo.size)
    layer = np.zeros((photo.height, photo.width, 4), np.uint8)
    layer[hole | part] = BRUSH_RGBA
    composite = np.asarray(photo.convert("RGBA")).copy()
    composite[hole | part] = (0.4 * composite[hole | part] + 0.6 * np.array(BRUSH_RGBA)).astype(np.uint8)
    who = f" of face {index + 1}" if len(faces) > 1 else ""
    value = {"background": photo, "layers": [Image.fromarray(layer, "RGBA")],
             "composite": Image.fromarray(composite, "RGBA")}
    return value, f"{REGION_LABELS[region]}{who} added to the mask ({int(part.sum())} pixels); refine it with the " \
                  "brush or the eraser."


# ----------------------------------------------------------------------------------------------- running
@dataclass
class Outcome:
    """What a run produced: ``images`` (RGB, the photo's size; only hole pixels differ from ``photo``) with one
    caption each, the photo and hole (HxW bool) that were used, the notices, and the aligned face crop as the
    model saw it (None without alignment)."""

    images: list[Image.Image]
    captions: list[str]
    photo: Image.Image
    hole: np.ndarray
    notes: list[str] = field(default_factory=list)
    aligned_view: Image.Image | None = None
    seconds: float = 0.0
    summary: str = ""
    """What was made, e.g. "4 results"; a status headline."""
    nothing_to_fill: bool = False
    """The mask was empty: ``images`` is just the photo."""
    names: list[str] = field(default_factory=list)
    """A download file name per image: ``photo_e<exemplar>_s<seed>.png`` (the seed that regenerates it alone)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage (:data:`STAGES` names); ``seconds`` is their sum, the request end to end."""

    @property
    def gallery(self) -> list[tuple[Image.Image, str]]:
        return list(zip(self.images, self.captions))

    @property
    def masked(self) -> Image.Image:
        """The input as the model gets it: the photo with the hole striped grey."""
        return masked_preview(self.photo, self.hole)

    def _breakdown(self) -> str:
        parts = [f"{STAGE_LABELS.get(k, k)} {v:.1f} s" for k, v in self.timings.items() if k in STAGE_LABELS]
        return f" ({', '.join(parts)})" if len(parts) > 1 else ""

    @property
    def status(self) -> str:
        """Markdown: what was made and how long it took, then each notice."""
        lines = ["Nothing to fill." if self.nothing_to_fill else
                 f"{self.summary} in {self.seconds:.1f} s{self._breakdown()}. Click a result to compare it with "
                 "the original."]
        lines += [f"⚠️ {n}" for n in self.notes]
        if self.aligned_view is not None:
            lines.append("The face was detected and aligned; results are pasted back into the full photo.")
        return "  \n".join(lines)


class Stages:
    """The stages of one request, timed end to end: ``stages("generate")`` ends the running stage, starts the named
    one and reports it to ``progress`` (its fraction and description from :data:`STAGES`); ``seconds`` holds the
    time spent in each stage, :attr:`total` their sum."""

    def __init__(self, progress: Progress | None = None):
        self.progress = progress
        self._mark = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self._current: str | None = None

    def __call__(self, name: str) -> None:
        self._stop(name)
        if self.progress is not None:
            fraction, description = STAGES[name]
            self.progress(fraction, description)

    def finish(self) -> "Stages":
        """End the running stage (the times so far are final); a later call starts another stage, and the time in
        between counts as ``"done"``, so :attr:`total` stays end to end."""
        self._stop("done")
        return self

    def _stop(self, then: str) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.seconds[self._current] = self.seconds.get(self._current, 0.0) + now - self._mark
        self._current, self._mark = then, now

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


STAGES = {"read": (0.02, "Reading the inputs"), "exemplars": (0.1, "Aligning the exemplars"),
          "detect": (0.15, "Detecting faces"), "align": (0.25, "Aligning the face"),
          "generate": (0.35, "Generating"), "paste": (0.85, "Pasting the results back into the photo"),
          "save": (0.92, "Saving the results"), "done": (1.0, "Done")}
"""Stage name -> (progress fraction when it starts, what the user reads); the status lists them as timed."""
STAGE_LABELS = {"read": "reading", "detect": "detection", "exemplars": "exemplar alignment", "align": "alignment",
                "generate": "generation", "paste": "paste-back", "save": "saving"}


def inpaint(manager: ModelManager, request: InpaintRequest, *, progress: Progress | None = None,
            notify: Notify | None = None, stages: Stages | None = None) -> Outcome:
    """Fill the request's hole guided by its exemplars: ``n_samples`` results per exemplar, exemplar-major, or
    ``n_samples`` mixes of A and B in :data:`MODE_MIX`. Raises :class:`DemoError` for a request that cannot run.
    ``stages``: a running :class:`Stages` to continue (an interface that times its own steps too); by default a
    new one reporting to ``progress``."""
    stages = stages or Stages(progress)
    stages("read")
    notes = Notes(notify)
    mode = MODE_MIX if request.mode == MODE_MIX else MODE_SEPARATE
    request = replace(request, mode=mode)
    exemplars = read_exemplars(request.exemplar, request.exemplar_b, request.more_exemplars, mode)
    model = manager.get()
    kwargs, adjustments = pipeline_kwargs(model, request, n_exemplars=len(exemplars))
    for n in adjustments:
        notes.add(n)
    out = _generate(manager, model, request, exemplars, kwargs, sweep=False, notes=notes, stages=stages)
    if out.nothing_to_fill:
        return out
    n, seed = kwargs["n_samples"], kwargs["seed"]
    if "mix" in kwargs:  # sample s was drawn from seed + s: each result is regenerated alone from its seed
        captions = [f"A+B mixed at {kwargs['mix']} · seed {seed + s}" for s in range(n)]
        names = [f"photo_mix{kwargs['mix']}_s{seed + s}.png" for s in range(n)]
    else:
        captions = [f"exemplar {e + 1} · seed {seed + s}" for e in range(len(exemplars)) for s in range(n)]
        names = [f"photo_e{e + 1}_s{seed + s}.png" for e in range(len(exemplars)) for s in range(n)]
    summary = f"{len(out.images)} result{'s' if len(out.images) != 1 else ''}"
    return replace(out, captions=captions, names=names, summary=summary)


def mixing_sweep(manager: ModelManager, request: InpaintRequest, *, progress: Progress | None = None,
                 notify: Notify | None = None, stages: Stages | None = None) -> Outcome:
    """Every style-mixing crossover c = 0..len(phi) between exemplars A and B, one result each (c latents from
    A); ``more_exemplars``, ``n_samples``, ``mode`` and ``crossover`` are not used. Raises :class:`DemoError`
    for a request that cannot run. ``stages`` as in :func:`inpaint`."""
    stages = stages or Stages(progress)
    stages("read")
    notes = Notes(notify)
    exemplars = read_exemplars(request.exemplar, request.exemplar_b, None, MODE_MIX)
    model = manager.get()
    kwargs, _ = pipeline_kwargs(model, replace(request, n_samples=1, mode=MODE_SEPARATE))
    kwargs.pop("n_samples")
    out = _generate(manager, model, request, exemplars, kwargs, sweep=True, notes=notes, stages=stages)
    if out.nothing_to_fill:
        return out
    k = len(out.images) - 1
    captions = [f"crossover {c}: {c} latent{'s' if c != 1 else ''} from A, {k - c} from B" for c in range(k + 1)]
    names = [f"photo_cross{c}_s{kwargs['seed']}.png" for c in range(k + 1)]
    return replace(out, captions=captions, names=names, summary=f"sweep of {k + 1} crossovers")


def _generate(manager: ModelManager, model, request: InpaintRequest, exemplars: list[Image.Image], kwargs: dict,
              *, sweep: bool, notes: Notes, stages: Stages) -> Outcome:
    """Read the photo and hole, then inpaint (or sweep) either the aligned face or the fitted picture; the
    outcome is timed by ``stages`` (finished here). Its captions and summary are left to the caller."""
    photo, hole = read_photo_and_mask(request.photo, request.mask_image, notes)
    if request.fit not in FIT_MODES:
        raise DemoError(f"Fit must be one of {', '.join(FIT_MODES)}, got {request.fit!r}.")
    if not hole.any():
        notes.add("The mask is empty: paint over the region to fill (or upload a mask, white = hole). "
                  "The photo is returned unchanged.")
        stages.finish()
        return Outcome([photo], [EMPTY_CAPTION], photo, hole, notes, seconds=stages.total,
                       nothing_to_fill=True, timings=dict(stages.seconds))
    face = face_index(request.face)
    align, align_exemplars = bool(request.align), bool(request.align_exemplars)
    aligned_view = None
    with manager.lock:
        try:
            det = _detector_or_none(notes) if align or align_exemplars else None
            if align_exemplars and det is not None:
                stages("exemplars")
                exemplars = _aligned_exemplars(exemplars, model.size, det, notes)
            if align and det is not None:
                stages("detect")
            faces = det(photo) if align and det is not None else []
            if align and det is not None and not faces:
                notes.add("No face found in the photo: it is used as it is (fitted to the model's square). "
                          "Aligned face crops work best; turn alignment off to skip detection.")
            if faces:
                _check_face(face, faces)
                res = al.inpaint_photo(model, photo, hole, exemplars, face=face, faces=faces,
                                       align_exemplars=False, sweep=sweep, on_stage=stages, **kwargs)
                for n in res.notes:
                    notes.add(_sentence(n))
                images = res.images
                _upscale_notice(model.size, res.alignment.zoom, notes)
                aligned_view = masked_preview(res.crop, res.crop_mask)
                if aligned_view.width < 256:  # tiny models: enlarge for display, pixels kept visible
                    aligned_view = aligned_view.resize((256, 256), Image.Resampling.NEAREST)
            elif sweep:
                stages("generate")
                _upscale_notice(model.size, max(photo.size) / model.size, notes)
                images = model.mixing_sweep(photo, hole, exemplars[0], exemplars[1], fit=request.fit, **kwargs)
            else:
                stages("generate")
                _upscale_notice(model.size, max(photo.size) / model.size, notes)
                images = model.inpaint(photo, hole, exemplars, fit=request.fit, **kwargs)
        except DemoError:
            raise
        except ValueError as err:  # the model refuses an input
            raise DemoError(_sentence(str(err))) from None
        except FloatingPointError as err:  # the model, not the input, is at fault
            raise DemoError(_sentence(public_text(str(err)))) from None
    stages.finish()
    return Outcome(list(images), [], photo, hole, notes, aligned_view, stages.total, timings=dict(stages.seconds))


def _upscale_notice(size: int, zoom: float, notes: Notes) -> None:
    """A notice when the model's ``size`` px fill is stretched ``zoom`` photo pixels per model pixel."""
    if zoom > UPSCALE_NOTICE:
        notes.add(f"This model fills faces at {size}×{size} px; here the fill was enlarged {zoom:.0f}× into your "
                  f"photo, so it looks soft. A {SHARP_SIZE} or 512 px model gives sharp results: see 'Sharper "
                  "results on photos' below.")


def _aligned_exemplars(exemplars: list, size: int, det, notes: Notes) -> list[Image.Image]:
    out = []
    for i, ex in enumerate(exemplars):
        crop, face = al.align_exemplar(ex, size, det)
        if face is None:
            notes.add(f"No face found in exemplar {i + 1}: its centre square is used.")
        out.append(crop)
    return out


def strip(images: Sequence[Image.Image], height: int = 256) -> Image.Image:
    """The images side by side, scaled to a common ``height``, 2 px white gaps (the sweep's strip)."""
    scaled = [i.resize((max(1, round(i.width * height / i.height)), height), Image.Resampling.LANCZOS)
              if i.height != height else i for i in images]
    out = Image.new("RGB", (sum(i.width for i in scaled) + 2 * (len(scaled) - 1), height), (255, 255, 255))
    x = 0
    for i in scaled:
        out.paste(i, (x, 0))
        x += i.width + 2
    return out
