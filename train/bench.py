"""Training throughput: steps/s and images/s of real training steps, per preset and precision, with peak memory.

    python train/bench.py                       # ffhq256 (batch 2) and tiny, fp32 and bf16, on this machine
    python train/bench.py --presets tiny --steps 5
    python train/bench.py --device cuda --presets tiny --precisions bf16 --batch-sizes 8,32,128 --steps 10

Each configuration runs ``train/train.py``'s real loop in a fresh subprocess (so peak RSS is per configuration)
for ``--steps`` steps; the first step (start-up, oneDNN primitive creation) is excluded from the rate. The
ffhq256 preset needs the authors' pSp encoder and VGG16 for LPIPS; the benchmark substitutes a randomly initialised
official-size pSp and a random VGG16 trunk (same cost), so it runs offline. R1 (every 16 steps) and path-length
regularisation (every 4) are included at their natural frequency when ``--steps`` is long enough; the default
run counts them as they fall (step 0 has both).

The device is Accelerate's choice (``--device auto``: CUDA when there is one), or forced with ``--device cpu`` /
``cuda``. On CUDA each row also has the peak GPU memory of its subprocess (``torch.cuda.max_memory_allocated`` and
``max_memory_reserved``). ``--batch-sizes`` times each preset at several batch sizes (default: the preset's own).
``--keep-going`` records a failing configuration (an out-of-memory batch size, say) as a row with its error and
goes on; ``--json`` is rewritten after every configuration, so a run stopped from outside keeps what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # run as `python train/bench.py`: Python put train/ first, where `train` would be train/train.py, not the package
    sys.path[0] = str(ROOT)

DEVICES = ("auto", "cpu", "cuda")


def run_one(preset: str, precision: str, steps: int, out_dir: str, batch_size: int | None = None,
            extra: list[str] | None = None) -> dict:
    import torch

    from train import train as trainer
    from exegan.nets import StyleEncoder

    cuda = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "").lower() not in ("1", "true", "yes")
    if preset != "tiny":  # offline stand-ins of the same size for the authors' pSp (random init on the GPU: faster)
        def stand_in(cfg, n):
            with torch.device("cuda" if cuda else "cpu"):
                return StyleEncoder().eval().requires_grad_(False), torch.zeros(18, 512)

        trainer.build_style_encoder = stand_in
    argv = ["--config", preset, "--output_dir", out_dir, "--max_train_steps", str(steps), "--report_to", "none",
            "--logging_steps", "1", "--validation_steps", "0", "--checkpointing_steps", str(10 ** 9),
            "--mixed_precision", precision, "--lpips_random_backbone", "true"]
    if batch_size is not None:
        argv += ["--train_batch_size", str(batch_size)]
    if preset != "tiny":
        argv += ["--train_data_dir", "synthetic-faces", "--lambda_lpips", "0.5"]
    argv += extra or []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        trainer.main(argv)
    total = time.perf_counter() - t0
    rates = [float(v) for v in re.findall(r"speed/images_per_s=([\d.e+-]+)", buf.getvalue())]
    cfg = trainer.parse_args(argv)
    steady = rates[1:] or rates
    images_per_s = len(steady) / sum(1 / r for r in steady)  # harmonic mean = total images / total time
    row = {"preset": preset, "precision": precision, "batch": cfg.train_batch_size, "resolution": cfg.resolution,
           "steps": steps, "images_per_s": images_per_s, "steps_per_s": images_per_s / cfg.train_batch_size,
           "wall_s": total, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "device": torch.cuda.get_device_name() if cuda else "cpu"}
    if cuda:
        row["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
        row["peak_gpu_reserved_mib"] = torch.cuda.max_memory_reserved() / 2 ** 20
    return row


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(v < 1 or v > 4096 for v in values):
        raise argparse.ArgumentTypeError(f"batch sizes must be in 1..4096, got {text!r}")
    return values


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be in 1..100000, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="tiny,ffhq256", help="comma-separated training presets to time")
    p.add_argument("--precisions", default="no,bf16", help="comma-separated Accelerate mixed precisions to time")
    p.add_argument("--steps", type=_positive, default=3, help="training steps per configuration (first excluded)")
    p.add_argument("--batch-sizes", type=_int_list, default=[],
                   help="comma-separated batch sizes (train_batch_size) to time each preset at; default: the "
                        "preset's own")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="auto: Accelerate's choice (CUDA when available, the default); cpu: force the CPU "
                        "(ACCELERATE_USE_CPU=1); cuda: require a CUDA device")
    p.add_argument("--keep-going", action="store_true",
                   help="record a failing configuration (e.g. out of GPU memory) as a row with its error and "
                        "time the rest, instead of stopping at the first failure")
    p.add_argument("--train-args", default="",
                   help="further train/train.py flags for every configuration, as one string (e.g. \"--resolution 32 "
                        "--channel_multiplier 0.125\" for a smoke run); they override the preset")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file (after every configuration)")
    p.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--_batch", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:
        preset, precision, out = args._one
        print(json.dumps(run_one(preset, precision, args.steps, out, args._batch, shlex.split(args.train_args))))
        return 0
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device cuda: torch {torch.__version__} sees no CUDA device here")
    env = dict(os.environ)
    if args.device == "cpu":
        env["ACCELERATE_USE_CPU"] = "1"
    on_gpu = args.device != "cpu" and torch.cuda.is_available() and \
        env.get("ACCELERATE_USE_CPU", "").lower() not in ("1", "true", "yes")

    rows, failed = [], 0
    for preset in args.presets.split(","):
        for batch in args.batch_sizes or [None]:
            for precision in args.precisions.split(","):
                cmd = [sys.executable, __file__, "--steps", str(args.steps), "--train-args", args.train_args]
                cmd += ["--_batch", str(batch)] if batch is not None else []
                with tempfile.TemporaryDirectory() as tmp:
                    r = subprocess.run(cmd + ["--_one", preset, precision, tmp], capture_output=True, text=True,
                                       cwd=ROOT, env=env)
                label = f"{preset} batch {batch or 'preset'} {precision}"
                if r.returncode:
                    print(r.stderr[-4000:], file=sys.stderr)
                    if not args.keep_going:
                        return r.returncode
                    failed += 1
                    error = [line for line in r.stderr.strip().splitlines() if line.strip()][-1:] or ["(no stderr)"]
                    rows.append({"preset": preset, "precision": precision, "batch": batch, "steps": args.steps,
                                 "error": f"exit status {r.returncode}: {error[0][:500]}"})
                    print(f"{label}: FAILED ({rows[-1]['error']})", file=sys.stderr, flush=True)
                else:
                    rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
                    print(f"{label}: {rows[-1]['images_per_s']:.3f} images/s", file=sys.stderr, flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=2))
    device = torch.cuda.get_device_name() if on_gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"# train/bench.py on {device}, torch {torch.__version__}, {args.steps} steps per config (first excluded)")
    gpu_col = " peak GPU (MiB) |" if on_gpu else ""
    print(f"| preset | resolution | batch | precision | steps/s | images/s | peak RSS (MiB) |{gpu_col}")
    print("|---|---|---|---|---|---|---|" + ("---|" if on_gpu else ""))
    for r in rows:
        if "error" in r:
            print(f"| {r['preset']} | | {r['batch']} | {r['precision']} | failed: {r['error'][:120]} | | |"
                  + (" |" if on_gpu else ""))
            continue
        gpu = f" {r['peak_gpu_mib']:.0f} |" if on_gpu and "peak_gpu_mib" in r else (" - |" if on_gpu else "")
        print(f"| {r['preset']} | {r['resolution']} | {r['batch']} | {r['precision']} | {r['steps_per_s']:.4f} | "
              f"{r['images_per_s']:.3f} | {r['peak_rss_mib']:.0f} |{gpu}")
    return 1 if failed else 0


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
