"""The ExeGAN inference pipeline: exactness, determinism, batching equivalence, mixing, bad input."""

import platform
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_tiny
from exegan import ExeGAN, precision
from exegan import images as im

RNG = np.random.default_rng(0)
IMG = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
EX_A = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
EX_B = RNG.integers(0, 256, (48, 40, 3), dtype=np.uint8)
MASK = np.zeros((32, 32), bool)
MASK[6:22, 9:27] = True


def arrays(results):
    return [np.asarray(r) for r in results]


def test_known_pixels_are_bit_exact_and_hole_changes(tiny):
    for out in arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=3, seed=0)):
        assert out.shape == IMG.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out[~MASK], IMG[~MASK])
        assert (out[MASK] != IMG[MASK]).mean() > 0.9


def test_non_square_input_keeps_its_size_and_known_pixels():
    photo = RNG.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    mask = np.zeros((45, 70), bool)
    mask[5:30, 40:69] = True
    model = make_tiny()
    for fit in ("pad", "crop", "stretch"):
        for out in model.inpaint(photo, mask, EX_A, n_samples=2, seed=1, fit=fit, output_type="np"):
            assert out.shape == photo.shape
            np.testing.assert_array_equal(out[~mask], photo[~mask])
    padded = model.inpaint(photo, mask, EX_A, n_samples=1, seed=1, fit="pad", output_type="np")[0]
    assert (padded[mask] != photo[mask]).mean() > 0.9  # with "pad" the whole hole is inside the model's view


def test_same_seed_same_results_different_seed_different(tiny):
    a = arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=2, seed=7))
    b = arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=2, seed=7))
    c = arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=2, seed=8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[0], a[1])  # seeds and samples differ


def official_reference(model, image, mask, exemplar, rnd, k):
    """Sample k computed the straightforward official way: full Generator.forward for one sample, with the
    exemplar codes from the style encoder slice + latent_avg, then composited
    (docs/official-implementation.md §2.6, §2.7, §3.1)."""
    g, enc = model.generator, model.style_encoder
    x = im.image_to_tensor(Image.fromarray(image))[None]
    m = torch.from_numpy(mask).float()[None, None]
    ex = im.image_to_tensor(Image.fromarray(exemplar))[None]
    lo, hi = g.exemplar_start, g.exemplar_start + g.n_exemplar
    codes = enc(ex)[:, lo:hi] + model.latent_avg[lo:hi]
    gin = torch.cat([x * (1 - m), m - 0.5], 1)
    cut = int(rnd["inject_index"][k])
    styles = [rnd["z"][0][k:k + 1]] + ([rnd["z"][1][k:k + 1]] if cut < g.n_latent else [])
    with torch.no_grad():
        pred = g(gin, codes, styles, noise=[t[k:k + 1] for t in rnd["noise"]], inject_index=cut)
    return pred * m + x * (1 - m)


def test_batched_pipeline_equals_per_sample_official_forward(tiny):
    n, seed = 4, 3
    out = tiny.inpaint(IMG, MASK, EX_A, n_samples=n, seed=seed, style_mixing_prob=0.5, output_type="pt")
    rnd = tiny.sample_randomness(n, seed, 0.5)
    assert 0 < int((rnd["inject_index"] < tiny.n_latent).sum()) < n  # both mixed and unmixed samples covered
    for k in range(n):
        torch.testing.assert_close(out[k:k + 1], official_reference(tiny, IMG, MASK, EX_A, rnd, k),
                                   rtol=1e-4, atol=1e-5)


def test_encoders_run_once_per_request(tiny):
    calls = {"style": 0, "gen_encoder": 0, "decoder_batches": 0}
    hooks = [tiny.style_encoder.register_forward_hook(lambda *a: calls.__setitem__("style", calls["style"] + 1)),
             tiny.generator.down_from_big.register_forward_hook(
                 lambda *a: calls.__setitem__("gen_encoder", calls["gen_encoder"] + 1)),
             tiny.generator.conv1.register_forward_hook(
                 lambda *a: calls.__setitem__("decoder_batches", calls["decoder_batches"] + 1))]
    try:
        tiny._code_cache.clear()
        tiny.inpaint(IMG, MASK, [EX_A, EX_B], n_samples=3, seed=0)
        assert calls == {"style": 2, "gen_encoder": 1, "decoder_batches": 1}  # 6 samples, one decoder batch
        tiny.inpaint(IMG, MASK, [EX_A], n_samples=3, seed=1)  # exemplar codes come from the cache
        assert calls["style"] == 2 and calls["gen_encoder"] == 2
    finally:
        for h in hooks:
            h.remove()


# Results of one request are bit-reproducible; across different batch sizes the convolutions may sum in another
# order, so those comparisons use float outputs and a float32-rounding tolerance.
def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_several_exemplars_are_exemplar_major_and_share_draws(tiny):
    both = tiny.inpaint(IMG, MASK, [EX_A, EX_B], n_samples=2, seed=5, output_type="pt")
    only_b = tiny.inpaint(IMG, MASK, EX_B, n_samples=2, seed=5, output_type="pt")
    assert both.shape[0] == 4
    close(both[2:], only_b)
    assert (both[0] - both[2]).abs().max() > 1e-2  # the exemplar matters (far above rounding noise)


def test_style_mixing_endpoints_are_the_pure_exemplars(tiny):
    n_ex = tiny.generator.n_exemplar
    pure_a = arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=2, seed=4))
    pure_b = arrays(tiny.inpaint(IMG, MASK, EX_B, n_samples=2, seed=4))
    mix0 = arrays(tiny.inpaint(IMG, MASK, [EX_A, EX_B], n_samples=2, seed=4, mix=0))
    mix_n = arrays(tiny.inpaint(IMG, MASK, [EX_A, EX_B], n_samples=2, seed=4, mix=n_ex))
    mid = arrays(tiny.inpaint(IMG, MASK, [EX_A, EX_B], n_samples=2, seed=4, mix=n_ex // 2))
    assert all(np.array_equal(x, y) for x, y in zip(mix0, pure_b))
    assert all(np.array_equal(x, y) for x, y in zip(mix_n, pure_a))
    assert not np.array_equal(mid[0], pure_a[0]) and not np.array_equal(mid[0], pure_b[0])


def test_mixing_sweep_strip(tiny):
    strip = tiny.mixing_sweep(IMG, MASK, EX_A, EX_B, seed=9, output_type="pt")
    assert strip.shape[0] == tiny.generator.n_exemplar + 1
    single = dict(n_samples=1, seed=9, style_mixing_prob=0.0, output_type="pt")
    close(strip[:1], tiny.inpaint(IMG, MASK, EX_B, **single))
    close(strip[-1:], tiny.inpaint(IMG, MASK, EX_A, **single))
    close(strip[2:3], tiny.inpaint(IMG, MASK, [EX_A, EX_B], mix=2, **single))
    assert len(tiny.mixing_sweep(IMG, MASK, EX_A, EX_B, seed=9)) == strip.shape[0]  # PIL output


def test_phi_controls_exemplar_influence(tiny):
    no_phi = [False] * tiny.n_latent
    a = arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=1, seed=2, phi=no_phi))
    b = arrays(tiny.inpaint(IMG, MASK, EX_B, n_samples=1, seed=2, phi=no_phi))
    assert np.array_equal(a[0], b[0])  # no exemplar-driven latent: the exemplar cannot matter
    assert tiny.resolve_phi(None) == list(range(4, tiny.n_latent))
    assert tiny.resolve_phi([0, 5, 5]) == [0, 5]
    assert tiny.resolve_phi([1] + [0] * (tiny.n_latent - 1)) == [0]
    # all latents exemplar-driven (code j = style code j): the random z no longer matters, only the noise
    quiet = make_tiny(noise=False)
    every = list(range(quiet.n_latent))
    s1 = arrays(quiet.inpaint(IMG, MASK, EX_A, n_samples=1, seed=1, phi=every))
    s2 = arrays(quiet.inpaint(IMG, MASK, EX_A, n_samples=1, seed=2, phi=every))
    assert np.array_equal(s1[0], s2[0])
    with pytest.raises(ValueError, match="valid latent indices"):
        tiny.resolve_phi([tiny.n_latent])


def test_truncation_zero_removes_randomness_of_z():
    model = make_tiny(noise=False)  # noise strengths 0: the only randomness left is z
    s1 = arrays(model.inpaint(IMG, MASK, EX_A, n_samples=1, seed=1, truncation=0.0))
    s2 = arrays(model.inpaint(IMG, MASK, EX_A, n_samples=1, seed=2, truncation=0.0))
    t1 = arrays(model.inpaint(IMG, MASK, EX_A, n_samples=1, seed=1))
    t2 = arrays(model.inpaint(IMG, MASK, EX_A, n_samples=1, seed=2))
    assert np.array_equal(s1[0], s2[0]) and not np.array_equal(t1[0], t2[0])


def test_empty_mask_returns_input_without_running_the_model():
    model = make_tiny()
    model.generator.encode = None  # any model call would now fail
    out = model.inpaint(IMG, np.zeros((32, 32), bool), EX_A, n_samples=2)
    assert len(out) == 2 and all(np.array_equal(o, IMG) for o in arrays(out))


def test_full_mask_works(tiny):
    out = arrays(tiny.inpaint(IMG, np.ones((32, 32), bool), EX_A, n_samples=1, seed=0))[0]
    assert out.shape == IMG.shape and (out != IMG).mean() > 0.9


def test_inputs_of_any_mode(tiny):
    gray = Image.fromarray(IMG[..., 0], "L")
    rgba = Image.fromarray(np.dstack([IMG, np.full((32, 32), 255, np.uint8)]), "RGBA")
    mask_img = Image.fromarray(MASK.astype(np.uint8) * 255)
    expected_gray = np.asarray(gray.convert("RGB"))
    out = arrays(tiny.inpaint(gray, mask_img, rgba, n_samples=1, seed=0))[0]
    np.testing.assert_array_equal(out[~MASK], expected_gray[~MASK])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # a grey photo, a grey fill
    colour = arrays(tiny.inpaint(gray.convert("RGB"), mask_img, rgba, n_samples=1, seed=0, output_type="np"))[0]
    np.testing.assert_array_equal(out, colour)  # the same as a grey RGB file; the model's own fill has colour:
    raw = tiny.inpaint(gray, mask_img, rgba, n_samples=1, seed=0, output_type="pt")[0]
    assert (raw[0] - raw[1]).abs()[torch.from_numpy(MASK)].max() > 0.01
    rgb = np.asarray(im.tensor_to_image(raw)).astype(np.float64)  # the colour fill as 8-bit RGB
    luma = torch.from_numpy(rgb @ np.array([0.299, 0.587, 0.114]))
    assert np.abs(out[MASK][:, 0].astype(float) - luma.numpy()[MASK]).max() <= 1.5  # ITU-R 601 luma of the fill
    tensor_in = torch.from_numpy(IMG).permute(2, 0, 1).float() / 127.5 - 1
    out_t = arrays(tiny.inpaint(tensor_in, torch.from_numpy(MASK), EX_A, n_samples=1, seed=0))[0]
    np.testing.assert_array_equal(out_t, arrays(tiny.inpaint(IMG, MASK, EX_A, n_samples=1, seed=0))[0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_samples=0), "n_samples"),
    (dict(mix=1), "exactly two exemplars"),
    (dict(exemplars=[]), "at least one exemplar"),
    (dict(output_type="jpeg"), "output_type"),
    (dict(mask=np.zeros((3, 32, 32, 2))), "mask"),
    (dict(image=np.full((32, 32, 3), np.nan)), "NaN"),
    (dict(truncation=float("nan")), "truncation must be a finite number"),
    (dict(truncation=float("inf")), "truncation must be a finite number"),
    (dict(style_mixing_prob=2.0), "style_mixing_prob"),
    (dict(n_samples=10 ** 6), "at most 256 results"),
    (dict(n_samples=2.5), "n_samples must be an integer"),
    (dict(exemplars=[EX_A] * 65), "at most 64 exemplars"),
])
def test_bad_input_gives_a_clear_error(tiny, kwargs, match):
    args = dict(image=IMG, mask=MASK, exemplars=EX_A) | kwargs
    with pytest.raises(ValueError, match=match):
        tiny.inpaint(args.pop("image"), args.pop("mask"), args.pop("exemplars"), **args)
    if "truncation" in kwargs:
        with pytest.raises(ValueError, match=match):
            tiny.mixing_sweep(IMG, MASK, EX_A, EX_A, truncation=kwargs["truncation"])


def test_non_finite_weights_are_reported_as_a_model_problem():
    broken = make_tiny()
    with torch.no_grad():
        broken.generator.final_transfer.bias.fill_(float("nan"))
    for output_type in ("pt", "np"):  # never NaN handed back silently, never blamed on the image
        with pytest.raises(FloatingPointError, match="model 'tiny-test' produced NaN"):
            broken.inpaint(IMG, MASK, EX_A, n_samples=1, seed=0, output_type=output_type)


def test_bf16_precision_close_to_fp32():
    fp32, bf16 = make_tiny(), make_tiny()
    bf16.precision = "bf16"
    a = fp32.inpaint(IMG, MASK, EX_A, n_samples=2, seed=0, output_type="pt")
    b = bf16.inpaint(IMG, MASK, EX_A, n_samples=2, seed=0, output_type="pt")
    assert b.dtype == torch.float32 and torch.equal(a[:, :, ~torch.from_numpy(MASK)], b[:, :, ~torch.from_numpy(MASK)])
    assert (a - b).abs().max() < 0.1


def test_code_cache_is_per_precision():
    model = make_tiny()
    fp32 = model.exemplar_codes([EX_A]).clone()
    model.precision = "bf16"
    bf16 = model.exemplar_codes([EX_A])
    assert not torch.equal(fp32, bf16) and (fp32 - bf16).abs().max() < 0.1  # recomputed, not a stale cache hit


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")),
                    reason="CPU flags are read from Linux x86 /proc/cpuinfo")
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert not precision.cpu_has_native_bf16(str(cpuinfo))  # AVX-512 without its bf16 extension: emulated
    for flag in ("avx512_bf16", "amx_bf16"):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu avx512f {flag} avx512_vnni\n")
        assert precision.cpu_has_native_bf16(str(cpuinfo))
    assert not precision.cpu_has_native_bf16(str(tmp_path / "missing"))


def test_auto_precision_is_bf16_only_where_the_cpu_computes_it(monkeypatch):
    cpu = torch.device("cpu")
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
        assert precision.resolve_precision("auto", cpu) == expected
        model = make_tiny()
        auto = ExeGAN(model.generator, model.style_encoder, model.latent_avg, model.config, device="cpu")
        assert auto.precision == expected  # the concrete format, shown by `exegan info` and the demo
        assert all(precision.resolve_precision(p, cpu) == p for p in ("fp32", "bf16", "fp16"))
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, fp16; got 'fp64'"):
        ExeGAN(model.generator, model.style_encoder, model.latent_avg, model.config, device="cpu", precision="fp64")


def test_each_sample_is_regenerated_alone_from_its_own_seed(tiny):
    """Sample k of a request with seed s is the single sample of seed s + k (the seed shown with a result)."""
    batch = tiny.inpaint(IMG, MASK, [EX_A, EX_B], n_samples=3, seed=40, output_type="pt")
    for e, ex in enumerate([EX_A, EX_B]):
        for k in range(3):
            alone = tiny.inpaint(IMG, MASK, ex, n_samples=1, seed=40 + k, output_type="pt")
            torch.testing.assert_close(batch[3 * e + k], alone[0], rtol=0, atol=1e-5)
    assert not torch.allclose(batch[0], batch[1])
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*62\), got -1"):
        tiny.inpaint(IMG, MASK, EX_A, n_samples=1, seed=-1)
