"""Import torchvision safely on a CPU-only torch.

The torchvision 0.28.0 wheel on PyPI is a CUDA build. Next to the CPU build of torch 2.13.0 its compiled
extension cannot load, and ``import torchvision`` then dies with
``RuntimeError: operator torchvision::nms does not exist`` (its fake-op registration assumes the extension
registered the operator schemas). Everything that imports torchvision (``lpips``, ``pytorch_fid``) dies with it.

:func:`ensure_torchvision` fixes this in one place: if the plain import fails with exactly that error, it drops
the half-imported modules, defines the two missing schemas ``torchvision::nms`` / ``torchvision::qnms`` and
imports again. The pure-Python parts then work (``models.*``, ``transforms``, ``utils``); ``ops.nms`` and
``torchvision.io`` codecs stay unavailable (we use PIL). Where torchvision imports normally this is a no-op.
It is called on ``import exegan``, so every process that imports the package (Accelerate workers, test
workers, the app) is covered before anything imports torchvision or lpips.
"""

from __future__ import annotations

import sys

_SCHEMA_LIBRARY = None  # keeps the torch.library.Library alive; the schemas vanish if it is collected


def _drop_half_imported() -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def ensure_torchvision():
    """Return the ``torchvision`` module, applying the CPU-torch workaround only when it is needed."""
    global _SCHEMA_LIBRARY
    try:
        import torchvision
        return torchvision
    except RuntimeError as err:
        if "torchvision::nms" not in str(err):
            raise
    import torch

    _drop_half_imported()
    if _SCHEMA_LIBRARY is None:
        _SCHEMA_LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            _SCHEMA_LIBRARY.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision

    return torchvision
