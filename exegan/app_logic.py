"""What the Gradio demo (``app.py``) does, as plain functions: importable and testable without a model or a server.

``app.py`` only lays out components and wires them to the handlers here. Each handler takes the components'
values (an ``gr.ImageEditor`` dict, file paths, numbers) and returns the outputs; user mistakes raise
``gr.Error`` with a message that says what to do, notices go to ``gr.Warning`` / ``gr.Info`` *and* to the status
text the handler returns (so API clients see them too).

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
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import gradio as gr
import numpy as np
from PIL import Image

from . import align as al
from . import images as im

MAX_SIDE = int(os.environ.get("EXEGAN_APP_MAX_SIDE", "2048"))
"""Photos larger than this on their long side are downscaled (with a notice) before processing."""
MAX_SAMPLES = 8
MAX_OUTPUTS = 16
MAX_SEED = 2 ** 31 - 1
MODE_SEPARATE, MODE_MIX = "separate", "mix"
FIT_MODES = ("pad", "crop", "stretch")
EMPTY_CAPTION = "input (nothing to fill)"
RETRY_SECONDS = 30.0  # after a failed model load, wait this long before trying again


# ----------------------------------------------------------------------------------------------- the model
class ModelUnavailable(RuntimeError):
    pass


def model_switch_allowed() -> bool:
    """``EXEGAN_APP_LOCK_MODEL=1`` (e.g. on a public Space) hides the model switch and refuses it via the API."""
    return os.environ.get("EXEGAN_APP_LOCK_MODEL", "").strip().lower() not in ("1", "true", "yes")


class ModelManager:
    """The one active model of the app (shared by all users), loaded on first use and swapped on request.

    ``source``: a folder / Hub repo in our format; None = ``$EXEGAN_MODEL``, then the bundled default model.
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
        with self.lock:
            if self.model is None:
                if self.error is not None and time.monotonic() - self.failed_at < RETRY_SECONDS:
                    raise ModelUnavailable(self._unavailable())  # do not hammer the Hub on every request
                self._load_default()
            return self.model

    def _load_default(self):
        from .pipeline import ExeGAN

        try:
            self.model = ExeGAN.load(self.source, **self.model_kwargs)
            self.error = None
        except (FileNotFoundError, ValueError, OSError) as err:
            self.error = str(err)
            self.failed_at = time.monotonic()
            raise ModelUnavailable(self._unavailable()) from None

    def _unavailable(self) -> str:
        text = f"No model is loaded: {self.error.rstrip('.')}."
        if "EXEGAN_MODEL" not in text:
            text += " Set EXEGAN_MODEL to a model folder or Hub repo id and restart."
        return text + (" You can also load one in the Model panel below." if model_switch_allowed() else "")

    def load(self, source: str | None = None, exe: str | None = None, psp: str | None = None):
        """Switch to ``source`` (folder / Hub repo), or to the authors' files ``exe`` + ``psp``."""
        from .pipeline import ExeGAN

        source, exe, psp = (s.strip() if isinstance(s, str) and s.strip() else None for s in (source, exe, psp))
        if bool(exe) != bool(psp):
            raise ValueError("the authors' weights need both files: EXE_GAN_model_*.pt and psp_ffhq_encode.pt")
        model = (ExeGAN.from_official(exe, psp, **self.model_kwargs) if exe
                 else ExeGAN.load(source, **self.model_kwargs))
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
                f"source: `{self.source or _default_source_text()}`" + (f" ({c.source})" if c.source else ""))
        if phi:
            text += f" · {m.n_latent} latents; official exemplar-driven latents {phi[0]}–{phi[-1]}"
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


# ----------------------------------------------------------------------------------------------- controls
def phi_limit(model) -> int:
    """Latents that can be exemplar-driven: the style encoder gives one code per latent up to its n_styles."""
    return min(model.n_latent, model.style_encoder.n_styles)


def default_strength(model) -> int:
    return len(model.resolve_phi(None))


def strength_to_phi(model, strength: int) -> list[int] | None:
    """Exemplar strength k -> phi: the last k usable latents; the official phi (None) at the default strength."""
    limit = phi_limit(model)
    k = int(strength)
    if not 0 <= k <= limit:
        raise ValueError(f"exemplar strength must be in 0..{limit}, got {k}")
    if k == default_strength(model):
        return None
    return list(range(limit - k, limit))


def latent_resolution(j: int, size: int) -> int:
    """The resolution whose layers latent j styles (StyleGAN2 order: 0 -> 4 px, 1-2 -> 8 px, 3-4 -> 16 px, ...)."""
    return min(size, 4 if j == 0 else 2 ** (2 + (j + 1) // 2))


def latent_choices(model) -> list[tuple[str, int]]:
    """Labels of the per-latent selector: "j · R px (coarse|middle|fine)"."""
    out = []
    for j in range(phi_limit(model)):
        r = latent_resolution(j, model.size)
        kind = "coarse: pose, shape" if r <= 8 else "middle: features" if r <= 32 else "fine: colour, texture"
        out.append((f"{j} · {r} px ({kind})", j))
    return out


def resolve_phi(model, strength: int, custom: bool, latents: Sequence | None) -> list[int] | None:
    if custom:
        idx = sorted({int(v) for v in (latents or [])})
        return model.resolve_phi(idx) if idx != model.resolve_phi(None) else None
    return strength_to_phi(model, strength)


def pipeline_kwargs(model, *, n_samples=4, seed=0, truncation=1.0, strength=None, custom_phi=False, phi_latents=None,
                    mode=MODE_SEPARATE, crossover=None, n_exemplars=1) -> tuple[dict, list[str]]:
    """The UI's control values -> keyword arguments of ``ExeGAN.inpaint`` (+ notes about adjustments)."""
    notes = []
    n = int(n_samples)
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"samples per exemplar must be in 1..{MAX_SAMPLES}, got {n}")
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    psi = float(truncation)
    if not 0 <= psi <= 2:
        raise ValueError(f"truncation psi must be in 0..2, got {psi}")
    phi = resolve_phi(model, default_strength(model) if strength is None else strength, custom_phi, phi_latents)
    kw: dict[str, Any] = dict(n_samples=n, seed=seed, truncation=psi, phi=phi)
    if mode == MODE_MIX:
        n_phi = len(model.resolve_phi(phi))
        c = n_phi // 2 if crossover is None else int(crossover)
        if c > n_phi:
            notes.append(f"crossover {c} is more than the {n_phi} exemplar-driven latents: using {n_phi}")
            c = n_phi
        kw["mix"] = max(0, c)
    else:
        groups = max(1, n_exemplars)
        if n * groups > MAX_OUTPUTS:
            kw["n_samples"] = max(1, MAX_OUTPUTS // groups)
            notes.append(f"{groups} exemplars x {n} samples is more than {MAX_OUTPUTS} images: "
                         f"{kw['n_samples']} samples per exemplar")
    return kw, notes


def random_seed() -> int:
    """A fresh random seed (for the 🎲 button)."""
    return secrets.randbelow(MAX_SEED + 1)


# ----------------------------------------------------------------------------------------------- inputs
def _layer_alpha(layer) -> np.ndarray | None:
    """A painted layer -> hole: ``alpha > 0`` when the layer has alpha (the editor's RGBA layers), otherwise the
    layer is read like a mask picture (white = hole)."""
    if layer is None:
        return None
    if isinstance(layer, np.ndarray) and layer.ndim == 3 and layer.shape[-1] == 4:
        return layer[..., 3] > 0
    if isinstance(layer, np.ndarray) and layer.ndim == 2:
        return layer > 0
    if not isinstance(layer, (np.ndarray, Image.Image)):
        layer = Image.open(layer)
    if isinstance(layer, Image.Image) and ("A" in layer.getbands() or "transparency" in layer.info):
        return np.asarray(layer.convert("RGBA"))[..., 3] > 0
    return np.asarray(im.load_mask(layer)) > 0


def editor_mask(value: dict | None, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The painted hole of an ``gr.ImageEditor`` value: union over its (RGBA) layers of ``alpha > 0`` (the eraser
    restores alpha 0). None when nothing was painted. ``size`` (w, h): resize the layers to it."""
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
    """The photo of an editor value: its background (or the composite when there is no background)."""
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
    return bg if alpha.any() else None  # a fully transparent picture is an empty canvas


def _notice(notes: list[str], msg: str) -> None:
    notes.append(msg)
    gr.Warning(msg)


def read_photo_and_mask(editor: dict | None, mask_image=None, notes: list[str] | None = None
                        ) -> tuple[Image.Image, np.ndarray]:
    """Photo + hole from the editor (painted layers) and/or an uploaded mask picture (white = hole; union of
    both). Oversized photos are downscaled to :data:`MAX_SIDE`; the mask is resized to the photo."""
    notes = [] if notes is None else notes
    bg = editor_background(editor)
    if bg is None:
        raise gr.Error("Add a face photo first: upload it, paste it or take one with the webcam in the editor.")
    try:
        photo = im.load_image(bg)
    except (ValueError, TypeError, OSError) as err:
        raise gr.Error(f"The photo could not be read: {err}") from None
    hole = editor_mask(editor, photo.size)
    if mask_image is not None:
        try:
            m = im.load_mask(mask_image)
        except (ValueError, TypeError, OSError) as err:
            raise gr.Error(f"The mask image could not be read: {err}") from None
        if m.size != photo.size:
            _notice(notes, f"The mask image is {m.width}×{m.height}, the photo {photo.width}×{photo.height}: "
                           "the mask was resized to the photo.")
            m = m.resize(photo.size, Image.Resampling.NEAREST)
        up = np.asarray(m) > 0
        hole = up if hole is None else hole | up
    if hole is None:
        hole = np.zeros(photo.size[::-1], bool)
    if max(photo.size) > MAX_SIDE:
        f = MAX_SIDE / max(photo.size)
        new = (max(1, round(photo.width * f)), max(1, round(photo.height * f)))
        _notice(notes, f"The photo ({photo.width}×{photo.height}) was downscaled to {new[0]}×{new[1]} "
                       f"(the limit is {MAX_SIDE} px on the long side).")
        photo = photo.resize(new, Image.Resampling.LANCZOS)
        hole = np.asarray(Image.fromarray(hole).resize(new, Image.Resampling.NEAREST))
    return photo, hole


def read_exemplars(exemplar=None, exemplar_b=None, more=None, mode: str = MODE_SEPARATE) -> list[Image.Image]:
    """Exemplar pictures as RGB images: A, B, then any extra files; style mixing needs exactly A and B."""
    def load(src, what):
        try:
            return im.load_image(src)
        except (ValueError, TypeError, OSError) as err:
            raise gr.Error(f"{what} could not be read: {err}") from None

    if mode == MODE_MIX:
        if exemplar is None or exemplar_b is None:
            raise gr.Error("Style mixing needs two exemplars: give exemplar A and exemplar B.")
        return [load(exemplar, "Exemplar A"), load(exemplar_b, "Exemplar B")]
    out = []
    if exemplar is not None:
        out.append(load(exemplar, "Exemplar A"))
    if exemplar_b is not None:
        out.append(load(exemplar_b, "Exemplar B"))
    for i, f in enumerate(more or []):
        out.append(load(f, f"Extra exemplar {i + 1}"))
    if not out:
        raise gr.Error("Add at least one exemplar face: the filled region takes its attributes (eyes, glasses, "
                       "beard, expression...) from the exemplar.")
    return out


def masked_preview(photo: Image.Image, hole: np.ndarray) -> Image.Image:
    """The photo with the hole shown as grey stripes (what the model has to fill)."""
    a = np.asarray(photo).copy()
    yy, xx = np.mgrid[0:hole.shape[0], 0:hole.shape[1]]
    stripes = np.where(((xx + yy) // max(2, max(hole.shape) // 64)) % 2 == 0, 150, 110).astype(np.uint8)
    a[hole] = stripes[hole][:, None]
    return Image.fromarray(a)


# ----------------------------------------------------------------------------------------------- face choice
def face_choices(faces: Sequence[al.DetectedFace]) -> list[tuple[str, int]]:
    """Dropdown choices: (label, face number), numbered from 1 = the largest."""
    return [(f"Face {i + 1}{' (largest)' if i == 0 else ''}: {f.describe()}", i + 1) for i, f in enumerate(faces)]


def face_index(face) -> int:
    """The face control's value (1-based face number; None / "" / 0 = the largest) -> 0-based index."""
    if face in (None, ""):
        return 0
    try:
        n = int(float(face))
    except (TypeError, ValueError):
        raise gr.Error(f"Face must be a face number (1 = the largest), got {face!r}") from None
    return max(0, n - 1)


def _detector_or_none(notes: list[str]):
    try:
        return al.default_detector()
    except al.DetectorUnavailable as err:
        _notice(notes, f"Face detection is not available ({err}); the picture is used as it is.")
        return None


def detect(editor: dict | None):
    """Handler of the "Find faces" step: (dropdown update with the faces, preview with numbered boxes, message)."""
    notes: list[str] = []
    bg = editor_background(editor)
    if bg is None:
        return gr.update(choices=[], value=None), None, "Upload a photo to find faces."
    photo, _ = read_photo_and_mask(editor, None, notes)
    det = _detector_or_none(notes)
    if det is None:
        return gr.update(choices=[], value=None), None, " ".join(notes)
    faces = det(photo)
    if not faces:
        msg = "No face found. Turn alignment off to use the picture as it is (best for 256×256 face crops)."
        return gr.update(choices=[], value=None), photo, msg
    msg = (f"{len(faces)} faces found: face 1 (the largest) is used; pick another in the list." if len(faces) > 1
           else f"One face found ({faces[0].describe()}).")
    return (gr.update(choices=face_choices(faces), value=1), al.draw_faces(photo, faces, 0),
            " ".join(notes + [msg]))


# ----------------------------------------------------------------------------------------------- running
@dataclass
class Outcome:
    """What a run produced (the handlers turn it into component values)."""

    images: list[Image.Image]
    captions: list[str]
    photo: Image.Image
    hole: np.ndarray
    notes: list[str]
    aligned_view: Image.Image | None = None
    seconds: float = 0.0


def _progress(progress, frac: float, desc: str) -> None:
    if progress is not None:
        try:
            progress(frac, desc=desc)
        except Exception:  # outside a Gradio event there may be nothing to report to
            pass


def _run(manager: ModelManager, editor, mask_image, exemplars: list, kwargs: dict, *, sweep: bool, align: bool,
         face, align_exemplars: bool, fit: str, notes: list[str], progress) -> Outcome:
    t0 = time.perf_counter()
    _progress(progress, 0.05, "Reading the inputs")
    photo, hole = read_photo_and_mask(editor, mask_image, notes)
    try:
        model = manager.get()
    except ModelUnavailable as err:
        raise gr.Error(str(err)) from None
    if fit not in FIT_MODES:
        raise gr.Error(f"fit must be one of {', '.join(FIT_MODES)}, got {fit!r}")
    if not hole.any():
        _notice(notes, "The mask is empty: paint over the region to fill (or upload a mask, white = hole). "
                       "The photo is returned unchanged.")
        return Outcome([photo], [EMPTY_CAPTION], photo, hole, notes, None, time.perf_counter() - t0)
    face_idx = face_index(face)
    aligned_view = None
    with manager.lock:
        try:
            det = _detector_or_none(notes) if align or align_exemplars else None
            if align_exemplars and det is not None:
                _progress(progress, 0.1, "Aligning the exemplars")
                exemplars = _aligned_exemplars(exemplars, model.size, det, notes)
            faces = det(photo) if align and det is not None else []
            if align and det is not None and not faces:
                _notice(notes, "No face found in the photo: it is used as it is (fitted to the model's square). "
                               "Aligned face crops work best; turn alignment off to skip detection.")
            if faces:
                if not 0 <= face_idx < len(faces):
                    raise gr.Error(f"Face {face_idx + 1} was chosen, but the photo has {len(faces)} face(s): "
                                   "press 'Find faces' again.")
                if len(faces) > 1:
                    _notice(notes, f"{len(faces)} faces found; face {face_idx + 1} is used "
                                   "(choose another under 'Face alignment').")
                _progress(progress, 0.3, "Generating")
                res = al.inpaint_photo(model, photo, hole, exemplars, face=face_idx, faces=faces,
                                       align_exemplars=False, sweep=sweep, **kwargs)
                for n in res.notes:
                    if not n.startswith(f"{len(faces)} faces found"):
                        _notice(notes, n)
                images = res.images
                aligned_view = masked_preview(res.crop, res.crop_mask)
                if aligned_view.width < 256:  # tiny models: enlarge for display, pixels kept visible
                    aligned_view = aligned_view.resize((256, 256), Image.Resampling.NEAREST)
            else:
                _progress(progress, 0.3, "Generating")
                if sweep:
                    images = model.mixing_sweep(photo, hole, exemplars[0], exemplars[1], fit=fit, **kwargs)
                else:
                    images = model.inpaint(photo, hole, exemplars, fit=fit, **kwargs)
        except ValueError as err:
            raise gr.Error(str(err)) from None
    _progress(progress, 0.95, "Done")
    return Outcome(list(images), [], photo, hole, notes, aligned_view, time.perf_counter() - t0)


def _aligned_exemplars(exemplars: list, size: int, det, notes: list[str]) -> list[Image.Image]:
    out = []
    for i, ex in enumerate(exemplars):
        crop, face = al.align_exemplar(ex, size, det)
        if face is None:
            _notice(notes, f"No face found in exemplar {i + 1}: its centre square is used.")
        out.append(crop)
    return out


def _status(out: Outcome, what: str) -> str:
    lines = ["Nothing to fill." if out.captions == [EMPTY_CAPTION] else
             f"{what} in {out.seconds:.1f} s. Click a result to compare it with the original."]
    lines += [f"⚠️ {n}" for n in out.notes]
    return "  \n".join(lines)


def inpaint(manager: ModelManager, editor, mask_image, exemplar, exemplar_b, more_exemplars, n_samples, seed,
            truncation, strength, custom_phi, phi_latents, mode, crossover, align, face, align_exemplars, fit,
            progress=None):
    """The main handler. Returns (gallery items, masked input, (original, first result) for the comparison
    slider, status markdown, the aligned face crop as the model saw it (None without alignment), original photo
    for the gallery's select handler)."""
    notes: list[str] = []
    mode = MODE_MIX if mode == MODE_MIX else MODE_SEPARATE
    exemplars = read_exemplars(exemplar, exemplar_b, more_exemplars, mode)
    try:
        model = manager.get()
    except ModelUnavailable as err:
        raise gr.Error(str(err)) from None
    try:
        kwargs, adj = pipeline_kwargs(model, n_samples=n_samples, seed=seed, truncation=truncation,
                                      strength=strength, custom_phi=custom_phi, phi_latents=phi_latents, mode=mode,
                                      crossover=crossover, n_exemplars=len(exemplars))
    except ValueError as err:
        raise gr.Error(str(err)) from None
    for n in adj:
        _notice(notes, n)
    out = _run(manager, editor, mask_image, exemplars, kwargs, sweep=False, align=bool(align), face=face,
               align_exemplars=bool(align_exemplars), fit=fit, notes=notes, progress=progress)
    if not out.captions:
        n = kwargs["n_samples"]
        if "mix" in kwargs:
            out.captions = [f"A+B mixed at {kwargs['mix']} · sample {s + 1} · seed {kwargs['seed']}"
                            for s in range(n)]
        else:
            out.captions = [f"exemplar {e + 1} · sample {s + 1} · seed {kwargs['seed']}"
                            for e in range(len(exemplars)) for s in range(n)]
    what = f"{len(out.images)} result{'s' if len(out.images) != 1 else ''}"
    return _outputs(out, what)


def sweep(manager: ModelManager, editor, mask_image, exemplar, exemplar_b, seed, truncation, strength, custom_phi,
          phi_latents, align, face, align_exemplars, fit, progress=None):
    """Every style-mixing crossover between A and B: (gallery, masked input, comparison, strip, status, aligned
    face crop, original)."""
    notes: list[str] = []
    exemplars = read_exemplars(exemplar, exemplar_b, None, MODE_MIX)
    try:
        model = manager.get()
        kwargs, _ = pipeline_kwargs(model, n_samples=1, seed=seed, truncation=truncation, strength=strength,
                                    custom_phi=custom_phi, phi_latents=phi_latents)
    except ModelUnavailable as err:
        raise gr.Error(str(err)) from None
    except ValueError as err:
        raise gr.Error(str(err)) from None
    kwargs.pop("n_samples")
    out = _run(manager, editor, mask_image, exemplars, kwargs, sweep=True, align=bool(align), face=face,
               align_exemplars=bool(align_exemplars), fit=fit, notes=notes, progress=progress)
    k = len(out.images) - 1
    if not out.captions:
        out.captions = [f"crossover {c}: {c} latent{'s' if c != 1 else ''} from A, {k - c} from B"
                        for c in range(k + 1)]
    gallery, masked, comparison, status, aligned, original = _outputs(out, f"sweep of {k + 1} crossovers")
    return gallery, masked, comparison, strip(out.images), status, aligned, original


def strip(images: Sequence[Image.Image], height: int = 256) -> Image.Image:
    """Images side by side at a common height (the sweep's strip)."""
    scaled = [i.resize((max(1, round(i.width * height / i.height)), height), Image.Resampling.LANCZOS)
              if i.height != height else i for i in images]
    out = Image.new("RGB", (sum(i.width for i in scaled) + 2 * (len(scaled) - 1), height), (255, 255, 255))
    x = 0
    for i in scaled:
        out.paste(i, (x, 0))
        x += i.width + 2
    return out


def _outputs(out: Outcome, what: str):
    gallery = list(zip(out.images, out.captions))
    status = _status(out, what)
    if out.aligned_view is not None:
        status += "  \nThe face was detected and aligned; results are pasted back into the full photo."
    return (gallery, masked_preview(out.photo, out.hole), (out.photo, out.images[0]), status, out.aligned_view,
            out.photo)


def compare(original, gallery, evt: gr.SelectData | None = None):
    """Gallery select handler: (original, selected result) for the comparison slider."""
    if original is None or not gallery:
        return None
    idx = evt.index if evt is not None and isinstance(evt.index, int) else 0
    item = gallery[min(idx, len(gallery) - 1)]
    img = item[0] if isinstance(item, (tuple, list)) else item
    return original, img


# ----------------------------------------------------------------------------------------------- model panel
def control_updates(manager: ModelManager):
    """Model info + the ranges of the controls that depend on the model (strength, latents, crossover)."""
    try:
        model = manager.get()
    except ModelUnavailable:
        return manager.describe(), gr.update(), gr.update(), gr.update()
    limit, k = phi_limit(model), default_strength(model)
    return (manager.describe(), gr.update(maximum=limit, value=k),
            gr.update(choices=latent_choices(model), value=model.resolve_phi(None)),
            gr.update(maximum=limit, value=k // 2))


def load_model(manager: ModelManager, source: str | None, exe: str | None = None, psp: str | None = None):
    """Handler of the Model panel's "Load" button."""
    if not model_switch_allowed():
        raise gr.Error("Switching models is disabled on this server (EXEGAN_APP_LOCK_MODEL).")
    if not any(isinstance(s, str) and s.strip() for s in (source, exe, psp)):
        raise gr.Error("Give a model folder or Hugging Face Hub repo id (org/name), or both of the authors' files.")
    try:
        manager.load(source, exe, psp)
    except (FileNotFoundError, ValueError, OSError, RuntimeError) as err:
        raise gr.Error(f"Could not load the model: {err}") from None
    return control_updates(manager)


def phi_preview(manager: ModelManager, strength):
    """Strength slider -> the matching selection in the per-latent selector (kept in sync for display)."""
    try:
        model = manager.get()
        return gr.update(value=model.resolve_phi(strength_to_phi(model, int(strength))))
    except (ModelUnavailable, ValueError):
        return gr.update()
