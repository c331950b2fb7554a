"""Draw the demo's example pictures procedurally (no photos, no third-party images): ``assets/examples/*.png``.

    python assets/make_examples.py            # (re)writes assets/examples/ (deterministic, ~180 KB)

Every face is a cartoon drawn from a handful of parameters (skin, hair, eyes, mouth, glasses, beard); backgrounds
are seeded gradients, so the files are reproducible and owned by the project. The aligned pictures (``photo``,
``exemplar_*``) put the eyes and mouth on :data:`exegan.align.TEMPLATE` (the FFHQ-style framing the models expect);
``photo_tilted.png`` has a smaller, rotated face in a wider scene (detect + align + paste back) and
``two_faces.png`` two faces (the face chooser); ``*_mask*.png`` are masks over the eyes (white = fill). OpenCV's
YuNet detector finds every one of these faces (tests/test_align.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SS = 4  # supersampling factor: draw at 4x, then downsample (anti-aliasing)
TEMPLATE = {  # (x, y) as fractions of the aligned crop: exegan.align.TEMPLATE (checked by tests)
    "eye_r": (0.379, 0.472), "eye_l": (0.621, 0.472), "nose": (0.5, 0.61),
    "mouth_r": (0.4, 0.75), "mouth_l": (0.6, 0.75),
}


@dataclass(frozen=True)
class Face:
    skin: tuple[int, int, int] = (224, 180, 150)
    hair: tuple[int, int, int] = (70, 45, 30)
    hair_style: str = "short"  # short | long | bald | bun
    iris: tuple[int, int, int] = (80, 110, 60)
    mouth: str = "neutral"  # neutral | smile | open
    glasses: bool = False
    beard: bool = False
    brows: float = 0.0  # raise (+) / frown (-), in eye distances
    background: tuple[int, int, int] = (150, 170, 200)


def _shade(layer: Image.Image, centre: tuple[float, float], radius: float, strength: float = 0.35) -> Image.Image:
    """Darken an RGBA layer away from ``centre`` (a soft radial light)."""
    w, h = layer.size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / radius
    gain = 1.0 - strength * np.clip(r, 0, 1.4) ** 2
    a = np.asarray(layer).astype(np.float32)
    a[..., :3] *= gain[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _darker(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, v * f))) for v in c)


def draw_face(face: Face, size: int = 256, canvas: tuple[int, int] | None = None,
              origin: tuple[float, float] = (0, 0)) -> Image.Image:
    """The face drawn as an RGBA layer (transparent background) whose aligned ``size`` x ``size`` square has its
    top-left corner at ``origin`` of a ``canvas`` (default: the square itself); landmarks sit on the template,
    the shoulders reach down to the canvas bottom."""
    cw, ch = canvas or (size, size)
    S = size * SS
    ox, oy = origin[0] * SS, origin[1] * SS
    ex_r, ey = ox + TEMPLATE["eye_r"][0] * S, oy + TEMPLATE["eye_r"][1] * S
    ex_l = ox + TEMPLATE["eye_l"][0] * S
    d = ex_l - ex_r  # eye distance: the unit of every other length
    cx = ox + S / 2
    mouth_y = oy + TEMPLATE["mouth_r"][1] * S
    layer = Image.new("RGBA", (cw * SS, ch * SS), (0, 0, 0, 0))
    g = ImageDraw.Draw(layer)

    # hair behind the head, neck and shoulders
    hair_back = face.hair + (255,)
    if face.hair_style == "long":
        g.rounded_rectangle([cx - 1.25 * d, ey - 1.25 * d, cx + 1.25 * d, ey + 2.3 * d], radius=int(0.8 * d),
                            fill=hair_back)
    bottom = max(ch * SS, ey + 4.6 * d)
    g.rectangle([cx - 0.42 * d, mouth_y, cx + 0.42 * d, ey + 2.6 * d], fill=_darker(face.skin, 0.85) + (255,))
    g.ellipse([cx - 1.9 * d, ey + 2.1 * d, cx + 1.9 * d, ey + 3.6 * d], fill=(60, 80, 120, 255))
    g.rectangle([cx - 1.9 * d, ey + 2.85 * d, cx + 1.9 * d, bottom], fill=(60, 80, 120, 255))
    # ears, head
    for sx in (-1, 1):
        ear_x = cx + sx * 1.0 * d
        g.ellipse([ear_x - 0.17 * d, ey - 0.05 * d, ear_x + 0.17 * d, ey + 0.55 * d], fill=face.skin + (255,))
    head = [cx - 1.02 * d, ey - 1.05 * d, cx + 1.02 * d, ey + 1.55 * d]
    g.ellipse(head, fill=face.skin + (255,))
    layer = _shade(layer, (cx - 0.2 * d, ey), 1.6 * d, 0.25)
    g = ImageDraw.Draw(layer)

    # hair on top
    if face.hair_style != "bald":
        g.chord([cx - 1.08 * d, ey - 1.15 * d, cx + 1.08 * d, ey + 0.35 * d], 180, 360, fill=hair_back)
        g.ellipse([cx - 0.95 * d, ey - 0.78 * d, cx + 0.95 * d, ey - 0.15 * d], fill=face.skin + (255,))
        g.chord([cx - 1.0 * d, ey - 1.12 * d, cx + 1.0 * d, ey - 0.2 * d], 190, 350, fill=hair_back)
        if face.hair_style == "bun":
            g.ellipse([cx - 0.35 * d, ey - 1.55 * d, cx + 0.35 * d, ey - 0.9 * d], fill=hair_back)

    # beard
    if face.beard:
        beard = _darker(face.hair, 1.1) + (235,)
        g.chord([cx - 0.95 * d, ey + 0.35 * d, cx + 0.95 * d, ey + 1.6 * d], 0, 180, fill=beard)
        g.ellipse([cx - 0.45 * d, mouth_y - 0.12 * d, cx + 0.45 * d, mouth_y + 0.14 * d], fill=beard)

    # eyes: sclera, iris, pupil, highlight, lid line
    for x in (ex_r, ex_l):
        g.ellipse([x - 0.2 * d, ey - 0.1 * d, x + 0.2 * d, ey + 0.1 * d], fill=(245, 245, 240, 255),
                  outline=_darker(face.skin, 0.5) + (255,), width=max(1, int(0.012 * d)))
        g.ellipse([x - 0.095 * d, ey - 0.095 * d, x + 0.095 * d, ey + 0.095 * d], fill=face.iris + (255,))
        g.ellipse([x - 0.045 * d, ey - 0.045 * d, x + 0.045 * d, ey + 0.045 * d], fill=(15, 15, 15, 255))
        g.ellipse([x + 0.02 * d, ey - 0.06 * d, x + 0.05 * d, ey - 0.03 * d], fill=(255, 255, 255, 255))
        by = ey - (0.27 + face.brows) * d
        g.line([x - 0.24 * d, by + 0.03 * d, x, by - 0.02 * d, x + 0.24 * d, by + 0.03 * d],
               fill=_darker(face.hair, 0.9) + (255,), width=int(0.06 * d), joint="curve")

    # nose
    ny = oy + TEMPLATE["nose"][1] * S
    g.line([cx - 0.02 * d, ey + 0.1 * d, cx - 0.08 * d, ny - 0.02 * d], fill=_darker(face.skin, 0.8) + (255,),
           width=int(0.03 * d))
    for sx in (-1, 1):
        g.ellipse([cx + sx * 0.09 * d - 0.045 * d, ny - 0.03 * d, cx + sx * 0.09 * d + 0.045 * d, ny + 0.03 * d],
                  fill=_darker(face.skin, 0.55) + (255,))

    # mouth between the template's corners
    mx0, mx1 = ox + TEMPLATE["mouth_r"][0] * S, ox + TEMPLATE["mouth_l"][0] * S
    lip = (180, 80, 80, 255)
    if face.mouth == "open":
        g.ellipse([mx0, mouth_y - 0.1 * d, mx1, mouth_y + 0.18 * d], fill=(90, 25, 30, 255), outline=lip,
                  width=int(0.04 * d))
        g.rectangle([mx0 + 0.12 * d, mouth_y - 0.07 * d, mx1 - 0.12 * d, mouth_y - 0.01 * d], fill=(250, 250, 245, 255))
    elif face.mouth == "smile":
        g.chord([mx0, mouth_y - 0.14 * d, mx1, mouth_y + 0.16 * d], 0, 180, fill=lip)
        g.chord([mx0 + 0.05 * d, mouth_y - 0.05 * d, mx1 - 0.05 * d, mouth_y + 0.1 * d], 0, 180,
                fill=(250, 250, 245, 255))
    else:
        g.ellipse([mx0, mouth_y - 0.05 * d, mx1, mouth_y + 0.06 * d], fill=lip)
        g.line([mx0, mouth_y, mx1, mouth_y], fill=(120, 50, 50, 255), width=int(0.02 * d))

    if face.glasses:
        frame = (30, 30, 35, 255)
        for x in (ex_r, ex_l):
            g.rounded_rectangle([x - 0.3 * d, ey - 0.2 * d, x + 0.3 * d, ey + 0.22 * d], radius=int(0.1 * d),
                                outline=frame, width=int(0.05 * d))
        g.line([ex_r + 0.3 * d, ey - 0.05 * d, ex_l - 0.3 * d, ey - 0.05 * d], fill=frame, width=int(0.05 * d))
        for sx, x in ((-1, ex_r - 0.3 * d), (1, ex_l + 0.3 * d)):
            g.line([x, ey - 0.05 * d, cx + sx * 1.0 * d, ey], fill=frame, width=int(0.05 * d))

    return layer.resize((cw, ch), Image.Resampling.LANCZOS)


def backdrop(w: int, h: int, colour: tuple[int, int, int], seed: int) -> Image.Image:
    """A soft diagonal gradient (seeded direction), so the background is not flat."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = 0.8 + 0.35 * (yy / h * rng.uniform(0.6, 1.0) + xx / w * rng.uniform(0.0, 0.4))
    a = np.asarray(colour, np.float32)[None, None] * t[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def aligned_photo(face: Face, size: int = 256, seed: int = 0) -> Image.Image:
    out = backdrop(size, size, face.background, seed)
    out = out.convert("RGBA")
    out.alpha_composite(draw_face(face, size))
    return out.convert("RGB")


def place(scene: Image.Image, face: Face, centre: tuple[float, float], side: int, angle: float) -> Image.Image:
    """Draw a face whose aligned square has ``side`` px, centred at ``centre``, rotated by ``angle`` degrees
    (counter-clockwise on screen) about that centre."""
    origin = (centre[0] - side / 2, centre[1] - side / 2)
    layer = draw_face(face, side, scene.size, origin).rotate(angle, Image.Resampling.BICUBIC, center=centre)
    out = scene.convert("RGBA")
    out.alpha_composite(layer)
    return out.convert("RGB")


PHOTO = Face()
EXEMPLARS = {
    "exemplar_glasses": Face(skin=(205, 160, 125), hair=(30, 25, 20), iris=(60, 40, 30), glasses=True,
                             mouth="smile", background=(200, 190, 160)),
    "exemplar_beard": Face(skin=(170, 120, 90), hair=(40, 30, 25), iris=(50, 35, 25), beard=True,
                           hair_style="bald", background=(170, 200, 170)),
    "exemplar_smile": Face(skin=(240, 205, 180), hair=(190, 140, 70), hair_style="long", iris=(60, 110, 170),
                           mouth="open", brows=0.05, background=(210, 170, 190)),
}


def eyes_mask(size: int = 256, canvas: tuple[int, int] | None = None, origin: tuple[float, float] = (0, 0),
              angle: float = 0.0) -> Image.Image:
    """White = hole: a band over both eyes of a face drawn like :func:`draw_face` / :func:`place`."""
    m = Image.new("L", canvas or (size, size), 0)
    (x0, y), (x1, _) = TEMPLATE["eye_r"], TEMPLATE["eye_l"]
    d = (x1 - x0) * size
    ox, oy = origin
    ImageDraw.Draw(m).rounded_rectangle([ox + x0 * size - 0.45 * d, oy + y * size - 0.35 * d,
                                         ox + x1 * size + 0.45 * d, oy + y * size + 0.3 * d],
                                        radius=int(0.15 * d), fill=255)
    if angle:
        m = m.rotate(angle, Image.Resampling.NEAREST, center=(ox + size / 2, oy + size / 2))
    return m


def make_all(out_dir: Path, size: int = 256) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"photo.png": aligned_photo(PHOTO, size, 1), "photo_mask_eyes.png": eyes_mask(size)}
    for i, (name, face) in enumerate(EXEMPLARS.items()):
        files[f"{name}.png"] = aligned_photo(face, size, 10 + i)
    scene = backdrop(480, 360, (120, 150, 140), 20)
    files["photo_tilted.png"] = place(scene, PHOTO, (300, 170), 220, 12)
    files["photo_tilted_mask.png"] = eyes_mask(220, scene.size, (300 - 110, 170 - 110), 12)
    scene = backdrop(480, 300, (170, 160, 150), 21)
    scene = place(scene, replace(PHOTO, hair_style="bun"), (140, 150), 200, -6)
    files["two_faces.png"] = place(scene, EXEMPLARS["exemplar_beard"], (350, 160), 160, 5)
    paths = []
    for name, img in files.items():
        path = out_dir / name
        img.save(path, optimize=True)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "examples")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    for p in make_all(args.out, args.size):
        print(f"{p}  ({p.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
