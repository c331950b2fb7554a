"""Convert the authors' checkpoints to this project's format (``config.json`` + ``model.safetensors``).

    python -m exegan.convert --exe EXE_GAN_model_256.pt --psp psp_ffhq_encode.pt --out exegan-ffhq-256 \\
        [--dtype fp16] [--push-to-hub org/exe-gan-ffhq-256]

Reads the pickles with ``torch.load(weights_only=True)`` (no arbitrary code), strict-loads them into our
networks and writes safetensors. The result loads with ``ExeGAN.from_pretrained(out)`` and in the app.
"""

from __future__ import annotations

import argparse
import sys

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exegan.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("--exe", required=True, help="EXE_GAN_model_256.pt or _512.pt (its g_ema is used)")
    p.add_argument("--psp", required=True, help="psp_ffhq_encode.pt (pSp encoder + latent_avg)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32", help="storage precision (default fp32)")
    p.add_argument("--name", default=None, help="model name shown by the app (default: derived)")
    p.add_argument("--push-to-hub", metavar="REPO", default=None, help="also upload to this Hub model repo")
    args = p.parse_args(argv)

    from .pipeline import ExeGAN

    model = ExeGAN.from_official(args.exe, args.psp, device="cpu")  # errors: one line via exegan.errors.run_cli
    if args.name:
        model.config.name = args.name
    out = model.save_pretrained(args.out, DTYPES[args.dtype])
    print(f"wrote {out}: {model.config.name}, {model.size}x{model.size}, "
          f"{sum(p.numel() for p in model.generator.parameters()):,} generator parameters")
    if args.push_to_hub:
        print(f"uploaded to {model.push_to_hub(args.push_to_hub, dtype=DTYPES[args.dtype])}")
    return 0


if __name__ == "__main__":
    from .errors import run_cli

    sys.exit(run_cli(main))
