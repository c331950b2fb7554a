"""Evaluate inpainting methods on one protocol: ``python -m eval.run --method ... --data DIR --out DIR``.

    python -m eval.run --data celebahq_test/ --out runs/eval \\
        --method exegan=org/exegan-ffhq --method exegan-official=EXE_GAN_model.pt,psp_ffhq_encode.pt \\
        --method telea --method paste --masks center,10-20,20-30,30-40,40-50,50-60 \\
        --fid-weights pt_inception-2015-12-05-6726825d.pth --seeds 0,1,2

    # several processes (GPUs, or CPU with ACCELERATE_USE_CPU=1 ... --multi_gpu): same arguments
    accelerate launch --num_processes 4 -m eval.run ...

Steps: (1) the main process fits the test images to S x S, pairs exemplars and materialises the masks
(``OUT/inputs``, ``OUT/masks``); (2) every method completes every (image, mask, seed), work shared by the
processes, PNGs under ``OUT/outputs/<method>/<mask>/seed<seed>/<stem>.png``; (3) features (Inception, identity,
style codes) are computed once per distinct image content and cached, pixel metrics and LPIPS pairs are shared
out the same way, and so are the per-(method, mask, seed) FID / IDS computations; (4) the main process
aggregates mean ± std over seeds and writes ``OUT/results.json`` and ``OUT/results.md`` (:mod:`eval.report`).

The seed of one completion is ``job_seed(seed, mask, index)`` (sha256-derived), independent of the process
layout and of the other images, so any subset reproduces the same pixels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import exegan  # noqa: F401  (installs the torchvision guard before anything imports torchvision / lpips)

from . import report
from .data import synthetic_spec
from .distributed import Dist
from .evaluate import evaluate, load_extractors
from .features import FeatureStore, load_uint8
from .masks import DEFAULT_BUCKETS, load_mask, mask_set_sha256, mask_sha256
from .methods import Job, Method, build_method, parse_method
from .protocol import Protocol, output_path, prepare_protocol

__all__ = ["main", "parse_args", "job_seed", "generate"]


def job_seed(seed: int, mask: str, index: int) -> int:
    """Seed of completion ``index`` under ``mask`` for run seed ``seed``: first 31 bits of sha256("seed:mask:index")."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{mask}:{index}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", action="append", required=True, metavar="[LABEL=]KIND[=ARG]",
                   help="exegan=PATH|REPO, exegan-official=EXE.pt,PSP.pt, telea[=R], ns[=R], paste, folder=DIR "
                        "(repeatable; see eval/methods.py)")
    p.add_argument("--data", required=True,
                   help="folder of test images (sorted by name), or synthetic-faces:N[:SEED] for N held-out faces "
                        "of the offline synthetic-faces source (64 px; no dataset needed)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--masks", default=DEFAULT_BUCKETS, help=f"mask buckets (default {DEFAULT_BUCKETS})")
    p.add_argument("--mask-source", default=None,
                   help="folder of irregular mask pictures to bucket by hole ratio (default: generate, seeded)")
    p.add_argument("--mask-invert", action="store_true", help="mask pictures are black = hole")
    p.add_argument("--mask-seed", type=int, default=0, help="seed of generated masks (default 0)")
    p.add_argument("--mask-dir", default=None, help="where masks are materialised (default OUT/masks); share it "
                                                    "between runs to pin the masks")
    p.add_argument("--exemplars", default="batch-reverse", help="batch-reverse (official), same, or a folder")
    p.add_argument("--pair-batch", type=int, default=8, help="batch size of the batch-reverse pairing (default 8)")
    p.add_argument("--keep-last", action="store_true", help="pair an incomplete last batch instead of dropping it")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated run seeds (default 0,1,2)")
    p.add_argument("--repeats", type=int, default=None, help="shorthand for --seeds 0,...,R-1")
    p.add_argument("--limit", type=int, default=None, help="use only the first N test images (sorted)")
    p.add_argument("--size", type=int, default=None,
                   help="image size S (default: the first EXE-GAN model's size, else 256)")
    p.add_argument("--fid-weights", default=os.environ.get("EXEGAN_FID_WEIGHTS"),
                   help="pt_inception-2015-12-05-6726825d.pth: a path or hf://OWNER/REPO/FILE "
                        "(default $EXEGAN_FID_WEIGHTS); 'sface': the offline stand-in, a Frechet distance and IDS "
                        "on SFace face embeddings (FD-SFace, not comparable with FID)")
    p.add_argument("--no-fid", action="store_true", help="skip the Inception metrics (FID, U-IDS, P-IDS)")
    p.add_argument("--fid-sqrt", choices=["sqrtm", "exact"], default="sqrtm",
                   help="tr sqrt(S1 S2) by scipy sqrtm (pytorch-fid, default) or exactly by eigenvalues (fast)")
    p.add_argument("--identity", default="auto", help="identity backend: sface[:PATH], arcface:PATH, none, auto")
    p.add_argument("--attr-model", default="auto",
                   help="method label whose style encoder measures the attribute distance (auto: the first "
                        "EXE-GAN method; none)")
    p.add_argument("--lpips-vgg", default=None,
                   help="VGG16 weights for LPIPS diversity (default: torch hub cache; 'random' = smoke test; "
                        "'sface' = the offline SFace-trunk distance instead, not comparable with LPIPS)")
    p.add_argument("--batch-size", type=int, default=16, help="images per network batch (default 16)")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="EXE-GAN precision")
    p.add_argument("--cache", default=None, help="feature cache folder (default OUT/cache; 'none' = memory only)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads per process (default: torch's; 1 is faster on busy small machines)")
    args = p.parse_args(argv)
    args.out = str(Path(args.out).resolve())
    args.seeds = list(range(args.repeats)) if args.repeats else [int(s) for s in args.seeds.split(",") if s.strip()]
    if not args.seeds or len(set(args.seeds)) != len(args.seeds):
        p.error("--seeds must list distinct integers")
    for flag, value, hi in (("--seeds", len(args.seeds), 100), ("--pair-batch", args.pair_batch, 4096),
                            ("--batch-size", args.batch_size, 4096), ("--limit", args.limit, 10**7),
                            ("--threads", args.threads, 1024), ("--size", args.size, 4096)):
        if value is not None and not 1 <= value <= hi:
            p.error(f"{flag} must be in 1-{hi}, got {value}")
    try:
        synthetic_spec(args.data)
    except ValueError as err:
        p.error(str(err))
    if not args.no_fid and not args.fid_weights:
        p.error("FID needs --fid-weights (pt_inception-2015-12-05-6726825d.pth, a path or hf://OWNER/REPO/FILE; "
                "or set EXEGAN_FID_WEIGHTS), or pass --no-fid")
    return args


# ------------------------------------------------------------------------------------------------ generation
def generate(method: Method, proto: Protocol, seeds: list[int], out: Path, dist: Dist) -> dict[tuple, str]:
    """Complete every (mask, seed, image) with ``method`` and save the composited PNGs (a progress bar
    ``generate <label>`` on the main process).

    Returns ``{(mask, seed): sha256 of the masks actually used}`` (identical on all processes)."""
    from PIL import Image

    label = method.spec.label
    jobs = [(m, s, i) for m in proto.masks for s in seeds for i in range(len(proto.gt))]

    def work(batch):
        digests = []
        for mask, seed, i in batch:
            image, exemplar = load_uint8(proto.gt[i]), load_uint8(proto.exemplars[i])
            hole = load_mask(proto.masks[mask][i])
            result = method.complete(Job(proto.gt[i].stem, mask, job_seed(seed, mask, i), image, hole, exemplar,
                                         run_seed=seed))
            result = np.where(hole[..., None], np.asarray(result, np.uint8), image)  # known pixels = ground truth
            path = output_path(out, label, mask, seed, proto.gt[i].stem)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(result).save(path)
            digests.append(mask_sha256(hole))
        return digests

    digests = dist.map(work, jobs, batch_size=4, desc=f"generate {label}")
    used: dict[tuple, list[str]] = {}
    for (mask, seed, _), d in zip(jobs, digests):
        used.setdefault((mask, seed), []).append(d)
    return {k: mask_set_sha256(v) for k, v in used.items()}


# ------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``argv`` defaults to ``sys.argv[1:]``); returns the exit status 0 or raises."""
    import torch

    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        with Dist() as dist:
            _run(dist, args, sys.argv[1:] if argv is None else list(argv))
    finally:
        torch.set_num_threads(threads)  # main() may be called in-process (tests, notebooks)
    return 0


def _run(dist: Dist, args: argparse.Namespace, argv: list[str]) -> None:
    """Load methods, fix the protocol, generate, evaluate, write results (see the module docstring)."""
    t0 = time.perf_counter()
    taken: set[str] = set()
    specs = []
    for text in args.method:
        specs.append(parse_method(text, taken))
        taken.add(specs[-1].label)
    methods = [build_method(s, dist.device, args.precision) for s in specs]
    # every metric network is loaded (and a missing or wrong weights file refused) before hours of generation
    ex = load_extractors(dist, methods, fid_weights=None if args.no_fid else args.fid_weights,
                         identity=args.identity, attr_model=args.attr_model, lpips_vgg=args.lpips_vgg,
                         n_seeds=len(args.seeds))
    size = args.size or next((m.model.size for m in methods if m.model is not None), 256)
    out = Path(args.out)
    proto = prepare_protocol(out, args.data, size, dist, masks=args.masks, exemplars=args.exemplars,
                             pair_batch=args.pair_batch, keep_last=args.keep_last, limit=args.limit,
                             mask_dir=args.mask_dir, mask_source=args.mask_source, mask_seed=args.mask_seed,
                             mask_invert=args.mask_invert)
    timing: dict[str, float] = {"setup_s": time.perf_counter() - t0}
    mask_hashes = {}
    for m in methods:
        t = time.perf_counter()
        for (b, s), sha in generate(m, proto, args.seeds, out, dist).items():
            mask_hashes[(m.spec.label, b, s)] = sha
        timing[f"generate_{m.spec.label}_s"] = time.perf_counter() - t
    t = time.perf_counter()
    store = FeatureStore(dist, None if args.cache == "none" else (args.cache or out / "cache"), args.batch_size)
    entries = evaluate(methods, proto, out, args.seeds, dist, store, ex, fid_sqrt=args.fid_sqrt,
                       batch_size=args.batch_size)
    timing["metrics_s"] = time.perf_counter() - t
    if dist.is_main:
        for e in entries:  # the masks every method actually read must be the materialised set
            used = {mask_hashes[(e["method"], e["mask"], s)] for s in args.seeds}
            if used != {proto.info["masks"][e["mask"]]["sha256"]}:
                raise RuntimeError(f"{e['method']}/{e['mask']}: the masks used differ from the materialised set")
            e["mask_sha256"] = used.pop()
        results = {
            "format": "exegan-eval", "format_version": 1, "exegan_version": exegan.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(["python -m eval.run", *argv]),
            "processes": dist.world,
            "protocol": {"size": proto.size, "n": len(proto.gt), "data": proto.info["data"],
                         "n_available": proto.info["n_available"], "seeds": args.seeds,
                         "seed_rule": "completion seed = first 31 bits of sha256(f'{seed}:{mask}:{index}')",
                         "image_fit": "centre crop + LANCZOS to S x S (exegan.images.fit_square 'crop')",
                         "exemplars": proto.info["exemplars"], "masks": proto.info["masks"],
                         "fid_sqrt": args.fid_sqrt if ex.inception else None,
                         "ssim_window": entries[0]["ssim_window"], **ex.info},
            "methods": {m.spec.label: m.info for m in methods},
            "results": entries,
            "files": {"names": proto.names, "gt": _rel(proto.gt, out), "exemplars": _rel(proto.exemplars, out),
                      "masks": {b: _rel(ps, out) for b, ps in proto.masks.items()},
                      "outputs": "outputs/{method}/{mask}/seed{seed}/{name}.png"},
            "feature_passes": store.computed,
            "timing": {**timing, "total_s": time.perf_counter() - t0},
        }
        report.write_json(out / "results.json", results)
        (out / "results.md").write_text(report.markdown_table(json.loads((out / "results.json").read_text())))
        print(f"wrote {out / 'results.json'} and {out / 'results.md'} ({time.perf_counter() - t0:.1f} s)")
    dist.barrier()


def _rel(paths: list[Path], root: Path) -> list[str]:
    return [os.path.relpath(p, root.resolve()) for p in paths]


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
