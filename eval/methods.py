"""Inpainting methods under evaluation: a small registry of ``--method [LABEL=]KIND[=ARG]`` specs.

=====================  ===========================================================================================
``exegan=PATH|REPO``   our format, :meth:`exegan.ExeGAN.from_pretrained` (a folder or a Hub repo id)
``exegan-official=``   the authors' checkpoints, ``EXE.pt,PSP.pt`` -> :meth:`exegan.ExeGAN.from_official`
``telea[=RADIUS]``     OpenCV ``cv2.inpaint`` (Telea 2004), radius 3 by default; ignores the exemplar
``ns[=RADIUS]``        OpenCV ``cv2.inpaint`` (Navier-Stokes); ignores the exemplar
``paste``              naive exemplar baseline: the exemplar's pixels are pasted into the hole
``folder=DIR``         precomputed completions of any method: ``DIR/<mask>/seed<seed>/<stem>.png``, else
                       ``DIR/<mask>/<stem>.png`` (same for every seed); ``.png``, ``.jpg`` or ``.jpeg``
=====================  ===========================================================================================

``LABEL=`` names the column (default: the kind; repeated kinds get ``-2``, ``-3``), e.g.
``--method ep50=exegan=runs/ep50``. EXE-GAN methods only call :meth:`exegan.ExeGAN.inpaint` (one sample per call,
official sampling: truncation 1, style mixing p = 0.5, seeded). Every completion is composited afterwards
(known pixels = ground truth), which is a no-op for EXE-GAN and makes folder outputs comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["MethodSpec", "Job", "Method", "parse_method", "build_method", "KINDS"]

KINDS = ("exegan", "exegan-official", "telea", "ns", "paste", "folder")


@dataclass(frozen=True)
class MethodSpec:
    label: str
    kind: str
    arg: str = ""


@dataclass
class Job:
    """One completion to make: test image ``name`` with mask bucket ``mask``.

    seed: the sampling seed of this completion (``eval.run.job_seed``); run_seed: the run seed it belongs to (the
    ``seed<run_seed>`` folder of the output layout; None = ``seed``). image, exemplar: uint8 ``[S, S, 3]`` RGB;
    hole: bool ``[S, S]`` (True = to fill).
    """

    name: str
    mask: str
    seed: int
    image: np.ndarray
    hole: np.ndarray
    exemplar: np.ndarray
    run_seed: int | None = None

    @property
    def folder_seed(self) -> int:
        return self.seed if self.run_seed is None else self.run_seed


@dataclass
class Method:
    """A loaded method; :meth:`complete` returns a uint8 ``[S, S, 3]`` completion of a :class:`Job`."""

    spec: MethodSpec
    deterministic: bool = True
    info: dict = field(default_factory=dict)
    model: object = None  # the ExeGAN of exegan methods (reference encoder for the attribute distance)

    def complete(self, job: Job) -> np.ndarray:
        raise NotImplementedError


class _ExeGAN(Method):
    def complete(self, job: Job) -> np.ndarray:
        return self.model.inpaint(job.image, job.hole, job.exemplar, n_samples=1, seed=job.seed,
                                  output_type="np")[0]


class _OpenCV(Method):
    def complete(self, job: Job) -> np.ndarray:
        import cv2

        flag = cv2.INPAINT_TELEA if self.spec.kind == "telea" else cv2.INPAINT_NS
        radius = float(self.spec.arg or 3)
        return cv2.inpaint(np.ascontiguousarray(job.image), job.hole.astype(np.uint8) * 255, radius, flag)


class _Paste(Method):
    def complete(self, job: Job) -> np.ndarray:
        return np.where(job.hole[..., None], job.exemplar, job.image)


class _Folder(Method):
    def complete(self, job: Job) -> np.ndarray:
        from PIL import Image

        root = Path(self.spec.arg)
        for base in (root / job.mask / f"seed{job.folder_seed}", root / job.mask):
            for ext in (".png", ".jpg", ".jpeg"):
                path = base / f"{job.name}{ext}"
                if path.is_file():
                    out = np.asarray(Image.open(path).convert("RGB"))
                    if out.shape != job.image.shape:
                        raise ValueError(f"{path}: {out.shape[1]}x{out.shape[0]} but the test images are "
                                         f"{job.image.shape[1]}x{job.image.shape[0]}")
                    return out
        raise FileNotFoundError(f"no completion for {job.name} (mask {job.mask}, seed {job.folder_seed}) under "
                                f"{root}: expected {root}/{job.mask}/seed{job.folder_seed}/{job.name}.png or "
                                f"{root}/{job.mask}/{job.name}.png")


def parse_method(text: str, taken: set[str] | None = None) -> MethodSpec:
    """``[LABEL=]KIND[=ARG]`` -> :class:`MethodSpec` (see module docstring); ``taken`` labels get a suffix."""
    head, _, rest = text.partition("=")
    if head in KINDS:
        label, kind, arg = head, head, rest
    else:
        kind, _, arg = rest.partition("=")
        label = head
        if kind not in KINDS or not label:
            raise ValueError(f"unknown method {text!r}: use [LABEL=]KIND[=ARG] with KIND one of {', '.join(KINDS)}")
    if kind in ("exegan", "exegan-official", "folder") and not arg:
        raise ValueError(f"method {kind} needs an argument: {kind}=...")
    taken = taken if taken is not None else set()
    base, k = label, 2
    while label in taken:
        label, k = f"{base}-{k}", k + 1
    return MethodSpec(label, kind, arg)


def build_method(spec: MethodSpec, device=None, precision: str = "fp32") -> Method:
    """Load the method of ``spec`` (EXE-GAN models on ``device`` with ``precision``)."""
    info = {"kind": spec.kind, "arg": spec.arg}
    if spec.kind in ("exegan", "exegan-official"):
        from exegan import ExeGAN

        if spec.kind == "exegan":
            model = ExeGAN.from_pretrained(spec.arg, device=device, precision=precision)
        else:
            parts = spec.arg.split(",")
            if len(parts) != 2:
                raise ValueError(f"exegan-official needs EXE.pt,PSP.pt, got {spec.arg!r}")
            model = ExeGAN.from_official(parts[0], parts[1], device=device, precision=precision)
        info |= {"model": model.config.name, "size": model.size, "precision": precision,
                 "sampling": "ExeGAN.inpaint(n_samples=1, seed=job seed, truncation=1, style_mixing_prob=0.5)"}
        return _ExeGAN(spec, deterministic=False, info=info, model=model)
    if spec.kind in ("telea", "ns"):
        import cv2

        info |= {"opencv": cv2.__version__, "radius": float(spec.arg or 3)}
        return _OpenCV(spec, info=info)
    if spec.kind == "paste":
        return _Paste(spec, info=info)
    if not Path(spec.arg).is_dir():
        raise FileNotFoundError(f"folder method: no such directory {spec.arg}")
    return _Folder(spec, info=info)
