"""Draw the README figure of a model: masked inputs, two exemplars, several samples with each exemplar.

    python -m eval.figure                          # assets/default-model -> assets/default-model/figure.png
    python -m eval.figure --model runs/x/model --out fig.png --rows 4 --samples 3

Every picture comes from the project: the inputs and exemplars are held-out synthetic faces
(:func:`eval.synthetic.held_out_faces`: the DCGAN of ``gan-face-generate``, latents never used in training; the
DigiFace-1M non-commercial licence applies), the completions from :meth:`exegan.ExeGAN.inpaint`. Layout per row:
masked input (hole in grey) | exemplar A | ``samples`` completions with A | exemplar B | completions with B.
Seeded, so re-running gives the same figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .synthetic import check_masks, held_out_faces

ROOT = Path(__file__).resolve().parent.parent


def make_figure(model, rows: int = 4, samples: int = 3, seed: int = 0, zoom: int = 2, first: int = 400
                ) -> Image.Image:
    """Grid image (uint8 RGB). ``first``: index of the first held-out face used (past the check's 2 x 200)."""
    faces = held_out_faces(3 * rows, 0, first, model.size)
    holes = check_masks(rows, model.size, seed + 77)
    s, gap, head = model.size * zoom, 4, 18
    cols = 2 * (samples + 1) + 1
    sheet = Image.new("RGB", (cols * (s + gap) - gap, head + rows * (s + gap) - gap), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    titles = ["masked input", "exemplar A"] + [f"with A, seed {k}" for k in range(samples)] + \
             ["exemplar B"] + [f"with B, seed {k}" for k in range(samples)]
    for c, t in enumerate(titles):
        draw.text((c * (s + gap) + 2, 3), t, fill=(0, 0, 0))

    def put(img: np.ndarray, r: int, c: int) -> None:
        im = Image.fromarray(img).resize((s, s), Image.NEAREST)
        sheet.paste(im, (c * (s + gap), head + r * (s + gap)))

    for r in range(rows):
        x, a, b = faces[3 * r], faces[3 * r + 1], faces[3 * r + 2]
        hole = holes["center"][r] if r % 2 == 0 else holes["ratio30-40"][r]
        masked = x.copy()
        masked[hole] = 128
        outs = model.inpaint(x, hole.astype(np.uint8) * 255, [a, b], n_samples=samples, seed=seed,
                             output_type="np")
        put(masked, r, 0)
        put(a, r, 1)
        for k in range(samples):
            put(outs[k], r, 2 + k)
        put(b, r, samples + 2)
        for k in range(samples):
            put(outs[samples + k], r, samples + 3 + k)
    return sheet


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m eval.figure", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "assets" / "default-model"),
                    help="model folder or Hub repo (default: the bundled model)")
    ap.add_argument("--out", default=None, help="PNG path (default: MODEL/figure.png)")
    ap.add_argument("--rows", type=int, default=4, help="held-out faces, one per row (1-64)")
    ap.add_argument("--samples", type=int, default=3, help="samples per exemplar in each row (1-16)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the faces, exemplars and samples")
    args = ap.parse_args(argv)
    if not 1 <= args.rows <= 64 or not 1 <= args.samples <= 16:
        ap.error("--rows must be in 1-64 and --samples in 1-16")

    from exegan import ExeGAN

    model = ExeGAN.from_pretrained(args.model, device="cpu", precision="fp32")
    out = Path(args.out) if args.out else Path(args.model) / "figure.png"
    make_figure(model, args.rows, args.samples, args.seed).save(out, optimize=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
