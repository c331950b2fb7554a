"""Training throughput: steps/s and images/s of real training steps, per preset and precision, with peak memory.

    python train/bench.py                       # ffhq256 (batch 2) and tiny, fp32 and bf16, on this machine
    python train/bench.py --presets tiny --steps 5

Each configuration runs ``train/train.py``'s real loop in a fresh subprocess (so peak RSS is per configuration)
for ``--steps`` steps; the first step (start-up, oneDNN primitive creation) is excluded from the rate. The
ffhq256 preset needs the authors' pSp encoder and VGG16 for LPIPS; the benchmark substitutes a randomly initialised
official-size pSp and a random VGG16 trunk (same cost), so it runs offline. R1 (every 16 steps) and path-length
regularisation (every 4) are included at their natural frequency when ``--steps`` is long enough; the default
run counts them as they fall (step 0 has both).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_one(preset: str, precision: str, steps: int, out_dir: str) -> dict:
    import torch

    from train import train as trainer
    from exegan.nets import StyleEncoder

    if preset != "tiny":  # offline stand-ins of the same size for the authors' pSp
        trainer.build_style_encoder = lambda cfg, n: (StyleEncoder().eval().requires_grad_(False),
                                                      torch.zeros(18, 512))
    argv = ["--config", preset, "--output_dir", out_dir, "--max_train_steps", str(steps), "--report_to", "none",
            "--logging_steps", "1", "--validation_steps", "0", "--checkpointing_steps", str(10 ** 9),
            "--mixed_precision", precision, "--lpips_random_backbone", "true"]
    if preset != "tiny":
        argv += ["--train_data_dir", "synthetic-faces", "--lambda_lpips", "0.5"]
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        trainer.main(argv)
    total = time.perf_counter() - t0
    rates = [float(v) for v in re.findall(r"speed/images_per_s=([\d.e+-]+)", buf.getvalue())]
    cfg = trainer.parse_args(argv)
    steady = rates[1:] or rates
    images_per_s = len(steady) / sum(1 / r for r in steady)  # harmonic mean = total images / total time
    return {"preset": preset, "precision": precision, "batch": cfg.train_batch_size, "resolution": cfg.resolution,
            "steps": steps, "images_per_s": images_per_s, "steps_per_s": images_per_s / cfg.train_batch_size,
            "wall_s": total, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="tiny,ffhq256", help="comma-separated training presets to time")
    p.add_argument("--precisions", default="no,bf16", help="comma-separated Accelerate mixed precisions to time")
    p.add_argument("--steps", type=int, default=3, help="training steps per configuration (first excluded)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:
        preset, precision, out = args._one
        print(json.dumps(run_one(preset, precision, args.steps, out)))
        return 0
    import torch

    rows = []
    for preset in args.presets.split(","):
        for precision in args.precisions.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                r = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--_one", preset, precision,
                                    tmp], capture_output=True, text=True, cwd=ROOT)
            if r.returncode:
                print(r.stderr[-4000:], file=sys.stderr)
                return r.returncode
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(f"{preset} {precision}: {rows[-1]['images_per_s']:.3f} images/s", file=sys.stderr, flush=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    print(f"# train/bench.py on {device}, torch {torch.__version__}, {args.steps} steps per config (first excluded)")
    print("| preset | resolution | batch | precision | steps/s | images/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['resolution']} | {r['batch']} | {r['precision']} | {r['steps_per_s']:.4f} | "
              f"{r['images_per_s']:.3f} | {r['peak_rss_mib']:.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
