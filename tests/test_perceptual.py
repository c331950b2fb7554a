"""exegan.perceptual: LPIPS-VGG built offline, its VGG16 trunk loaded from a local torchvision state dict."""

import shutil
from pathlib import Path

import pytest
import torch

import exegan  # noqa: F401  (torchvision guard)
from exegan._torchvision import ensure_torchvision
from exegan.perceptual import VGG16_FILENAME, load_lpips, vgg16_hub_path, vgg16_to_lpips_keys

RELU_OUTPUTS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision's vgg16.features


@pytest.fixture(autouse=True)
def empty_torch_home(tmp_path, monkeypatch):
    """Never see a real hub cache of the machine running the tests."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def vgg(tmp_path_factory):
    """A random torchvision VGG16 trunk (random biases too, so a wrong bias mapping shows) and its state dict file
    in the layout of ``torchvision.models.vgg16(weights=None).state_dict()``: ``features.*`` plus ``classifier.*``
    entries, which the loader must ignore. The trunk is built by torchvision's own ``make_layers(cfgs["D"])``
    (what ``vgg16()`` uses for ``.features``) and the classifier entries are kept tiny, so the file is 58 MB
    instead of 528 MB and no 4096x25088 matrix is initialised."""
    tv = ensure_torchvision()
    torch.manual_seed(0)
    features = tv.models.vgg.make_layers(tv.models.vgg.cfgs["D"]).eval()
    with torch.device("meta"):  # the real vgg16() layout, without allocating it
        full = tv.models.vgg16(weights=None).state_dict()
    assert {k: v.shape for k, v in full.items() if k.startswith("features.")} == \
        {f"features.{k}": v.shape for k, v in features.state_dict().items()}
    with torch.no_grad():
        for m in features:
            if isinstance(m, torch.nn.Conv2d):
                m.bias.normal_(0, 0.05)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state.update({"classifier.0.weight": torch.randn(4, 8), "classifier.0.bias": torch.randn(4)})
    path = tmp_path_factory.mktemp("vgg") / VGG16_FILENAME
    torch.save(state, path)
    return features, path


@pytest.fixture(scope="module")
def net(vgg):
    return load_lpips(vgg[1])


def reference_lpips(features, x0, x1):
    """LPIPS v0.1 written out from its definition, independently of the lpips package's modules."""
    import lpips

    heads = torch.load(Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth", map_location="cpu",
                       weights_only=True)
    shift = torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1)
    scale = torch.tensor([.458, .448, .450]).view(1, 3, 1, 1)

    def feats(x):
        h, out = (x - shift) / scale, []
        for i, layer in enumerate(features):
            h = layer(h)
            if i in RELU_OUTPUTS:
                out.append(h.clone())
        return out

    total = 0
    for k, (f0, f1) in enumerate(zip(feats(x0), feats(x1))):
        f0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        f1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        w = heads[f"lin{k}.model.1.weight"]  # [1, C, 1, 1]
        total = total + ((f0 - f1) ** 2 * w).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    return total


def test_key_mapping():
    mapping = vgg16_to_lpips_keys()
    assert len(mapping) == 26
    assert mapping["features.0.weight"] == "slice1.0.weight" and mapping["features.7.bias"] == "slice2.7.bias"
    assert mapping["features.14.weight"] == "slice3.14.weight" and mapping["features.28.bias"] == "slice5.28.bias"


def test_matches_independent_lpips(vgg, net):
    features, _ = vgg
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    x1 = (x0 + 0.3 * torch.randn(2, 3, 32, 32, generator=g)).clamp(-1, 1)
    with torch.no_grad():
        ours = net(x0, x1)
        ref = reference_lpips(features, x0, x1)
    assert ours.shape == (2, 1, 1, 1)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)
    assert net(x0, x0).abs().max() < 1e-6
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    pred = x1.clone().requires_grad_(True)
    net(pred, x0).sum().backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_missing_weights_say_where_to_put_them(tmp_path, empty_torch_home):
    with pytest.raises(FileNotFoundError) as err:
        load_lpips()
    message = str(err.value)
    assert VGG16_FILENAME in message and str(empty_torch_home / "hub" / "checkpoints") in message
    with pytest.raises(FileNotFoundError, match=VGG16_FILENAME):
        load_lpips(tmp_path / "nowhere.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"something": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not a torchvision VGG16"):
        load_lpips(bad)


def test_hub_cache_is_used(vgg, net, empty_torch_home):
    assert vgg16_hub_path() == empty_torch_home / "hub" / "checkpoints" / VGG16_FILENAME
    vgg16_hub_path().parent.mkdir(parents=True)
    shutil.copy(vgg[1], vgg16_hub_path())
    cached = load_lpips()
    assert cached.vgg16_weights == str(vgg16_hub_path())
    x0, x1 = torch.rand(2, 1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(cached(x0, x1), net(x0, x1))


def test_random_backbone_only_on_request():
    rng_state = torch.get_rng_state()
    with pytest.warns(UserWarning, match="RANDOMLY INITIALISED"):
        rnd = load_lpips(allow_random_backbone=True)
    assert torch.equal(torch.get_rng_state(), rng_state)  # the global RNG is not consumed
    assert rnd.vgg16_weights is None and not any(p.requires_grad for p in rnd.parameters())
    with pytest.warns(UserWarning):
        again = load_lpips(allow_random_backbone=True)
    assert all(torch.equal(a, b) for a, b in zip(rnd.state_dict().values(), again.state_dict().values()))
    x0, x1 = torch.rand(2, 1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        d = rnd(x0, x1)
    assert d.shape == (1, 1, 1, 1) and torch.isfinite(d).all()
