"""Property-based fuzzing of everything that reads a user's file (hypothesis): model configs, safetensors weights,
the authors' .pt checkpoints, images and masks. Whatever the bytes, only the documented error (``ValueError``,
``FileNotFoundError`` for a missing file) escapes, no code runs, and memory stays bounded."""

import io
import json
import pickle
import resource
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import make_tiny
from exegan import images
from exegan.checkpoints import load_model, safe_torch_load

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RSS_BOUND_MB = 1024  # peak-memory growth allowed for a whole fuzz test (the tiny model is a few MB)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        b[pos % len(b)] = value
    return bytes(b[: max(1, len(b) - cut)])


edits = st.lists(st.tuples(st.integers(0, 2 ** 20), st.integers(0, 255)), max_size=8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz") / "m"
    make_tiny().save_pretrained(d)
    return d


@FUZZ
@given(part=st.sampled_from(["generator", "style_encoder", None]), key=st.text(max_size=20) | st.sampled_from(
    ["size", "style_dim", "n_mlp", "channel_multiplier", "max_channels", "n_styles", "units", "widths", "kind",
     "input_size", "exemplar_start", "n_exemplar", "format_version", "name"]), value=json_values)
def test_any_config_json_loads_or_raises_value_error(model_dir, tmp_path_factory, part, key, value):
    base = _peak_rss_mb()
    d = tmp_path_factory.mktemp("cfg")
    for f in ("config.json", "model.safetensors"):
        (d / f).write_bytes((model_dir / f).read_bytes())
    cfg = json.loads((d / "config.json").read_text())
    (cfg[part] if part else cfg)[key] = value
    (d / "config.json").write_text(json.dumps(cfg))
    try:
        load_model(d)
    except ValueError:
        pass
    assert _peak_rss_mb() - base < RSS_BOUND_MB


@FUZZ
@given(changes=edits, cut=st.integers(0, 64))
def test_corrupt_safetensors_raise_value_error(model_dir, tmp_path_factory, changes, cut):
    d = tmp_path_factory.mktemp("st")
    (d / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    data = (model_dir / "model.safetensors").read_bytes()
    header = int.from_bytes(data[:8], "little") + 8  # aim most edits at the JSON header
    (d / "model.safetensors").write_bytes(_mutate(data, [(p % header, v) for p, v in changes], cut))
    try:
        load_model(d)
    except ValueError:
        pass


class _Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('code ran')",))


@pytest.fixture(scope="module")
def pt_bytes():
    buf = io.BytesIO()
    torch.save({"g_ema": {"w": torch.ones(3)}, "opts": {"size": 256}, "latent_avg": torch.zeros(4)}, buf)
    return buf.getvalue()


@FUZZ
@given(changes=edits, cut=st.integers(0, 200))
def test_corrupt_pt_files_raise_value_error(pt_bytes, tmp_path_factory, changes, cut):
    path = tmp_path_factory.mktemp("pt") / "x.pt"
    path.write_bytes(_mutate(pt_bytes, changes, cut))
    try:
        safe_torch_load(path)
    except ValueError:
        pass


def test_a_pt_file_that_would_run_code_is_refused(tmp_path):
    for payload in (pickle.dumps(_Boom()), None):
        path = tmp_path / "evil.pt"
        if payload is None:  # the same inside torch's zip container
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("archive/data.pkl", pickle.dumps({"x": _Boom()}))
                z.writestr("archive/version", "3\n")
        else:
            path.write_bytes(payload)
        with pytest.raises(ValueError):
            safe_torch_load(path)


@pytest.fixture(scope="module")
def image_bytes():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    out = {}
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        out[fmt] = buf.getvalue()
    return out


@FUZZ
@given(fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"]), changes=edits, cut=st.integers(0, 300),
       loader=st.sampled_from([images.load_image, images.load_mask]))
def test_corrupt_images_and_masks_raise_value_error(image_bytes, fmt, changes, cut, loader):
    base = _peak_rss_mb()
    try:
        loader(_mutate(image_bytes[fmt], changes, cut))
    except ValueError:
        pass
    assert _peak_rss_mb() - base < RSS_BOUND_MB


@FUZZ
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_are_never_an_image_by_accident(data):
    try:
        images.load_image(data)
    except ValueError:
        pass
