"""Per-image metrics (MAE / PSNR / SSIM quirks), identity backends, attribute distance, LPIPS diversity, and the
protocol pieces (mask buckets, exemplar pairing, methods). Tiny inputs and networks only."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_tiny
from eval.attributes import StyleCodeExtractor, attribute_distance
from eval.data import batch_reverse_pairs, pair_exemplars, prepare_images
from eval.diversity import load_lpips_metric, seed_pairs
from eval.identity import cosine, load_identity_backend
from eval.masks import load_mask, mask_set_sha256, materialise_masks, parse_buckets
from eval.methods import Job, build_method, parse_method
from eval.pixel import pixel_metrics, psnr, relative_mae, ssim, ssim_window
from eval.testing import save_random_arcface


def _img(seed, h=32, w=32):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------ pixel metrics
def test_relative_mae_is_relative_and_has_no_uint8_wraparound():
    gt = np.full((2, 2, 3), 10, np.uint8)
    out = np.full((2, 2, 3), 30, np.uint8)
    assert relative_mae(gt, out) == pytest.approx(20 / 40)  # sum|d| / sum(gt + out), per image
    assert relative_mae(out, gt) == pytest.approx(0.5)  # 10 - 30 would wrap to 236 in uint8
    assert relative_mae(gt, gt) == 0.0 and relative_mae(gt * 0, gt * 0) == 0.0


def test_psnr_and_ssim_follow_skimage_with_the_official_window():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a, b = _img(0, 64, 60), _img(1, 64, 60)
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / mse)) == pytest.approx(peak_signal_noise_ratio(a, b))
    assert psnr(a, a) == math.inf
    value, win = ssim(a, b)
    assert win == 51 and value == pytest.approx(structural_similarity(a, b, channel_axis=-1, win_size=51))
    assert ssim(a, a)[0] == pytest.approx(1.0)
    # small images: the largest odd window that fits, recorded with the value
    assert ssim_window(32, 40) == 31 and ssim_window(30, 30) == 29 and ssim_window(256, 256) == 51
    small = pixel_metrics(_img(2), _img(3))
    assert small["ssim_win"] == 31 and set(small) == {"mae", "psnr", "ssim", "ssim_win"}


# ------------------------------------------------------------------------------------------ identity
@pytest.fixture(scope="module")
def arcface_file(tmp_path_factory):
    return save_random_arcface(tmp_path_factory.mktemp("id") / "arcface_tiny.pth")


def test_arcface_backend_loads_a_file_and_gives_unit_embeddings(arcface_file):
    backend, info = load_identity_backend(f"arcface:{arcface_file}")
    assert info["available"] and info["backend"] == "arcface" and len(info["fingerprint"]) == 16
    batch = np.stack([_img(0), _img(1), _img(0)])
    e = backend.embed(batch)
    assert e.shape == (3, 256) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    cos = cosine(e, e[[2, 2, 0]])
    assert cos[0] == pytest.approx(1, abs=1e-5) and cos[1] < 0.99999  # same image vs different image
    again, _ = load_identity_backend(f"arcface:{arcface_file}")
    assert again.cache_id == backend.cache_id


def test_identity_specs(monkeypatch):
    assert load_identity_backend("none") == (None, {"available": False, "reason": "disabled (--identity none)"})
    with pytest.raises(ValueError, match="unknown identity backend"):
        load_identity_backend("facenet")
    with pytest.raises(ValueError, match="needs a file"):
        load_identity_backend("arcface")
    import eval.identity as identity

    def missing(path):
        raise RuntimeError("the SFace backend needs exegan.sface")

    monkeypatch.setitem(identity._LOADERS, "sface", missing)
    backend, info = load_identity_backend("auto")
    assert backend is None and not info["available"] and "SFace unavailable" in info["reason"]


def test_sface_backend():
    pytest.importorskip("exegan.sface")
    pytest.importorskip("onnx")
    from exegan.sface import default_sface_path

    try:
        default_sface_path()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    backend, info = load_identity_backend("sface")
    e = backend.embed(np.stack([_img(0, 64, 64), _img(1, 64, 64)]))
    assert info["backend"] == "sface" and e.shape == (2, 128)
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)


# ------------------------------------------------------------------------------------------ attributes
def test_attribute_distance_is_mean_per_latent_l2():
    out = np.array([[3.0, 4.0, 0.0, 0.0]])  # two latents of dim 2: distances 5 and 0
    assert attribute_distance(out, np.zeros((1, 4)), dim=2) == pytest.approx([2.5])


def test_style_code_extractor_uses_the_models_encoder():
    model = make_tiny()
    codes = StyleCodeExtractor(model, label="tiny")
    x = np.stack([_img(0), _img(1)])
    c = codes(x)
    assert c.shape == (2, len(model.resolve_phi(None)) * model.generator.style_dim)
    np.testing.assert_allclose(c[0], model.exemplar_codes([x[0]]).reshape(-1).numpy(), rtol=1e-6)
    assert attribute_distance(c, c, codes.dim).max() == 0 and attribute_distance(c, c[::-1], codes.dim).min() > 0


# ------------------------------------------------------------------------------------------ diversity
def test_lpips_unavailable_without_vgg_weights(tmp_path):
    metric, info = load_lpips_metric(str(tmp_path / "no_vgg16.pth"))
    assert metric is None and not info["available"] and info["reason"]
    assert seed_pairs(1) == [] and seed_pairs(3) == [(0, 1), (0, 2), (1, 2)]


def test_lpips_with_a_random_trunk_is_a_distance():
    pytest.importorskip("exegan.perceptual")
    with pytest.warns(UserWarning, match="RANDOM"):
        metric, info = load_lpips_metric(None, allow_random_backbone=True)
    assert info["available"] and "RANDOM" in info["vgg16_weights"]
    a, b = np.stack([_img(0), _img(1)]), np.stack([_img(0), _img(2)])
    d = metric(a, b)
    assert d.shape == (2,) and d[0] == pytest.approx(0, abs=1e-6) and d[1] > 0


# ------------------------------------------------------------------------------------------ masks
def test_parse_buckets():
    b = parse_buckets("center, 10-20,50-60")
    assert [x.name for x in b] == ["center", "10-20", "50-60"] and b[0].is_center and b[1].low == 0.1
    for bad in ("10-5", "abc", "", "center,center", "0-120"):
        with pytest.raises(ValueError):
            parse_buckets(bad)


def test_generated_masks_are_seeded_in_range_and_reused(tmp_path):
    buckets = parse_buckets("center,20-30")
    sets = materialise_masks(buckets, 3, 32, tmp_path / "a", seed=7)
    centre = load_mask(sets["center"].paths[0])
    assert centre[8:24, 8:24].all() and centre.sum() == 256
    ratios = [load_mask(p).mean() for p in sets["20-30"].paths]
    assert all(0.2 <= r < 0.3 for r in ratios) and len({round(r, 6) for r in ratios}) > 1
    # mask i depends only on (seed, bucket, i): a second folder, or a longer list, starts with the same masks
    again = materialise_masks(buckets, 4, 32, tmp_path / "b", seed=7)
    assert mask_set_sha256([load_mask(p) for p in again["20-30"].paths[:3]]) == sets["20-30"].sha256
    assert materialise_masks(buckets, 3, 32, tmp_path / "c", seed=8)["20-30"].sha256 != sets["20-30"].sha256
    stamp = sets["20-30"].paths[0].stat().st_mtime_ns
    reused = materialise_masks(buckets, 3, 32, tmp_path / "a", seed=7)  # same parameters: files kept
    assert reused["20-30"].sha256 == sets["20-30"].sha256 and sets["20-30"].paths[0].stat().st_mtime_ns == stamp
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["buckets"]["20-30"]["sha256"] == sets["20-30"].sha256


def test_folder_masks_are_bucketed_by_measured_ratio_and_cycled(tmp_path):
    src = tmp_path / "nvidia"
    src.mkdir()
    for name, rows in [("a.png", 8), ("b.png", 16), ("c.png", 10), ("d.png", 2)]:
        m = np.zeros((64, 64), np.uint8)
        m[:rows * 2] = 255  # hole ratio rows/32 at 32 px
        Image.fromarray(m).save(src / name)
    sets = materialise_masks(parse_buckets("20-40,50-60"), 3, 32, tmp_path / "out", source=src)
    assert sets["20-40"].info["files"] == ["a.png", "c.png", "a.png"]  # sorted members, image i -> i % count
    assert sets["50-60"].info["files"] == ["b.png"] * 3
    assert load_mask(sets["50-60"].paths[0]).mean() == 0.5
    with pytest.raises(ValueError, match="no mask"):
        materialise_masks(parse_buckets("80-90"), 1, 32, tmp_path / "none", source=src)
    inverted = materialise_masks(parse_buckets("90-100"), 1, 32, tmp_path / "inv", source=src, invert=True)
    assert inverted["90-100"].info["files"] == ["d.png"]


# ------------------------------------------------------------------------------------------ exemplars
def test_batch_reverse_pairing():
    assert batch_reverse_pairs(8) == [7, 6, 5, 4, 3, 2, 1, 0]
    assert batch_reverse_pairs(10) == [7, 6, 5, 4, 3, 2, 1, 0]  # official drop_last: the last 2 are dropped
    assert batch_reverse_pairs(11, drop_last=False)[8:] == [10, 9, 8]
    assert batch_reverse_pairs(17) == list(range(7, -1, -1)) + list(range(15, 7, -1))
    assert batch_reverse_pairs(5) == []


def test_pairing_modes(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        Image.fromarray(_img(i, 40, 30)).save(src / f"p{i}.png")
    gt = prepare_images(sorted(src.iterdir()), 16, tmp_path / "gt")
    assert Image.open(gt[0]).size == (16, 16)
    used, ex, info = pair_exemplars(gt, "batch-reverse", tmp_path / "ex", 16, batch=2)
    assert [p.stem for p in used] == ["p0", "p1"] and [p.stem for p in ex] == ["p1", "p0"]
    used, ex, _ = pair_exemplars(gt, "same", tmp_path / "ex", 16)
    assert ex == used == gt
    exdir = tmp_path / "exemplars"
    exdir.mkdir()
    for i in (2, 1, 0):
        Image.fromarray(_img(10 + i)).save(exdir / f"p{i}.jpg")
    _, ex, info = pair_exemplars(gt, str(exdir), tmp_path / "fitted", 16)
    assert info["rule"] == "matched by file stem" and [p.stem for p in ex] == ["p0", "p1", "p2"]
    with pytest.raises(ValueError, match="drops all"):
        pair_exemplars(gt, "batch-reverse", tmp_path / "ex", 16, batch=8)


# ------------------------------------------------------------------------------------------ methods
def test_parse_method_specs():
    assert parse_method("telea") == parse_method("telea=")
    assert parse_method("ns=5").arg == "5"
    assert parse_method("ours=exegan=org/repo") == parse_method("ours=exegan=org/repo", set())
    spec = parse_method("ours=exegan=org/repo")
    assert (spec.label, spec.kind, spec.arg) == ("ours", "exegan", "org/repo")
    assert parse_method("paste", {"paste", "paste-2"}).label == "paste-3"
    for bad in ("exegan", "magic=x", "folder"):
        with pytest.raises(ValueError):
            parse_method(bad)


def _job(seed=0):
    hole = np.zeros((32, 32), bool)
    hole[8:24, 8:24] = True
    return Job("img", "center", seed, _img(0), hole, _img(1))


@pytest.mark.parametrize("kind", ["telea", "ns", "paste"])
def test_baselines_fill_only_the_hole(kind):
    job = _job()
    out = build_method(parse_method(kind)).complete(job)
    assert out.shape == job.image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~job.hole], job.image[~job.hole])
    if kind == "paste":
        np.testing.assert_array_equal(out[job.hole], job.exemplar[job.hole])


def test_folder_method_finds_outputs_by_mask_seed_and_name(tmp_path):
    (tmp_path / "center" / "seed1").mkdir(parents=True)
    Image.fromarray(_img(5)).save(tmp_path / "center" / "img.png")
    Image.fromarray(_img(6)).save(tmp_path / "center" / "seed1" / "img.png")
    method = build_method(parse_method(f"folder={tmp_path}"))
    np.testing.assert_array_equal(method.complete(_job(seed=0)), _img(5))
    np.testing.assert_array_equal(method.complete(_job(seed=1)), _img(6))
    with pytest.raises(FileNotFoundError, match="no completion"):
        method.complete(Job("other", "center", 0, _img(0), _job().hole, _img(1)))


def test_exegan_method_calls_inpaint(tmp_path):
    make_tiny().save_pretrained(tmp_path / "tiny")
    method = build_method(parse_method(f"exegan={tmp_path / 'tiny'}"), device="cpu")
    job = _job(seed=3)
    out = method.complete(job)
    expected = method.model.inpaint(job.image, job.hole, job.exemplar, n_samples=1, seed=3, output_type="np")[0]
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out[~job.hole], job.image[~job.hole])
    assert not method.deterministic and method.info["size"] == 32
    assert torch.is_tensor(method.model.latent_avg)


# ------------------------------------------------------------------------------------------ cache and report
def test_feature_store_computes_each_content_once_and_reuses_the_disk_cache(tmp_path):
    from eval.distributed import Dist
    from eval.features import FeatureStore

    paths = []
    for i, seed in enumerate([0, 1, 0]):  # files 0 and 2 have the same pixels
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(_img(seed)).save(paths[-1])
    seen = []

    def extract(batch):
        seen.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :4].astype(np.float32)

    store = FeatureStore(Dist(), tmp_path / "cache", batch_size=2)
    feats = store.features("toy", extract, paths)
    assert feats.shape == (3, 4) and np.array_equal(feats[0], feats[2]) and sum(seen) == 2
    again = FeatureStore(Dist(), tmp_path / "cache").features("toy", extract, paths[::-1])
    np.testing.assert_array_equal(again, feats[::-1])
    assert sum(seen) == 2 and len(list((tmp_path / "cache" / "toy").rglob("*.npy"))) == 2


def _std(values):
    with np.errstate(invalid="ignore"):
        return float(np.std(values))


def test_report_stores_infinities_as_strings_and_bolds_the_best(tmp_path):
    from eval.report import json_safe, markdown_table, write_json

    assert json_safe({"a": float("inf"), "b": [np.float64(1.5), float("nan")]}) == {"a": "inf", "b": [1.5, "nan"]}
    proto = {"size": 32, "n": 2, "seeds": [0, 1], "exemplars": {"mode": "same", "rule": "self"},
             "feature_extractor": {"name": "none"}, "masks": {"center": {"sha256": "ab" * 32, "source": "c",
                                                                       "hole_ratio": {"mean": 0.25}}}}
    def entry(method, psnr):  # as eval.evaluate stores it: np.std of [inf, inf] is nan
        return {"method": method, "mask": "center", "n": 2,
                "metrics": {"psnr": {"mean": psnr, "std": _std([psnr, psnr]), "per_seed": [psnr, psnr]}}}

    results = {"protocol": proto, "methods": {"a": {}, "b": {}},
               "results": [entry("a", float("inf")), entry("b", 20.0)]}
    write_json(tmp_path / "r.json", results)
    table = markdown_table(json.loads((tmp_path / "r.json").read_text()))
    assert "| PSNR (dB) ↑ | center | 2 | **inf** | 20.00 ± 0.00 |" in table
