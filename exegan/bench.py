"""Inference benchmark: the ExeGAN pipeline against a straightforward baseline, measured in the same run.

    python -m exegan.bench                   # official-size 256 model (random weights), CPU
    python -m exegan.bench --size 64 --repeats 2 --quick   # a small smoke run
    python -m exegan.bench --device cuda --size 512 --repeats 20 --warmup 3   # on a GPU (see scripts/gpu_check.sh)

Configurations (each in a fresh subprocess, so peak memory is per configuration):

* ``baseline``: what a direct port does per request: all 18 style blocks of pSp on the exemplar, then one full
  generator forward (encoder + decoder) per sample, fp32, default glibc malloc and weight layout. It shares our
  pure-PyTorch layers (and their exact Blur/Upsample fast paths), so it is faster than a port of the official code.
* ``pipeline-fp32`` / ``pipeline-bf16`` / ``pipeline-fp16``: ``ExeGAN.inpaint``: only the used style codes, the
  generator encoder once, all samples batched through the decoder, channels_last weights, malloc tuning
  (``exegan/_malloc.py``, CPU only); bf16 / fp16 = autocast.

Reported per configuration and n in {1, 4}: median wall time of ``--repeats`` runs after ``--warmup`` warm-ups,
speed-up over the baseline, peak RSS, and the deviation of bf16 / fp16 from fp32 outputs (same seed). Timings are
never asserted in tests.

``--device cuda``: the same configurations on the GPU. The weights are initialised on the GPU (seconds instead of
a CPU init of the 350M official parameters), every timed call ends with ``torch.cuda.synchronize()``, and the
peak GPU memory (``torch.cuda.max_memory_allocated``, reset before each n) is reported next to peak RSS. One
subprocess per configuration serves every n on CUDA (GPU memory is measured per n); on the CPU each
(configuration, n) keeps its own subprocess, as its peak RSS is per process.
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


CONFIGS = ("baseline", "pipeline-fp32", "pipeline-bf16", "pipeline-fp16")


def build(size: int, quick: bool, device: str = "cpu"):
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
    if device == "cpu":
        g, enc = build_networks(cfg)
    else:  # random init where the weights will live (the CPU init of the official size takes many seconds)
        with torch.device(device):
            g, enc = build_networks(cfg)
    return ExeGAN(g, enc, torch.randn(enc.n_styles, enc.style_dim) * 0.1, cfg, device=device, precision="fp32")


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a host clock read after it covers it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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

    g, dev = model.generator, model.device
    x = im.image_to_tensor(image)[None].to(dev)
    m = torch.from_numpy(mask).float()[None, None].to(dev)
    lo, hi = g.exemplar_start, g.exemplar_start + g.n_exemplar
    codes = (model.style_encoder(im.image_to_tensor(exemplar)[None].to(dev)) + model.latent_avg)[:, lo:hi]
    rnd = model.sample_randomness(n, seed)
    gin = torch.cat([x * (1 - m), m - 0.5], 1)
    outs = []
    for k in range(n):
        cut = int(rnd["inject_index"][k])
        styles = [rnd["z"][0][k:k + 1].to(dev)] + ([rnd["z"][1][k:k + 1].to(dev)] if cut < g.n_latent else [])
        pred = g(gin, codes, styles, noise=[t[k:k + 1].to(dev) for t in rnd["noise"]], inject_index=cut)
        outs.append(pred * m + x * (1 - m))
    return torch.cat(outs)


def run_one(config: str, ns: list[int], size: int, repeats: int, quick: bool, out_dir: str, device: str = "cpu",
            warmup: int = 1) -> list[dict]:
    """Time ``config`` for each n in ``ns`` in this process; outputs go to ``out_dir/<config>-<n>.pt``."""
    if config == "baseline":  # a straightforward port: default malloc behaviour, default weight layout
        os.environ["EXEGAN_NO_MALLOC_TUNING"] = "1"
    model = build(size, quick, device)
    dev = model.device
    if config == "baseline":
        for p in list(model.generator.parameters()) + list(model.style_encoder.parameters()):
            p.data = p.data.contiguous()
    else:
        model.precision = config.split("-", 1)[1]
    image, mask, exemplar = inputs(size)
    rows = []
    for n in ns:
        if config == "baseline":
            def call():
                return baseline(model, image, mask, exemplar, n, seed=0)
        else:
            def call():
                model._code_cache.clear()  # time the exemplar encoding too, as for a new request
                return model.inpaint(image, mask, exemplar, n_samples=n, seed=0, output_type="pt")
        if dev.type == "cuda":
            synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
        out = None
        for _ in range(max(warmup, 0)):  # warm-up (oneDNN primitive creation; CUDA kernels and cuDNN handles)
            out = call()
        synchronize(dev)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = call()
            synchronize(dev)
            times.append(time.perf_counter() - t0)
        torch.save(out.float().cpu(), os.path.join(out_dir, f"{config}-{n}.pt"))
        row = {"config": config, "n": n, "median_s": statistics.median(times), "times_s": times,
               "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if dev.type == "cuda":
            row["peak_gpu_mib"] = torch.cuda.max_memory_allocated(dev) / 2 ** 20
        rows.append(row)
    return rows


def device_name(device: str) -> str:
    """What the numbers were measured on, in words."""
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))}, CUDA {torch.version.cuda}"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exegan.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256, choices=(32, 64, 128, 256, 512, 1024),
                   help="model resolution (default 256, official)")
    p.add_argument("--quick", action="store_true", help="narrow networks (smoke run, not the official size)")
    p.add_argument("--repeats", type=_positive, default=3, help="timed runs per configuration (median reported)")
    p.add_argument("--warmup", type=int, default=1, choices=range(0, 101), metavar="0..100",
                   help="untimed runs before the timed ones, per configuration and n (default 1)")
    p.add_argument("--device", default="cpu",
                   help="where to run: cpu (default), cuda or cuda:N; the weights are initialised there")
    p.add_argument("--configs", default="baseline,pipeline-fp32,pipeline-bf16",
                   help="comma-separated configurations to time (baseline: a direct port, every style block per "
                        "request; pipeline-fp32 / -bf16 / -fp16: this library)")
    p.add_argument("--n", default="1,4", help="numbers of results per request")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--_one", nargs=3, metavar=("CONFIG", "N", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown or not configs:
        raise ValueError(f"unknown --configs {unknown}: choose from {', '.join(CONFIGS)}")
    try:
        ns = [int(v) for v in args.n.split(",")]
    except ValueError:
        raise ValueError(f"--n must be comma-separated integers, got {args.n!r}") from None
    if not ns or any(not 1 <= n <= 64 for n in ns):
        raise ValueError(f"--n values must be in 1..64, got {args.n!r}")
    device = torch.device(args.device)  # a malformed name raises RuntimeError: turn it into a one-line error
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: torch {torch.__version__} sees no CUDA device here")
    common = ["--size", str(args.size), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
              "--device", args.device] + (["--quick"] if args.quick else [])
    if args._one:
        config, n_list, out = args._one
        for row in run_one(config, [int(v) for v in n_list.split(",")], args.size, args.repeats, args.quick, out,
                           args.device, args.warmup):
            print(json.dumps(row), flush=True)
        return 0

    rows, outputs = [], {}
    # CPU: one subprocess per (config, n), so peak RSS is per request size; CUDA: one per config (GPU peak per n)
    jobs = [(c, [n]) for n in ns for c in configs] if device.type == "cpu" else [(c, ns) for c in configs]
    with tempfile.TemporaryDirectory() as tmp:
        for config, job_ns in jobs:
            cmd = [sys.executable, "-m", "exegan.bench", *common, "--_one", config, ",".join(map(str, job_ns)), tmp]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                print(res.stderr, file=sys.stderr)
                return res.returncode
            found = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
            for row in found:
                rows.append(row)
                outputs[(config, row["n"])] = torch.load(os.path.join(tmp, f"{config}-{row['n']}.pt"),
                                                         weights_only=True)
                print(f"{config:>14} n={row['n']}: {row['median_s']:.4f} s", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: (ns.index(r["n"]), configs.index(r["config"])))
    base = {r["n"]: r["median_s"] for r in rows if r["config"] == "baseline"}
    for r in rows:
        r["speedup_vs_baseline"] = base[r["n"]] / r["median_s"] if r["n"] in base else None
        ref = outputs.get(("pipeline-fp32", r["n"]))
        if r["config"] != "pipeline-fp32" and ref is not None:
            d = (outputs[(r["config"], r["n"])] - ref).abs()
            r["max_abs_dev_vs_fp32"], r["mean_abs_dev_vs_fp32"] = float(d.max()), float(d.mean())
            r["max_dev_8bit_levels"] = float(d.max()) * 127.5

    on_gpu = device.type == "cuda"
    where = device_name(args.device)
    print(f"# exegan.bench: size {args.size}{' (quick/narrow)' if args.quick else ' (official architecture)'}, "
          f"torch {torch.__version__}, {where}, {args.repeats} repeats (median) after {args.warmup} warm-up(s)")
    gpu_col = " peak GPU (MiB) |" if on_gpu else ""
    print(f"| config | results | time (s) | vs baseline | peak RSS (MiB) |{gpu_col} "
          "max abs dev vs fp32 (8-bit levels) |")
    print("|---|---|---|---|---|" + ("---|" if on_gpu else "") + "---|")
    for r in rows:
        dev = f"{r['max_abs_dev_vs_fp32']:.4f} ({r['max_dev_8bit_levels']:.1f})" if "max_abs_dev_vs_fp32" in r else "-"
        sp = f"{r['speedup_vs_baseline']:.2f}x" if r["speedup_vs_baseline"] else "-"
        gpu = f" {r['peak_gpu_mib']:.0f} |" if on_gpu else ""
        print(f"| {r['config']} | {r['n']} | {r['median_s']:.4f} | {sp} | {r['peak_rss_mib']:.0f} |{gpu} {dev} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "quick": args.quick, "torch": torch.__version__, "device": args.device,
                       "device_name": where, "repeats": args.repeats, "warmup": args.warmup, "rows": rows}, f,
                      indent=2)
    return 0


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
