"""Which number format inference runs in: ``precision="auto"`` picks bf16 only where the hardware computes it natively.

bf16 autocast is about 2.4x faster than fp32 on CPUs with native bf16 instructions (AVX512-BF16 or AMX) and on CUDA
GPUs; on other CPUs PyTorch emulates it and it is several times *slower* than fp32. Outputs in bf16 differ from fp32
by a few 8-bit levels inside the hole; known pixels are copied from the input either way.
"""

from __future__ import annotations

import platform
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic (x86)


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU lists AVX512-BF16 or AMX-BF16 (Linux x86). Other systems report False (fp32 is then the
    safe choice: no measurement here showed emulated bf16 to be faster)."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return any(flag in flags for flag in CPU_BF16_FLAGS)
    except OSError:
        pass
    return False


def resolve_precision(precision: str, device: torch.device) -> Literal["fp32", "bf16", "fp16"]:
    """The concrete format for ``precision`` on ``device``: ``"auto"`` is bf16 on CUDA (fp16 on GPUs without bf16)
    and on CPUs with native bf16, fp32 elsewhere; the others are returned as given."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision != "auto":
        return precision  # type: ignore[return-value]
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"
