"""Inference benchmark: the ExeGAN pipeline against a straightforward baseline, measured in the same run.

    python -m exegan.bench                   # official-size 256 model (random weights), CPU
    python -m exegan.bench --size 64 --repeats 2 --quick   # a small smoke run

Configurations (each in a fresh subprocess, so peak memory is per configuration):

* ``baseline``: what a direct port does per request: all 18 style blocks of pSp on the exemplar, then one full
  generator forward (encoder + decoder) per sample, fp32, default glibc malloc and weight layout. It shares our
  pure-PyTorch layers (and their exact Blur/Upsample fast paths), so it is faster than a port of the official code.
* ``pipeline-fp32`` / ``pipeline-bf16``: ``ExeGAN.inpaint``: only the used style codes, the generator encoder once,
  all samples batched through the decoder, channels_last weights, malloc tuning (``exegan/_malloc.py``);
  bf16 = autocast.

Reported per configuration and n in {1, 4}: median wall time of ``--repeats`` runs after one warm-up, speed-up over
the baseline, peak RSS, and the deviation of bf16 from fp32 outputs (same seed). Timings are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch


def build(size: int, quick: bool):
    from .checkpoints import GeneratorConfig, ModelConfig, StyleEncoderConfig, build_networks
    from .pipeline import ExeGAN

    torch.manual_seed(0)
    if quick:  # narrow networks for a smoke run
        cfg = ModelConfig(GeneratorConfig(size=size, style_dim=64, n_mlp=2, channel_multiplier=0.25,
                                          max_channels=64),
                          StyleEncoderConfig(style_dim=64, input_size=size, units=(1, 1, 2, 1),
                                             widths=(16, 32, 48, 64)))
    else:
        cfg = ModelConfig(GeneratorConfig(size=size))
    g, enc = build_networks(cfg)
    return ExeGAN(g, enc, torch.randn(enc.n_styles, enc.style_dim) * 0.1, cfg, device="cpu", precision="fp32")


def inputs(size: int):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    exemplar = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), bool)
    mask[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = True
    return image, mask, exemplar


@torch.inference_mode()
def baseline(model, image, mask, exemplar, n: int, seed: int) -> torch.Tensor:
    """Per request: full pSp (18 blocks), then G.forward per sample; fp32; the pipeline's random draws."""
    from . import images as im

    g = model.generator
    x = im.image_to_tensor(image)[None]
    m = torch.from_numpy(mask).float()[None, None]
    lo, hi = g.exemplar_start, g.exemplar_start + g.n_exemplar
    codes = (model.style_encoder(im.image_to_tensor(exemplar)[None]) + model.latent_avg)[:, lo:hi]
    rnd = model.sample_randomness(n, seed)
    gin = torch.cat([x * (1 - m), m - 0.5], 1)
    outs = []
    for k in range(n):
        cut = int(rnd["inject_index"][k])
        styles = [rnd["z"][0][k:k + 1]] + ([rnd["z"][1][k:k + 1]] if cut < g.n_latent else [])
        pred = g(gin, codes, styles, noise=[t[k:k + 1] for t in rnd["noise"]], inject_index=cut)
        outs.append(pred * m + x * (1 - m))
    return torch.cat(outs)


def run_one(config: str, n: int, size: int, repeats: int, quick: bool, out_path: str) -> dict:
    if config == "baseline":  # a straightforward port: default malloc behaviour, default weight layout
        os.environ["EXEGAN_NO_MALLOC_TUNING"] = "1"
    model = build(size, quick)
    if config == "baseline":
        for p in list(model.generator.parameters()) + list(model.style_encoder.parameters()):
            p.data = p.data.contiguous()
    image, mask, exemplar = inputs(size)
    if config == "baseline":
        def call():
            return baseline(model, image, mask, exemplar, n, seed=0)
    else:
        model.precision = "bf16" if config.endswith("bf16") else "fp32"

        def call():
            model._code_cache.clear()  # time the exemplar encoding too, as for a new request
            return model.inpaint(image, mask, exemplar, n_samples=n, seed=0, output_type="pt")
    out = call()  # warm-up (oneDNN primitive creation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - t0)
    torch.save(out.float(), out_path)
    return {"config": config, "n": n, "median_s": statistics.median(times), "times_s": times,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exegan.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256, help="model resolution (default 256, official)")
    p.add_argument("--quick", action="store_true", help="narrow networks (smoke run, not the official size)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (median reported)")
    p.add_argument("--configs", default="baseline,pipeline-fp32,pipeline-bf16",
                   help="comma-separated configurations to time (baseline: a direct port, every style block per request; pipeline-*: this library)")
    p.add_argument("--n", default="1,4", help="numbers of results per request")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--_one", nargs=3, metavar=("CONFIG", "N", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:
        config, n, out = args._one
        print(json.dumps(run_one(config, int(n), args.size, args.repeats, args.quick, out)))
        return 0

    rows, outputs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(v) for v in args.n.split(",")]:
            for config in args.configs.split(","):
                path = os.path.join(tmp, f"{config}-{n}.pt")
                cmd = [sys.executable, "-m", "exegan.bench", "--size", str(args.size), "--repeats", str(args.repeats),
                       "--_one", config, str(n), path] + (["--quick"] if args.quick else [])
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode:
                    print(res.stderr, file=sys.stderr)
                    return res.returncode
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
                outputs[(config, n)] = torch.load(path, weights_only=True)
                print(f"{config:>14} n={n}: {rows[-1]['median_s']:.3f} s", file=sys.stderr, flush=True)
    base = {r["n"]: r["median_s"] for r in rows if r["config"] == "baseline"}
    for r in rows:
        r["speedup_vs_baseline"] = base[r["n"]] / r["median_s"] if r["n"] in base else None
        ref = outputs.get(("pipeline-fp32", r["n"]))
        if r["config"] != "pipeline-fp32" and ref is not None:
            d = (outputs[(r["config"], r["n"])] - ref).abs()
            r["max_abs_dev_vs_fp32"], r["mean_abs_dev_vs_fp32"] = float(d.max()), float(d.mean())
            r["max_dev_8bit_levels"] = float(d.max()) * 127.5

    print(f"# exegan.bench: size {args.size}{' (quick/narrow)' if args.quick else ' (official architecture)'}, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, {args.repeats} repeats (median)")
    print("| config | results | time (s) | vs baseline | peak RSS (MiB) | max abs dev vs fp32 (8-bit levels) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        dev = f"{r['max_abs_dev_vs_fp32']:.4f} ({r['max_dev_8bit_levels']:.1f})" if "max_abs_dev_vs_fp32" in r else "-"
        sp = f"{r['speedup_vs_baseline']:.2f}x" if r["speedup_vs_baseline"] else "-"
        print(f"| {r['config']} | {r['n']} | {r['median_s']:.3f} | {sp} | {r['peak_rss_mib']:.0f} | {dev} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "quick": args.quick, "torch": torch.__version__, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
