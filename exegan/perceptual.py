"""LPIPS (VGG16 trunk, v0.1 linear heads) for the training loss, without any download.

The ``lpips`` 0.1.4 package ships the v0.1 linear heads (``lpips/weights/v0.1/vgg.pth``) but takes its VGG16
ImageNet trunk from torchvision, which downloads ``vgg16-397923af.pth`` at run time -- impossible offline. Here the
network is ``lpips.LPIPS(pretrained=True, net="vgg", version="0.1", pnet_rand=True)`` (``pnet_rand``: no trunk
download), built on the meta device and then filled with lpips' own scaling constants, the package's v0.1 linear
heads and the trunk weights from a local copy of torchvision's VGG16 state dict, looked up in this order:

1. ``vgg_weights``, an explicit path (a missing file is an error, there is no fallback);
2. the torch hub cache, ``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth`` (i.e. ``$TORCH_HOME/hub/...``,
   default ``~/.cache/torch/hub/checkpoints/``), where torchvision itself would have put it;
3. with ``allow_random_backbone=True`` only: the random trunk, with a warning (smoke tests; the loss is then
   meaningless as a perceptual distance).

Otherwise :func:`load_lpips` raises ``FileNotFoundError`` saying where to put the file.

Key mapping: lpips splits ``vgg16.features`` into ``slice1..slice5`` at the layer boundaries 4, 9, 16, 23, 30
(outputs relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) and keeps torchvision's layer indices as module names, so
``features.{i}.{weight,bias}`` maps to ``net.slice{k}.{i}.{weight,bias}`` for the 13 convolutions
``i`` in 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28; the ``classifier.*`` entries are not used.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from ._torchvision import ensure_torchvision

__all__ = ["load_lpips", "vgg16_hub_path", "vgg16_to_lpips_keys", "VGG16_FILENAME", "VGG16_URL"]

VGG16_FILENAME = "vgg16-397923af.pth"
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILENAME}"
_SLICE_ENDS = (4, 9, 16, 23, 30)  # lpips vgg16: slice k = features[_SLICE_ENDS[k-2]:_SLICE_ENDS[k-1]]
_VGG16_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def vgg16_hub_path() -> Path:
    """Where torchvision caches its ImageNet VGG16 weights: ``torch.hub.get_dir()/checkpoints/vgg16-397923af.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILENAME


def vgg16_to_lpips_keys() -> dict[str, str]:
    """torchvision ``vgg16().state_dict()`` key -> key in ``lpips.pretrained_networks.vgg16`` (``LPIPS.net``)."""
    mapping = {}
    for i in _VGG16_CONVS:
        k = next(s for s, end in enumerate(_SLICE_ENDS, start=1) if i < end)
        for p in ("weight", "bias"):
            mapping[f"features.{i}.{p}"] = f"slice{k}.{i}.{p}"
    return mapping


def _lpips_trunk_state(state: dict, source: str) -> dict[str, torch.Tensor]:
    """A torchvision VGG16 state dict (``features.*`` [+ ``classifier.*``], or a bare ``vgg16().features``
    state dict with keys ``0.weight`` ...) -> the state dict of lpips' vgg16 slices."""
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a VGG16 state dict, got {type(state).__name__}")
    if not any(str(k).startswith("features.") for k in state):
        state = {f"features.{k}": v for k, v in state.items()}
    mapping = vgg16_to_lpips_keys()
    missing = [k for k in mapping if k not in state]
    if missing:
        raise ValueError(f"{source}: not a torchvision VGG16 state dict (missing {missing[:3]}"
                         f"{' ...' if len(missing) > 3 else ''}); expected the file {VGG16_FILENAME}")
    return {mapping[k]: state[k] for k in mapping}


def _resolve_weights(vgg_weights, allow_random_backbone: bool) -> Path | None:
    if vgg_weights is not None:
        path = Path(vgg_weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG16 weights for LPIPS not found: {path} (expected torchvision's ImageNet "
                                    f"VGG16 state dict {VGG16_FILENAME}, from {VGG16_URL})")
        return path
    hub = vgg16_hub_path()
    if hub.is_file():
        return hub
    if allow_random_backbone:
        return None
    raise FileNotFoundError(
        f"LPIPS needs torchvision's ImageNet VGG16 weights, file {VGG16_FILENAME}, and cannot download them "
        f"offline. Put the file at {hub} (the torch hub cache: $TORCH_HOME/hub/checkpoints/, default "
        f"~/.cache/torch/hub/checkpoints/), or pass its path as vgg_weights / --lpips_vgg_path. "
        f"It can be fetched on a machine with network access from {VGG16_URL}.")


def _random_trunk(net: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision's VGG initialisation (kaiming-normal fan-out weights, zero biases) for lpips' trunk, from a
    private generator with a fixed seed: the same trunk every time, and the global RNG is left untouched."""
    state, gen = {}, torch.Generator().manual_seed(0)
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            w = torch.empty(module.weight.shape)
            nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=gen)
            state[f"{name}.weight"], state[f"{name}.bias"] = w, torch.zeros(module.out_channels)
    return state


def load_lpips(vgg_weights: str | os.PathLike | None = None, allow_random_backbone: bool = False) -> nn.Module:
    """``lpips.LPIPS(net="vgg", version="0.1")`` with the VGG16 trunk loaded from a local file (see the module
    docstring for the lookup order), in eval mode with every parameter frozen (gradients still flow to the
    inputs). Call it as lpips: ``net(pred, target)`` with ``[B,3,H,W]`` inputs in [-1, 1] -> ``[B,1,1,1]``.

    The ``lpips.LPIPS`` object is built on the meta device (no 550 MB throw-away torchvision VGG16 with its
    classifier, ~20 ms instead of ~1.3 s), then materialised and filled with one strict ``load_state_dict``:
    lpips' input-scaling constants, the package's v0.1 heads (``lpips/weights/v0.1/vgg.pth``) and the trunk.
    """
    path = _resolve_weights(vgg_weights, allow_random_backbone)
    trunk = None
    if path is not None:  # read the file first: a bad file fails before anything is built
        trunk = _lpips_trunk_state(torch.load(path, map_location="cpu", weights_only=True), str(path))
    ensure_torchvision()
    import lpips

    with warnings.catch_warnings(), torch.device("meta"):
        # lpips calls tv.vgg16(pretrained=False) (torchvision deprecation notes) and loads its heads into the
        # meta parameters (a no-op, torch warns); both are expected: everything is loaded below.
        warnings.simplefilter("ignore", UserWarning)
        net = lpips.LPIPS(pretrained=True, net="vgg", version="0.1", pnet_rand=True, verbose=False)
    net.to_empty(device="cpu")
    heads_file = Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth"
    heads = torch.load(heads_file, map_location="cpu", weights_only=True)
    state = {f"scaling_layer.{k}": v for k, v in lpips.ScalingLayer().state_dict().items()}
    for k in range(len(net.lins)):
        w = heads[f"lin{k}.model.1.weight"]
        state[f"lin{k}.model.1.weight"] = state[f"lins.{k}.model.1.weight"] = w
    state.update({f"net.{k}": v for k, v in (trunk if trunk is not None else _random_trunk(net.net)).items()})
    net.load_state_dict(state, strict=True)  # every parameter and buffer gets a real value
    net.vgg16_weights = str(path) if path is not None else None
    if trunk is None:
        warnings.warn(
            "LPIPS is using a RANDOMLY INITIALISED VGG16 trunk (allow_random_backbone=True): the perceptual loss is "
            f"meaningless; use it for smoke tests only. For real training put {VGG16_FILENAME} at "
            f"{vgg16_hub_path()} or pass vgg_weights.", UserWarning, stacklevel=2)
    net.eval()
    net.requires_grad_(False)
    return net
