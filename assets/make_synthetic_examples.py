"""Choose the demo's first examples by what the model visibly does: held-out synthetic faces, masks over a face part,
and two exemplars whose fills differ the most relative to what a new seed changes.

    python assets/make_synthetic_examples.py [--model assets/default-model]   # rewrites assets/examples/synthetic_*

Candidates: ``--faces`` held-out faces of the offline synthetic-faces source (``exegan.synthetic_faces``, a stream no
training run sees), each with masks over the eyes, the mouth and the lower face (``exegan.regions`` on the aligned
template) and ``--pairs`` exemplar pairs (other held-out faces, the pairs that differ most inside the mask).
Each candidate runs through the same path as the demo (pictures shown at ``--display`` px, fitted to the model,
seed 0): the *exemplar effect* is the mean absolute difference inside the mask between the fill with exemplar A
and with exemplar B, each minus its mean colour (so drawn shapes count, not a tint that would leave a seam); the
*seed effect* the same between seeds 0 and 1 with exemplar A; the *tint* the difference of the two fills' mean
colours (a copied skin tone leaves a seam). Candidates with a tint over ``--max_tint`` are left out, the others ranked
by exemplar effect / seed effect; the best ``--rows`` (distinct faces and first exemplars and, while possible, masks) are written as
``synthetic_<k>_{photo,mask,exemplar_a,exemplar_b}.png`` with ``synthetic_examples.json`` (the measures, the model,
the command). Re-run it whenever the bundled model changes; tests/test_default_model.py checks that the committed
examples still show the effect with the committed model.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("eyes", "mouth", "lower_face")


def held_out(n: int, seed: int, size: int) -> np.ndarray:
    """uint8 ``[n, size, size, 3]`` held-out synthetic faces."""
    from exegan.synthetic_faces import SyntheticFaces

    ds = SyntheticFaces(size, length=n, seed=seed, held_out=True)
    return np.stack([((ds[i] + 1) * 127.5 + 0.5).floor().clamp(0, 255).byte().permute(1, 2, 0).numpy()
                     for i in range(n)])


def enlarge(a: np.ndarray, size: int) -> Image.Image:
    return Image.fromarray(a).resize((size, size), Image.Resampling.LANCZOS)


def _detail(fill: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The pixels of ``fill`` inside ``mask`` minus their mean colour: what the fill draws, not its tint."""
    inside = fill[mask]
    return inside - inside.mean(0)


def measure(model, photo: Image.Image, mask: np.ndarray, ex_a: Image.Image, ex_b: Image.Image) -> dict:
    """Exemplar and seed effects of one candidate: mean |difference| (8-bit levels) inside ``mask`` between the
    fills' details (each fill minus its mean colour, so a shape such as glasses or a beard counts), and the tint
    difference alone (a copied skin tone, which leaves a seam: it counts against the candidate)."""
    a0, b0 = (np.asarray(x, np.float32) for x in model.inpaint(photo, mask, [ex_a, ex_b], n_samples=1, seed=0))
    a1 = np.asarray(model.inpaint(photo, mask, ex_a, n_samples=1, seed=1)[0], np.float32)
    exemplar = float(np.abs(_detail(a0, mask) - _detail(b0, mask)).mean())
    seed = float(np.abs(_detail(a0, mask) - _detail(a1, mask)).mean())
    tint = float(np.abs(a0[mask].mean(0) - b0[mask].mean(0)).mean())
    return {"exemplar_effect": exemplar, "seed_effect": seed, "tint": tint, "ratio": exemplar / max(seed, 1e-3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "assets" / "default-model"), help="the model the examples show")
    ap.add_argument("--out", default=str(ROOT / "assets" / "examples"), help="folder of the example pictures")
    ap.add_argument("--faces", type=int, default=16, help="held-out faces tried as photos (2-64)")
    ap.add_argument("--pairs", type=int, default=6, help="exemplar pairs tried per photo and mask (1-16)")
    ap.add_argument("--rows", type=int, default=3, help="examples written (1-8)")
    ap.add_argument("--display", type=int, default=256, help="side of the written pictures, px (64-1024)")
    ap.add_argument("--seed", type=int, default=11, help="seed of the held-out face stream")
    ap.add_argument("--max_tint", type=float, default=8.0,
                    help="leave out candidates whose two fills differ in mean colour by more than this (8-bit levels)")
    args = ap.parse_args(argv)
    if not (2 <= args.faces <= 64 and 1 <= args.pairs <= 16 and 1 <= args.rows <= 8 and 64 <= args.display <= 1024):
        ap.error("--faces must be in 2-64, --pairs in 1-16, --rows in 1-8, --display in 64-1024")

    from exegan import ExeGAN, regions

    model = ExeGAN.from_pretrained(args.model, device="cpu", precision="fp32")
    n_ex = 2 * args.pairs + 8  # the exemplar pool: faces after the photos
    faces = held_out(args.faces + n_ex, args.seed, model.size)
    photos, pool = faces[:args.faces], faces[args.faces:]
    shown = {i: enlarge(f, args.display) for i, f in enumerate(faces)}
    masks = {p: np.asarray(Image.fromarray(regions.region_in_square(p, model.size)).resize(
        (args.display, args.display), Image.Resampling.NEAREST)) for p in PARTS}
    candidates = []
    for i, part in itertools.product(range(args.faces), PARTS):
        small = regions.region_in_square(part, model.size)
        # exemplar pairs whose own pixels differ most inside the mask: they should look different there
        pairs = sorted(itertools.combinations(range(len(pool)), 2),
                       key=lambda ab: -np.abs(pool[ab[0]].astype(int) - pool[ab[1]].astype(int))[small].mean())
        for a, b in pairs[:args.pairs]:
            m = measure(model, shown[i], masks[part], shown[args.faces + a], shown[args.faces + b])
            candidates.append({"photo": i, "part": part, "exemplar_a": args.faces + a, "exemplar_b": args.faces + b,
                               **m})
    candidates.sort(key=lambda c: -c["ratio"])
    eligible = [c for c in candidates if c["tint"] <= args.max_tint]
    chosen: list[dict] = []
    for distinct_parts in (True, False):  # distinct photos and first exemplars; distinct parts while possible
        for c in eligible:
            if len(chosen) == args.rows:
                break
            if c in chosen or c["photo"] in {x["photo"] for x in chosen} \
                    or c["exemplar_a"] in {x["exemplar_a"] for x in chosen}:
                continue
            if distinct_parts and c["part"] in {x["part"] for x in chosen}:
                continue
            chosen.append(c)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("synthetic_*"):
        old.unlink()
    rows = []
    for k, c in enumerate(chosen):
        names = {key: f"synthetic_{k + 1}_{key}.png" for key in ("photo", "mask", "exemplar_a", "exemplar_b")}
        shown[c["photo"]].save(out / names["photo"], optimize=True)
        Image.fromarray(masks[c["part"]].astype(np.uint8) * 255).save(out / names["mask"], optimize=True)
        shown[c["exemplar_a"]].save(out / names["exemplar_a"], optimize=True)
        shown[c["exemplar_b"]].save(out / names["exemplar_b"], optimize=True)
        rows.append({**names, "part": c["part"], "exemplar_effect": round(c["exemplar_effect"], 2),
                     "seed_effect": round(c["seed_effect"], 2), "ratio": round(c["ratio"], 2),
                     "tint_difference": round(c["tint"], 2)})
    ratios = [c["ratio"] for c in candidates]
    (out / "synthetic_examples.json").write_text(json.dumps({
        "model": model.config.name, "command": "python assets/make_synthetic_examples.py " + " ".join(argv or []),
        "criterion": f"exemplar effect / seed effect: mean |detail(A) - detail(B)| over mean |detail(seed 0) - "
                     f"detail(seed 1)| inside the mask (detail = the fill minus its mean colour), in 8-bit levels; "
                     f"candidates whose fills A and B differ in mean colour by more than {args.max_tint} left out",
        "candidates": len(candidates), "median_ratio_of_candidates": round(float(np.median(ratios)), 2),
        "examples": rows}, indent=2) + "\n")
    for r in rows:
        print(f"{r['photo']}: {r['part']}, exemplar effect {r['exemplar_effect']} vs seed effect {r['seed_effect']} "
              f"(x{r['ratio']})")
    return 0


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
