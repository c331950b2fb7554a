"""FID: the Fréchet formula against closed forms, the FID Inception network's weight layout, and agreement with
pytorch-fid (same random weights, same PNGs). No download: the Inception weights are random and made here."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import exegan  # noqa: F401  (torchvision guard before pytorch_fid / torchvision imports)
from eval import fid as fidmod
from eval.fid import fid_from_features, frechet_distance, gaussian_stats
from eval.inception import FIDInception, load_fid_inception
from eval.testing import random_fid_inception_state, save_random_fid_weights


def closed_form(mu1, var1, mu2, var2):
    """FID of N(mu1, Q diag(var1) Q') vs N(mu2, Q diag(var2) Q') (commuting covariances):
    ||mu1 - mu2||^2 + sum_i (sqrt(var1_i) - sqrt(var2_i))^2."""
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2))


@pytest.mark.parametrize("method", ["sqrtm", "exact"])
def test_frechet_distance_closed_form_commuting_covariances(method):
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    var1, var2 = rng.uniform(0.2, 3, d), rng.uniform(0.2, 3, d)
    expected = closed_form(mu1, var1, mu2, var2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2), method=method) == pytest.approx(expected, rel=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))  # same eigenvectors, different eigenvalues: still commuting
    s1, s2 = q @ np.diag(var1) @ q.T, q @ np.diag(var2) @ q.T
    assert frechet_distance(mu1, s1, mu2, s2, method=method) == pytest.approx(expected, rel=1e-8)


def test_fid_of_two_gaussian_sample_sets_matches_closed_form():
    rng = np.random.default_rng(1)
    d, n = 4, 20000
    mu1, mu2 = np.zeros(d), np.array([1.0, -0.5, 0.0, 2.0])
    var1, var2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.5, 2.0, 1.5, 3.0])
    a = mu1 + rng.normal(size=(n, d)) * np.sqrt(var1)
    b = mu2 + rng.normal(size=(n, d)) * np.sqrt(var2)
    expected = closed_form(mu1, var1, mu2, var2)  # 5.25 + 0.4 + ... (sampling error ~1e-2)
    for method in ("sqrtm", "exact"):
        assert fid_from_features(a, b, method) == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("n,d", [(50, 16), (8, 64)])  # full-rank and rank-deficient covariances
def test_fid_of_a_set_with_itself_is_zero(n, d):
    f = np.random.default_rng(2).normal(size=(n, d))
    assert abs(fid_from_features(f, f, "exact")) < 1e-9
    assert abs(fid_from_features(f, f, "sqrtm")) < 1e-3  # sqrtm round-off on singular products (~1e-6 here)


def test_exact_and_sqrtm_agree():
    rng = np.random.default_rng(3)
    for n, d in [(200, 16), (10, 32)]:
        a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d)) * 1.3 + 0.2
        assert fid_from_features(a, b, "exact") == pytest.approx(fid_from_features(a, b, "sqrtm"), rel=1e-6)


def test_statistics_are_float64_and_unbiased():
    f = np.random.default_rng(4).normal(size=(5, 3)).astype(np.float32)
    mu, sigma = gaussian_stats(f)
    assert mu.dtype == sigma.dtype == np.float64
    centred = f.astype(np.float64) - f.astype(np.float64).mean(0)
    np.testing.assert_allclose(sigma, centred.T @ centred / 4, rtol=1e-12)


def test_sqrtm_rules_eps_fallback_and_imaginary_part(monkeypatch):
    # a negative "covariance" eigenvalue gives sqrt(-1) = i on the diagonal: |imag| = 1 >= 1e-3 -> error
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([-1.0, 1.0]))
    # a non-finite first square root triggers one retry with eps on both diagonals
    calls = []
    real_sqrtm = fidmod.scipy.linalg.sqrtm

    def fake_sqrtm(m):
        calls.append(m.copy())
        return np.full_like(m, np.nan) if len(calls) == 1 else real_sqrtm(m)

    monkeypatch.setattr(fidmod.scipy.linalg, "sqrtm", fake_sqrtm)
    s1, s2 = np.diag([1.0, 2.0]), np.diag([3.0, 4.0])
    value = frechet_distance(np.zeros(2), s1, np.zeros(2), s2, eps=1e-6)
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(2)) @ (s2 + 1e-6 * np.eye(2)))
    assert value == pytest.approx(closed_form(0, np.array([1, 2.0]), 0, np.array([3, 4.0])), rel=1e-5)


# ------------------------------------------------------------------------------------------ network
@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_random_fid_weights(tmp_path_factory.mktemp("fid") / "random_inception.pth", seed=0)


def test_state_dict_layout_is_torchvisions_inception3():
    from exegan._torchvision import ensure_torchvision

    tv = ensure_torchvision()
    with torch.device("meta"):
        ref = tv.models.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
        ours = FIDInception()
    ref_shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == ref_shapes
    assert "fc.weight" in ref_shapes and not any(k.startswith("AuxLogits") for k in ref_shapes)


def test_load_is_strict_and_fills_missing_batch_counters(weights, tmp_path):
    net, info = load_fid_inception(weights)
    assert not info["standard_weights"] and len(info["sha256"]) == 64
    assert net.Mixed_7c.pool == "max" and net.Mixed_7b.pool == "avg"
    state = {k: v for k, v in random_fid_inception_state(1).items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.pth")
    load_fid_inception(tmp_path / "old.pth")  # older files without the counters load
    del state["Mixed_6e.branch_pool.bn.running_var"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(RuntimeError, match="Missing key"):
        load_fid_inception(tmp_path / "broken.pth")
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="FID Inception"):
        load_fid_inception(tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError):
        load_fid_inception(tmp_path / "missing.pth")


def test_features_and_fid_match_pytorch_fid(weights, tmp_path, monkeypatch):
    """pytorch-fid's InceptionV3([3]) with the same random weights (its download is replaced by the state dict)
    on the same PNG files: identical 2048-d features, and its Fréchet function agrees with ours."""
    pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")
    from pytorch_fid import fid_score

    state = torch.load(weights, weights_only=True)
    monkeypatch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    ref = pytorch_fid_inception.InceptionV3([3]).eval()
    rng = np.random.default_rng(0)
    files = []
    for i in range(3):  # odd sizes: the resize to 299 is part of what is compared
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)).save(path)
        files.append(str(path))
    theirs = np.concatenate([fid_score.get_activations([f], ref, batch_size=1, dims=2048, device="cpu",
                                                       num_workers=0) for f in files])
    net, _ = load_fid_inception(weights)
    with torch.no_grad():
        ours = np.concatenate([net(_tensor01(f)).double().numpy() for f in files])
    assert ours.shape == (3, 2048) and np.abs(theirs).mean() > 0.1  # non-degenerate random features
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())
    # Fréchet distance on the same statistics (6 feature dims keep sqrtm instant; the 2048-d case runs the same code)
    a, b = ours[:, :6], ours[::-1, :6] * 1.1 + 0.01
    mu1, s1 = gaussian_stats(np.concatenate([a, b]))
    mu2, s2 = gaussian_stats(np.concatenate([b, a[:2] * 0.9]))
    with warnings.catch_warnings():  # pytorch-fid passes sqrtm's deprecated disp argument
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = fid_score.calculate_frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, abs=1e-3, rel=1e-9)


def _tensor01(path) -> torch.Tensor:
    """A PNG -> [1, 3, H, W] float in [0, 1] (what pytorch-fid's ToTensor gives)."""
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None].float().div(255)


@pytest.mark.slow
def test_full_2048d_fid_matches_pytorch_fid(weights, tmp_path, monkeypatch, request):
    """End to end at 2048-d (two scipy sqrtm of 2048x2048 per side: 1-2 minutes on two cores). Opt-in:
    ``pytest -m slow`` (the project's addopts ``-m 'not slow'`` deselect it by default; it also skips itself
    unless the -m expression names slow, e.g. when the addopts are overridden)."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow (about two minutes): run with pytest -m slow")
    pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")
    from pytorch_fid import fid_score

    state = torch.load(weights, weights_only=True)
    monkeypatch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    rng = np.random.default_rng(5)
    dirs = [tmp_path / "a", tmp_path / "b"]
    for k, d in enumerate(dirs):
        d.mkdir()
        for i in range(12):
            base = rng.integers(0, 256, (64, 64, 3))
            img = np.clip(base * (0.6 + 0.4 * k) + 40 * k, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{i:02d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = fid_score.calculate_fid_given_paths([str(d) for d in dirs], batch_size=4, device="cpu",
                                                       dims=2048, num_workers=0)
    net, _ = load_fid_inception(weights)
    with torch.no_grad():
        feats = [np.concatenate([net(_tensor01(p)).double().numpy() for p in sorted(d.glob("*.png"))]) for d in dirs]
    ours, exact = fid_from_features(*feats, "sqrtm"), fid_from_features(*feats, "exact")
    print(f"pytorch-fid {expected!r}, ours (sqrtm) {ours!r}, ours (exact) {exact!r}")
    assert ours == pytest.approx(expected, abs=1e-3)
    assert exact == pytest.approx(expected, abs=1e-2)
