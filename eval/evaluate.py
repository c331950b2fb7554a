"""Metrics of finished completions: per-image features and pixel metrics, then per-(method, mask, seed) set metrics,
then mean ± std over seeds per (method, mask).

Work is spread over the Accelerate processes at three levels: feature extraction (batches of distinct images),
pixel metrics / LPIPS pairs (batches of pairs), and set metrics (one FID sqrtm + one LinearSVC fit per set).
Only the main process returns the result entries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from .distributed import Dist
from .features import FeatureStore, load_uint8
from .methods import Method
from .protocol import Protocol, output_path

__all__ = ["Extractors", "load_extractors", "evaluate"]


@dataclass
class Extractors:
    """The networks behind the metrics (None = metric not computed) and their descriptions for results.json.

    Each feature extractor is ``(cache id, fn)`` with ``fn``: uint8 ``[B, H, W, 3]`` -> ``[B, ...]``."""

    inception: tuple[str, Callable] | None = None
    set_keys: tuple[str, str, str] = ("fid", "u_ids", "p_ids")
    """Names of the Fréchet distance and the two IDS computed on ``inception``'s features (other names when a
    stand-in network replaces Inception, so its numbers never pass for FID)."""
    identity: tuple[str, Callable] | None = None
    attributes: tuple[str, Callable] | None = None
    code_dim: int = 0
    lpips: Callable | None = None
    diversity_key: str = "lpips_diversity"
    info: dict = field(default_factory=dict)


def load_extractors(dist: Dist, methods: Sequence[Method], *, fid_weights: str | None, identity: str = "auto",
                    attr_model: str = "auto", lpips_vgg: str | None = None, n_seeds: int = 1) -> Extractors:
    """Load every network on every process. ``fid_weights``: the FID Inception file; None: no set metrics;
    ``"sface"``: the offline stand-in, a Fréchet distance and IDS on SFace embeddings (``fd_sface``,
    ``u_ids_sface``, ``p_ids_sface``). ``lpips_vgg``: VGG16 weights for LPIPS diversity; ``"random"``: random
    trunk, smoke tests only; ``"sface"``: diversity by the SFace-trunk distance (``sface_diversity``)."""
    from .attributes import StyleCodeExtractor
    from .diversity import load_lpips_metric
    from .identity import load_identity_backend
    from .inception import RESIZE_DESCRIPTION, load_fid_inception

    ex = Extractors()
    if fid_weights is None:
        ex.info["feature_extractor"] = {"name": "none (--no-fid)"}
    elif fid_weights == "sface":
        ex.inception, ex.info["feature_extractor"] = _sface_features(dist.device)
        ex.set_keys = ("fd_sface", "u_ids_sface", "p_ids_sface")
        ex.info["resize"] = "bilinear to 112x112 (SFace input)"
    else:
        net, info = load_fid_inception(fid_weights, dist.device)

        @torch.no_grad()
        def inception(batch: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255).to(dist.device)
            return net(x).float().cpu().numpy()

        ex.inception = (f"fid-inception-{info['sha256'][:16]}", inception)
        ex.info["feature_extractor"] = {"name": "FID Inception-v3 pool3, 2048-d (pytorch-fid architecture)", **info}
        ex.info["resize"] = RESIZE_DESCRIPTION
    backend, ex.info["identity"] = load_identity_backend(identity, dist.device)
    if backend is not None:
        ex.identity = (backend.cache_id, backend.embed)
    exegans = [m for m in methods if m.model is not None]
    ref = None
    if attr_model == "auto":
        ref = exegans[0] if exegans else None
    elif attr_model != "none":
        ref = next((m for m in exegans if m.spec.label == attr_model), None)
        if ref is None:
            raise ValueError(f"--attr-model {attr_model!r} is not the label of an EXE-GAN method")
    if ref is not None:
        codes = StyleCodeExtractor(ref.model, label=ref.spec.label)
        ex.attributes, ex.code_dim = (codes.cache_id, codes), codes.dim
        ex.info["attributes"] = {"available": True, **codes.info}
    else:
        ex.info["attributes"] = {"available": False, "reason": "no EXE-GAN model to encode style codes"}
    if n_seeds < 2:
        ex.info["lpips"] = {"available": False, "reason": "diversity needs >= 2 seeds"}
    elif lpips_vgg == "sface":
        from .sface_perceptual import SFacePerceptual

        metric = SFacePerceptual(device=dist.device)
        ex.lpips, ex.diversity_key = metric, "sface_diversity"
        ex.info["lpips"] = {"available": True, "stand_in_for": "LPIPS (not comparable)", **metric.info}
    else:
        random = lpips_vgg == "random"
        ex.lpips, ex.info["lpips"] = load_lpips_metric(None if random else lpips_vgg, dist.device, random)
    return ex


def _sface_features(device) -> tuple[tuple[str, Callable], dict]:
    """The stand-in for FID's Inception features: SFace's 128-d face embedding before normalisation."""
    from .identity import load_identity_backend

    backend, info = load_identity_backend("sface", device)
    name = ("SFace face embedding, 128-d, before normalisation (offline stand-in for Inception: FD-SFace and "
            "IDS-SFace are not comparable with FID / IDS)")
    return (f"fd-sface-{info['fingerprint']}", backend.features), {"name": name, "source": info.get("source", "")}


def _stat(values: list[float]) -> dict:
    """mean, population std and the values over seeds (an infinite PSNR gives mean inf, std nan)."""
    arr = np.asarray(values, np.float64)
    with np.errstate(invalid="ignore"):
        return {"mean": float(arr.mean()), "std": float(arr.std()), "per_seed": [float(v) for v in arr]}


def evaluate(methods: Sequence[Method], proto: Protocol, out: str | os.PathLike, seeds: list[int], dist: Dist,
             store: FeatureStore, ex: Extractors, *, fid_sqrt: str = "sqrtm",
             batch_size: int = 16) -> list[dict] | None:
    """Result entries (one per method x mask bucket) on the main process; None on the others."""
    from .attributes import attribute_distance
    from .fid import fid_from_features
    from .identity import cosine
    from .ids import inception_discriminative_scores
    from .pixel import pixel_metrics

    n = len(proto.gt)
    sets = {(m.spec.label, b, s): [str(output_path(out, m.spec.label, b, s, name)) for name in proto.names]
            for m in methods for b in proto.masks for s in seeds}
    outputs = [p for paths in sets.values() for p in paths]
    gt, exm = [str(p) for p in proto.gt], [str(p) for p in proto.exemplars]

    def features(extractor, paths):
        return dict(zip(paths, store.features(extractor[0], extractor[1], paths))) if extractor else None

    inc = features(ex.inception, gt + outputs)
    idn = features(ex.identity, gt + exm + outputs)
    att = features(ex.attributes, exm + outputs)
    pairs = [(g, o) for paths in sets.values() for g, o in zip(gt, paths)]
    pix = dict(zip(pairs, dist.map(lambda b: [pixel_metrics(load_uint8(g), load_uint8(o)) for g, o in b], pairs, 8)))
    lp_pairs = [(sets[(m.spec.label, b, s1)][i], sets[(m.spec.label, b, s2)][i])
                for m in methods for b in proto.masks for i in range(n)
                for k, s1 in enumerate(seeds) for s2 in seeds[k + 1:]] if ex.lpips else []
    lp = dict(zip(lp_pairs, dist.map(lambda b: list(ex.lpips(np.stack([load_uint8(x) for x, _ in b]),
                                                             np.stack([load_uint8(y) for _, y in b]))),
                                     lp_pairs, batch_size)))

    def set_metrics(key: tuple) -> dict:
        """Metrics of one (method, mask, seed) set of n completions (values, plus errors by metric)."""
        paths, vals, errors = sets[key], {}, {}
        if inc is not None:
            real, fake = np.stack([inc[p] for p in gt]), np.stack([inc[p] for p in paths])
            fd_key, u_key, p_key = ex.set_keys
            try:
                vals[fd_key] = fid_from_features(real, fake, fid_sqrt)
            except ValueError as err:  # sqrtm's imaginary-component rule, or fewer than 2 images
                errors[fd_key] = str(err)
            ids = inception_discriminative_scores(real, fake)
            vals[u_key], vals[p_key] = ids["u_ids"], ids["p_ids"]
        px = [pix[(g, p)] for g, p in zip(gt, paths)]
        vals |= {k: float(np.mean([d[k] for d in px])) for k in ("mae", "psnr", "ssim")}
        if idn is not None:
            e_out = np.stack([idn[p] for p in paths])
            vals["id_cos_exemplar"] = float(cosine(e_out, np.stack([idn[p] for p in exm])).mean())
            vals["id_cos_original"] = float(cosine(e_out, np.stack([idn[p] for p in gt])).mean())
        if att is not None:
            vals["attr_distance"] = float(attribute_distance(np.stack([att[p] for p in paths]),
                                                             np.stack([att[p] for p in exm]), ex.code_dim).mean())
        return {"values": vals, "errors": errors, "ssim_window": px[0]["ssim_win"]}

    keys = list(sets)
    per_set = dict(zip(keys, dist.map(lambda batch: [set_metrics(k) for k in batch], keys, 1)))
    if not dist.is_main:
        return None

    entries = []
    for m in methods:
        for b in proto.masks:
            runs = [per_set[(m.spec.label, b, s)] for s in seeds]
            metrics = {k: _stat([r["values"][k] for r in runs]) for k in runs[0]["values"]
                       if all(k in r["values"] for r in runs)}
            metrics |= {k: {"mean": None, "error": e} for r in runs for k, e in r["errors"].items()}
            if lp:
                per_input = [np.mean([lp[(sets[(m.spec.label, b, s1)][i], sets[(m.spec.label, b, s2)][i])]
                                      for k, s1 in enumerate(seeds) for s2 in seeds[k + 1:]]) for i in range(n)]
                metrics[ex.diversity_key] = {"mean": float(np.mean(per_input)),
                                              "std_over_inputs": float(np.std(per_input)),
                                              "pairs_per_input": len(seeds) * (len(seeds) - 1) // 2}
            entries.append({"method": m.spec.label, "mask": b, "n": n, "seeds": list(seeds),
                            "feature_extractor": _extractor_name(ex.info), "resize": ex.info.get("resize"),
                            "fid_sqrt": fid_sqrt if inc is not None else None,
                            "ssim_window": runs[0]["ssim_window"], "metrics": metrics})
    return entries


def _extractor_name(info: dict) -> str:
    fe = info["feature_extractor"]
    return fe["name"] + (f" [weights sha256 {fe['sha256'][:16]}]" if fe.get("sha256") else "")
