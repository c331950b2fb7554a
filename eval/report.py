"""``results.json`` and the Markdown table (paper Table I layout: rows metric x mask, columns methods).

Every result entry of ``results.json`` carries its own N, seeds, feature extractor, resize filter and mask-set
hash next to the numbers; the table repeats N per row and states the rest in its caption. IDS and relative MAE
are stored as fractions and printed x100. Non-finite values (PSNR of a perfect reconstruction) are stored as the
strings ``"inf"`` / ``"nan"`` (JSON has no infinity).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["METRICS", "json_safe", "write_json", "markdown_table"]

# key, row label, better ("lower" / "higher" / None), scale for display, decimals
METRICS: list[tuple[str, str, str | None, float, int]] = [
    ("fid", "FID ↓", "lower", 1, 2),
    ("p_ids", "P-IDS (%) ↑", "higher", 100, 2),
    ("u_ids", "U-IDS (%) ↑", "higher", 100, 2),
    ("mae", "rel. MAE (%) ↓", "lower", 100, 2),
    ("psnr", "PSNR (dB) ↑", "higher", 1, 2),
    ("ssim", "SSIM ↑", "higher", 1, 4),
    ("id_cos_exemplar", "ID cos to exemplar ↑", "higher", 1, 4),
    ("id_cos_original", "ID cos to original", None, 1, 4),
    ("attr_distance", "attribute dist. (Eq. 7) ↓", "lower", 1, 4),
    ("lpips_diversity", "LPIPS diversity ↑", "higher", 1, 4),
    # offline stand-ins (``--fid-weights sface``, ``--lpips-vgg sface``): other networks, other scales
    ("fd_sface", "FD-SFace ↓ (not FID)", "lower", 1, 2),
    ("p_ids_sface", "P-IDS-SFace (%) ↑", "higher", 100, 2),
    ("u_ids_sface", "U-IDS-SFace (%) ↑", "higher", 100, 2),
    ("sface_diversity", "SFace-trunk diversity ↑ (not LPIPS)", "higher", 1, 4),
]


def json_safe(obj: Any) -> Any:
    """Recursively replace non-finite floats by "inf" / "-inf" / "nan" and numpy scalars by Python ones."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomic write of ``json_safe(obj)``."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(json_safe(obj), indent=1, allow_nan=False) + "\n")
    tmp.replace(path)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, str):
        return float(v)  # "inf" / "nan"
    return float(v)


def _cell(metric: dict | None, scale: float, decimals: int) -> str:
    if not metric or metric.get("mean") is None:
        return "n/a"
    mean = _num(metric["mean"]) * scale
    std = _num(metric.get("std"))
    text = f"{mean:.{decimals}f}" if math.isfinite(mean) else str(mean)
    if std is not None and math.isfinite(std) and len(metric.get("per_seed") or []) > 1:
        text += f" ± {std * scale:.{decimals}f}"
    return text


def markdown_table(results: dict) -> str:
    """The Markdown report of a ``results.json`` object."""
    proto = results["protocol"]
    labels = list(results["methods"])
    masks = list(proto["masks"])
    by_key = {(r["method"], r["mask"]): r for r in results["results"]}
    fe = proto.get("feature_extractor") or {}
    lines = [
        "# Evaluation (paper Table I layout)",
        "",
        f"- N: images per mask (in the N column); exemplars: {proto['exemplars']['mode']} "
        f"({proto['exemplars'].get('rule', '')}); image size {proto['size']}x{proto['size']}.",
        f"- Seeds: {', '.join(str(s) for s in proto['seeds'])}; cells are mean ± std over seeds "
        f"(population std); LPIPS diversity is the mean over inputs of the pairwise LPIPS between seeds.",
        f"- Feature extractor: {fe.get('name', 'none')}"
        + (f" (weights sha256 {fe['sha256'][:12]}…, {'standard' if fe.get('standard_weights') else 'NON-STANDARD'}"
           f" weights)" if fe.get("sha256") else "")
        + f"; resize: {proto.get('resize', 'n/a')}; FID square root: {proto.get('fid_sqrt', 'n/a')}.",
        f"- Identity backend: {_describe(proto.get('identity'))}; attribute encoder: "
        f"{_describe(proto.get('attributes'))}; LPIPS: {_describe(proto.get('lpips'))}.",
        f"- SSIM window: {proto.get('ssim_window', 'n/a')} (official 51); MAE is relative: Σ|gt−out| / Σ(gt+out).",
        "- Masks: " + "; ".join(f"{m} ({v.get('source', '')}, sha256 {v['sha256'][:12]}…, mean hole "
                                f"{100 * v['hole_ratio']['mean']:.1f}%)" for m, v in proto["masks"].items()) + ".",
        "",
        "| Metric | Mask | N | " + " | ".join(labels) + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for key, label, better, scale, decimals in METRICS:
        if not any(key in r["metrics"] for r in results["results"]):
            continue
        for mask in masks:
            entries = [by_key.get((m, mask)) for m in labels]
            cells = [_cell(e["metrics"].get(key) if e else None, scale, decimals) for e in entries]
            best = _best([(e["metrics"].get(key) or {}).get("mean") if e else None for e in entries], better)
            cells = [f"**{c}**" if i in best else c for i, c in enumerate(cells)]
            n = next((e["n"] for e in entries if e), "")
            lines.append(f"| {label} | {mask} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _describe(info: dict | None) -> str:
    if not info:
        return "none"
    if not info.get("available", True):
        return f"unavailable ({info.get('reason', '')})"
    shown = {k: (Path(v).name if k in ("source", "vgg16_weights") and v else v) for k, v in info.items()
             if k in ("backend", "source", "model", "network", "vgg16_weights", "fingerprint")}  # files by name
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def _best(values: list, better: str | None) -> set[int]:
    if better is None or len(values) < 2:
        return set()
    nums = [(i, _num(v)) for i, v in enumerate(values) if v is not None]
    nums = [(i, v) for i, v in nums if not math.isnan(v)]
    if not nums:
        return set()
    target = (min if better == "lower" else max)(v for _, v in nums)
    return {i for i, v in nums if v == target}
