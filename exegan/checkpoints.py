"""Model files: the authors' released checkpoints and this project's safetensors format.

Two sources, one result (a :class:`Generator`, a :class:`StyleEncoder`, ``latent_avg`` and a :class:`ModelConfig`):

* The authors' files (docs/official-implementation.md §7.1, §7.4, §7.5): ``EXE_GAN_model_256.pt`` / ``_512.pt``
  (we use ``g_ema``),
  ``psp_ffhq_encode.pt`` (the ``encoder.*`` part of ``state_dict`` + ``latent_avg``) and ``Arcface.pth``. They are
  pickles, so they are read with ``torch.load(weights_only=True)``: only tensors, containers and primitive types
  are rebuilt, plus ``argparse.Namespace`` (the ``args`` entry of the EXE-GAN checkpoint), which is allow-listed
  as a plain attribute bag. Nothing else is ever unpickled.
* Our format: a folder (or a Hugging Face Hub repo) holding ``config.json`` (a :class:`ModelConfig`) and
  ``model.safetensors`` with the keys ``generator.*``, ``style_encoder.*`` and ``latent_avg``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import re
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import FORMAT_VERSION, GeneratorConfig, ModelConfig, StyleEncoderConfig
from .nets.generator import Generator
from .nets.sface_encoder import SFaceStyleEncoder
from .nets.style_encoder import StyleEncoder

CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"
BUNDLED_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "default-model"
"""The default model shipped in the repository (used when nothing else is configured)."""
INSTALLED_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
"""The same model inside an installed wheel: package data of ``exegan.default_model`` (pyproject.toml maps that
package to assets/default-model), so ``pip install exegan-*.whl`` works without the checkout."""


def build_style_encoder(config: StyleEncoderConfig) -> StyleEncoder | SFaceStyleEncoder:
    """The exemplar encoder a :class:`StyleEncoderConfig` describes (random / placeholder weights)."""
    if config.kind == "sface":
        return SFaceStyleEncoder(n_styles=config.n_styles, style_dim=config.style_dim)
    if config.kind != "psp":
        raise ValueError(f"style_encoder.kind must be 'psp' or 'sface', got {config.kind!r}")
    kwargs = dataclasses.asdict(config)
    del kwargs["kind"]
    return StyleEncoder(**kwargs)


def style_encoder_config(encoder: StyleEncoder | SFaceStyleEncoder) -> StyleEncoderConfig:
    """The :class:`StyleEncoderConfig` that rebuilds ``encoder`` (inverse of :func:`build_style_encoder`)."""
    if encoder.kind == "sface":
        return StyleEncoderConfig(kind="sface", n_styles=encoder.n_styles, style_dim=encoder.style_dim,
                                  input_size=encoder.input_size, units=(), widths=())
    return StyleEncoderConfig(n_styles=encoder.n_styles, style_dim=encoder.style_dim, input_size=encoder.input_size,
                              units=encoder.units, widths=encoder.widths)


def build_networks(config: ModelConfig) -> tuple[Generator, StyleEncoder | SFaceStyleEncoder]:
    return Generator(**dataclasses.asdict(config.generator)), build_style_encoder(config.style_encoder)


# ------------------------------------------------------------------------------------------------------------------
# Safe reading of the authors' pickles

def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` with ``argparse.Namespace`` allow-listed, and readable errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(err))
        if found:
            raise ValueError(f"{path}: refusing to load, the file would unpickle {found.group(1)!r}; only tensors "
                             "and plain data are read from checkpoints") from None
        detail = [line for line in str(err).splitlines() if line.strip()]
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({detail[-2] if len(detail) > 1 else err})"
                         ) from None
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError, TypeError, AttributeError,
            AssertionError, UnicodeDecodeError, struct.error, zipfile.BadZipFile, OverflowError, MemoryError) as err:
        # a malformed file: torch's readers fail in many ways, all of them mean the same to the user
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})") from None


def load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """``module.load_state_dict(state, strict=True)``; a mismatch raises ``ValueError`` naming ``path`` and the
    first missing, unexpected or wrongly shaped key."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shaped = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing:
        raise ValueError(f"{path}: missing key '{missing[0]}'" + (f" (and {len(missing) - 1} more)" if missing[1:]
                                                                  else ""))
    if unexpected:
        raise ValueError(f"{path}: unexpected key '{unexpected[0]}'" + (
            f" (and {len(unexpected) - 1} more)" if unexpected[1:] else ""))
    if shaped:
        k = shaped[0]
        raise ValueError(f"{path}: key '{k}' has shape {list(state[k].shape)}, the network needs "
                         f"{list(expected[k].shape)}")
    module.load_state_dict(state, strict=True)


def _expect(obj: Any, key: str, path: Path, what: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        have = sorted(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path} does not look like {what}: no '{key}' entry (found {have})")
    return obj[key]


def infer_generator_config(sd: dict[str, torch.Tensor]) -> GeneratorConfig:
    """Read the architecture off a generator state dict (the authors' files are S = 256 / 512, cm = 2; narrower
    files in the same layout, e.g. made by tests, work too). The exemplar window cannot be read from weights:
    it is the official one (start 4, n_latent - 4 latents)."""
    try:
        size = max(v.shape[-1] for k, v in sd.items() if k.startswith("noises.noise_"))
        n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
        style_dim = sd["style.1.weight"].shape[0]
        ch4, ch_size = sd["conv1.conv.weight"].shape[1], sd["down_from_big.0.weight"].shape[0]
    except (KeyError, ValueError):
        raise ValueError("not an EXE-GAN generator state dict (missing noises.*, style.*, conv1.* or "
                         "down_from_big.* entries)") from None
    return GeneratorConfig(size=size, style_dim=style_dim, n_mlp=n_mlp, max_channels=ch4,
                           channel_multiplier=ch_size * size / 16384)


def load_official_generator(path: str | os.PathLike, key: str = "g_ema") -> Generator:
    """Build the generator of ``EXE_GAN_model_*.pt`` (``g_ema`` by default) and load it with ``strict=True``."""
    path = Path(path)
    sd = _expect(safe_torch_load(path), key, path, "an EXE-GAN checkpoint")
    g = Generator(**dataclasses.asdict(infer_generator_config(sd)))
    load_strict(g, sd, path)
    return g.eval()


def infer_style_encoder_config(sd: dict[str, torch.Tensor]) -> StyleEncoderConfig:
    """Read a pSp encoder's architecture off its state dict (official: IR-SE-50, 18 codes, 256 input)."""
    try:
        n_styles = sum(1 for k in sd if k.startswith("styles.") and k.endswith(".linear.weight"))
        style_dim = sd["styles.0.linear.weight"].shape[0]
        outs = [sd[f"body.{u}.res_layer.1.weight"].shape[0]
                for u in range(sum(1 for k in sd if k.startswith("body.") and k.endswith("res_layer.1.weight")))]
        n_convs = sum(1 for k in sd if k.startswith("styles.0.convs.") and k.endswith(".weight"))
    except KeyError:
        raise ValueError("not a pSp GradualStyleEncoder state dict (missing styles.* / body.* entries)") from None
    widths = tuple(dict.fromkeys(outs))
    units = tuple(outs.count(w) for w in widths)
    return StyleEncoderConfig(n_styles=n_styles, style_dim=style_dim, input_size=16 * 2 ** n_convs,
                              units=units, widths=widths)


def load_official_style_encoder(path: str | os.PathLike) -> tuple[StyleEncoder, torch.Tensor]:
    """The pSp encoder + ``latent_avg`` [18, 512] of ``psp_ffhq_encode.pt`` (docs/official-implementation.md §3.1,
    §7.4)."""
    path = Path(path)
    ckpt = safe_torch_load(path)
    sd = _expect(ckpt, "state_dict", path, "a pSp checkpoint")
    opts = ckpt.get("opts") or {}
    opts = vars(opts) if isinstance(opts, argparse.Namespace) else opts
    if opts.get("encoder_type", "GradualStyleEncoder") != "GradualStyleEncoder":
        raise ValueError(f"{path}: pSp encoder_type {opts['encoder_type']!r} is not supported "
                         "(EXE-GAN uses GradualStyleEncoder)")
    enc_sd = {k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.")}
    encoder = build_style_encoder(infer_style_encoder_config(enc_sd))
    load_strict(encoder, enc_sd, path)
    latent_avg = _expect(ckpt, "latent_avg", path, "a pSp checkpoint").float()
    if latent_avg.ndim == 1:  # a single w_avg: pSp repeats it over the 18 codes
        latent_avg = latent_avg[None].repeat(encoder.n_styles, 1)
    if tuple(latent_avg.shape) != (encoder.n_styles, encoder.style_dim):
        raise ValueError(f"{path}: latent_avg has shape {tuple(latent_avg.shape)}, "
                         f"expected [{encoder.n_styles}, {encoder.style_dim}]")
    return encoder.eval(), latent_avg


def load_arcface(path: str | os.PathLike):
    """The official identity network (``Arcface.pth``: torchvision ResNet-101, 256-d head), strict.

    The depth, width and head size are read off the file (the official one is (3, 4, 23, 3), 64, 256), so smaller
    ResNets saved in the same layout (e.g. by tests) load too."""
    from .nets.arcface import ArcFaceR101

    path = Path(path)
    sd = safe_torch_load(path)
    if not isinstance(sd, dict) or "fc.weight" not in sd or "layer1.0.conv1.weight" not in sd:
        raise ValueError(f"{path} does not look like Arcface.pth (a ResNet state dict with 'fc.weight')")
    layers = tuple(len({k.split(".")[1] for k in sd if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    net = ArcFaceR101(layers=layers, width_per_group=int(sd["layer1.0.conv1.weight"].shape[0]),
                      num_classes=int(sd["fc.weight"].shape[0]))
    for k, v in net.state_dict().items():  # older files may lack BatchNorm's num_batches_tracked counters
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = v
    load_strict(net, sd, path)
    return net.eval().requires_grad_(False)


# ------------------------------------------------------------------------------------------------------------------
# Our format

def save_model(out_dir: str | os.PathLike, config: ModelConfig, generator: Generator, style_encoder: StyleEncoder,
               latent_avg: torch.Tensor, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``config.json`` + ``model.safetensors`` atomically (temp files, then rename): an interrupted save
    never leaves a half-written model behind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    tensors |= {f"style_encoder.{k}": v for k, v in style_encoder.state_dict().items()}
    tensors["latent_avg"] = latent_avg
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in tensors.items()}
    meta = {"format": "exegan", "format_version": str(FORMAT_VERSION)}
    _atomic_write(out / WEIGHTS_NAME, lambda p: save_file(tensors, str(p), metadata=meta))
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    _atomic_write(out / CONFIG_NAME, lambda p: Path(p).write_text(text))
    return out


def _atomic_write(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def resolve_model_dir(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """A local folder as is; otherwise a Hub repo id fetched (or read from the cache) with ``huggingface_hub``.

    ``HF_HUB_OFFLINE=1`` is respected by ``huggingface_hub``: then only the local cache is consulted.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists() or str(name_or_path).count("/") != 1 or str(name_or_path).startswith((".", "/", "~")):
        raise FileNotFoundError(f"{name_or_path}: not a model folder (need {CONFIG_NAME} + {WEIGHTS_NAME}) "
                                "and not a Hugging Face Hub repo id of the form 'org/name'")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(name_or_path), revision=revision,
                                      allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, "README.md"]))
    except Exception as err:  # offline, unknown repo, no network: one clear message
        raise FileNotFoundError(f"could not get model '{name_or_path}' from the Hugging Face Hub "
                                f"({type(err).__name__}: {err}). With HF_HUB_OFFLINE=1 only the local cache "
                                "is used; download it once with network, or pass a local folder.") from None


def default_model_source() -> str:
    """``$EXEGAN_MODEL`` if set, else the bundled default model folder: the checkout's
    :data:`BUNDLED_MODEL_DIR` (``assets/default-model``; a checkout or an editable install), else the copy an
    installed wheel carries, :data:`INSTALLED_MODEL_DIR` (``site-packages/exegan/default_model``)."""
    spec = os.environ.get("EXEGAN_MODEL", "").strip()
    if spec:
        return spec
    for folder in (BUNDLED_MODEL_DIR, INSTALLED_MODEL_DIR):
        if (folder / WEIGHTS_NAME).is_file():
            return str(folder)
    raise FileNotFoundError(f"no model configured: set EXEGAN_MODEL to a model folder or Hub repo id, or pass one "
                            f"explicitly (the bundled default model is missing: neither {BUNDLED_MODEL_DIR} nor "
                            f"{INSTALLED_MODEL_DIR})")


MAX_CONFIG_BYTES = 1 << 20


def check_weight_shapes(config: ModelConfig, weights: Path) -> None:
    """Build the networks ``config`` describes on the ``meta`` device (no memory) and compare every parameter and
    buffer shape with the safetensors header of ``weights``; raise ``ValueError`` naming the first mismatch."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as f:
            header = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as err:
        raise ValueError(f"{weights}: unreadable safetensors file ({err})") from None
    with torch.device("meta"):
        generator, style_encoder = build_networks(config)
    expected = {f"generator.{k}": tuple(v.shape) for k, v in generator.state_dict().items()}
    expected |= {f"style_encoder.{k}": tuple(v.shape) for k, v in style_encoder.state_dict().items()}
    expected["latent_avg"] = (config.style_encoder.n_styles, config.style_encoder.style_dim)
    for key, shape in expected.items():
        if key not in header:
            raise ValueError(f"{weights}: missing tensor '{key}' that config.json's architecture needs")
        if header[key] != shape:
            raise ValueError(f"{weights}: tensor '{key}' has shape {list(header[key])}, config.json's architecture "
                             f"needs {list(shape)}")
    extra = sorted(set(header) - set(expected))
    if extra:
        raise ValueError(f"{weights}: unexpected tensor '{extra[0]}' (not part of config.json's architecture)")


def load_model(name_or_path: str | os.PathLike, revision: str | None = None
               ) -> tuple[ModelConfig, Generator, StyleEncoder, torch.Tensor]:
    """Load our format from a folder or Hub repo; weights are strict-loaded and cast to float32."""
    folder = resolve_model_dir(name_or_path, revision)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder} has no {name}: not an exegan model folder")
    if (folder / CONFIG_NAME).stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{folder / CONFIG_NAME}: larger than {MAX_CONFIG_BYTES} bytes, not a model config")
    try:
        config = ModelConfig.from_dict(json.loads((folder / CONFIG_NAME).read_text()))
    except (json.JSONDecodeError, TypeError, ValueError, RecursionError, UnicodeDecodeError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ValueError(f"{folder / CONFIG_NAME}: invalid model config ({reason})") from None
    # every tensor's name and shape, from the file's header, before anything of the config's size is allocated:
    # past this line the file holds exactly generator.*, style_encoder.* and latent_avg, shaped as the config says
    check_weight_shapes(config, folder / WEIGHTS_NAME)
    try:
        tensors = load_file(str(folder / WEIGHTS_NAME))
    except Exception as err:
        raise ValueError(f"{folder / WEIGHTS_NAME}: unreadable safetensors file ({err})") from None
    generator, style_encoder = build_networks(config)
    parts: dict[str, dict[str, torch.Tensor]] = {"generator": {}, "style_encoder": {}}
    latent_avg = tensors.pop("latent_avg")
    for key, value in tensors.items():
        prefix, _, rest = key.partition(".")
        parts[prefix][rest] = value.float() if value.is_floating_point() else value
    load_strict(generator, parts["generator"], folder / WEIGHTS_NAME)
    load_strict(style_encoder, parts["style_encoder"], folder / WEIGHTS_NAME)
    return config, generator.eval(), style_encoder.eval(), latent_avg.float()
