"""The one inference API: ``ExeGAN``. The app, the CLI, training previews and eval all go through it.

    model = ExeGAN.from_pretrained("path/or/org-name")          # or ExeGAN.from_official(exe_pt, psp_pt)
    images = model.inpaint(photo, mask, exemplar, n_samples=4, seed=0)

Per request the work is done once where it can be: one style-encoder pass per exemplar (only the codes that are
used; cached across calls), one generator-encoder pass per (image, mask), and all samples of all exemplars
batched through the decoder. Randomness (z, style-mixing draws, noise maps) comes from seeded CPU
``torch.Generator``s: sample k of a request with ``seed`` draws from ``seed + k``, so a seed reproduces the same
samples on any device, every result can be regenerated alone from its own seed, and sample k of every exemplar uses
the same random draws (so outputs for different exemplars differ only by the exemplar).

Mask convention: 1 / white = hole (to fill), 0 / black = known. Known pixels of every output are bit-exact
copies of the input's (8-bit RGB) pixels.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import OrderedDict
from typing import Literal, Sequence

import numpy as np
import torch
from PIL import Image

from . import images as im
from ._malloc import tune_glibc_malloc
from .checkpoints import (ModelConfig, default_model_source, infer_generator_config, infer_style_encoder_config,
                          load_model, load_official_generator, load_official_style_encoder, save_model)
from .nets.generator import Generator, masked_input
from .nets.style_encoder import StyleEncoder
from .precision import Precision, resolve_precision

OutputType = Literal["pil", "pt", "np"]


def channels_last_weights(module: torch.nn.Module) -> torch.nn.Module:
    """Store 4-D weights in channels_last, the layout oneDNN convolves fastest (the pSp encoder takes ~25% less
    time on CPU); values and state-dict contents are unchanged (saving makes tensors contiguous)."""
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() == 4:
                p.data = p.data.contiguous(memory_format=torch.channels_last)
    return module


MAX_RESULTS = 256  # results per inpaint call (exemplars x n_samples): a bound on memory a caller can ask for
MAX_SEED = 2 ** 62  # seeds are 0 <= seed < MAX_SEED (sample k uses seed + k)
MAX_EXEMPLARS = 64  # exemplars per call


def _check_sampling(truncation: float, style_mixing_prob: float = 0.5) -> None:
    """Refuse sampling arguments that would silently produce NaN or meaningless results."""
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not np.isfinite(truncation):
        raise ValueError(f"truncation must be a finite number, got {truncation!r}")
    if not 0 <= style_mixing_prob <= 1:
        raise ValueError(f"style_mixing_prob must be in [0, 1], got {style_mixing_prob!r}")


class ExeGAN:
    """Exemplar-guided face inpainting with a loaded EXE-GAN model.

    Args:
        generator, style_encoder: the networks (put in eval mode).
        latent_avg: [n_styles, D] average code added to the style encoder's raw codes (pSp ``latent_avg``).
        config: the :class:`ModelConfig` (name, licence, architecture) shown by the app and CLI.
        device: where to run (default: CUDA if available, else CPU).
        precision: "auto" (default: bf16 on CUDA and on CPUs with native bf16, fp32 elsewhere; see
            ``exegan/precision.py``), "fp32", or "bf16" / "fp16" autocast (outputs then differ from fp32 by a few
            8-bit levels in the hole). ``self.precision`` is the concrete format chosen.
        batch_size: most samples pushed through the decoder at once (bounds peak memory).
    """

    def __init__(self, generator: Generator, style_encoder: StyleEncoder, latent_avg: torch.Tensor,
                 config: ModelConfig | None = None, *, device: str | torch.device | None = None,
                 precision: Precision = "auto", batch_size: int = 8):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        precision = resolve_precision(precision, self.device)
        if self.device.type == "cpu":
            tune_glibc_malloc()  # large activations: avoid re-faulting fresh mmap'd buffers (exegan/_malloc.py)
        self.generator = channels_last_weights(generator.eval().requires_grad_(False).to(self.device))
        self.style_encoder = channels_last_weights(style_encoder.eval().requires_grad_(False).to(self.device))
        self.latent_avg = latent_avg.float().to(self.device)
        if self.latent_avg.shape != (style_encoder.n_styles, generator.style_dim):
            raise ValueError(f"latent_avg must be [{style_encoder.n_styles}, {generator.style_dim}], "
                             f"got {tuple(latent_avg.shape)}")
        self.config = config or ModelConfig()
        self.precision, self.batch_size = precision, batch_size
        self._mean_latent: torch.Tensor | None = None
        self._code_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()

    # -------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, revision: str | None = None, **kwargs) -> "ExeGAN":
        """Load our format (``config.json`` + ``model.safetensors``) from a folder or a Hugging Face Hub repo."""
        config, generator, style_encoder, latent_avg = load_model(name_or_path, revision)
        return cls(generator, style_encoder, latent_avg, config, **kwargs)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike | None = None, **kwargs) -> "ExeGAN":
        """:meth:`from_pretrained` of ``name_or_path``, or when None of ``$EXEGAN_MODEL`` / the bundled model."""
        return cls.from_pretrained(name_or_path or default_model_source(), **kwargs)

    @classmethod
    def from_official(cls, exe_checkpoint: str | os.PathLike, psp_checkpoint: str | os.PathLike,
                      **kwargs) -> "ExeGAN":
        """Load the authors' ``EXE_GAN_model_{256,512}.pt`` (``g_ema``) and ``psp_ffhq_encode.pt`` (no unpickling
        of arbitrary objects)."""
        generator = load_official_generator(exe_checkpoint)
        style_encoder, latent_avg = load_official_style_encoder(psp_checkpoint)
        config = ModelConfig(infer_generator_config(generator.state_dict()),
                             infer_style_encoder_config(style_encoder.state_dict()),
                             name=f"EXE-GAN {generator.size} (official FFHQ weights)",
                             license="see the authors' release (FFHQ-trained: non-commercial research use)",
                             source=f"converted from {os.path.basename(exe_checkpoint)} + "
                                    f"{os.path.basename(psp_checkpoint)}")
        return cls(generator, style_encoder, latent_avg, config, **kwargs)

    def save_pretrained(self, out_dir: str | os.PathLike, dtype: torch.dtype = torch.float32):
        """Write ``config.json`` + ``model.safetensors`` (atomically) to ``out_dir``."""
        return save_model(out_dir, self.config, self.generator, self.style_encoder, self.latent_avg, dtype)

    def push_to_hub(self, repo_id: str, *, private: bool = False, dtype: torch.dtype = torch.float32,
                    commit_message: str = "Upload EXE-GAN model") -> str:
        """Save to a temporary folder and upload it as a Hub model repo; returns the repo URL."""
        import tempfile

        from huggingface_hub import HfApi

        api = HfApi()
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(tmp, dtype)
            api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=commit_message)
        return str(url)

    # -------------------------------------------------------------------------------------------- basics
    @property
    def size(self) -> int:
        """Model resolution S (inputs are fitted to S x S)."""
        return self.generator.size

    @property
    def n_latent(self) -> int:
        return self.generator.n_latent

    @property
    def default_phi(self) -> list[bool]:
        """The official phi: latents [exemplar_start, exemplar_start + n_exemplar) are exemplar-driven."""
        g = self.generator
        return [g.exemplar_start <= j < g.exemplar_start + g.n_exemplar for j in range(g.n_latent)]

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)

    def resolve_phi(self, phi: Sequence[bool] | Sequence[int] | None) -> list[int]:
        """phi (paper Eq. 1) -> sorted list of exemplar-driven latent indices.

        Accepts None (official), a bool/0-1 sequence of length n_latent, or any other sequence of latent indices.
        Latent j takes style-encoder code j (+ latent_avg[j]), so j must be < the encoder's n_styles.
        """
        if phi is None:
            return [j for j, on in enumerate(self.default_phi) if on]
        phi = list(phi)
        if len(phi) == self.n_latent and all(v in (0, 1) for v in phi):  # a 0/1 (bool) vector over the latents
            idx = [j for j, on in enumerate(phi) if on]
        else:
            idx = sorted({int(v) for v in phi})
        limit = min(self.n_latent, self.style_encoder.n_styles)
        bad = [j for j in idx if not 0 <= j < limit]
        if bad:
            raise ValueError(f"phi selects latents {bad}: valid latent indices are 0..{limit - 1}")
        return idx

    def mean_latent(self) -> torch.Tensor:
        """Cached mean of f(z) over 4096 z (fixed seed, so truncated results are reproducible): [1, D]."""
        if self._mean_latent is None:
            self._mean_latent = self.generator.mean_latent(4096, torch.Generator().manual_seed(0))
        return self._mean_latent

    # -------------------------------------------------------------------------------------------- stages
    def prepare_exemplar(self, exemplar) -> torch.Tensor:
        """Exemplar (any image source) -> [1, 3, S, S] in [-1, 1] (centre-cropped to a square, resized to S)."""
        img = im.load_image(exemplar)
        if img.size != (self.size, self.size):
            img, _ = im.fit_square(img, self.size, "crop")
        return im.image_to_tensor(img)[None].to(self.device)

    @torch.no_grad()
    def exemplar_codes(self, exemplars: Sequence, phi: Sequence[bool] | Sequence[int] | None = None) -> torch.Tensor:
        """Style codes of each exemplar for the phi-selected latents: [E, len(phi), D] (raw code + latent_avg).

        Codes are cached per (exemplar pixels, latents, precision), so repeated requests with the same exemplar skip
        the style encoder."""
        idx = self.resolve_phi(phi)
        if not idx:  # no exemplar-driven latent: nothing to encode
            return torch.zeros(len(exemplars), 0, self.generator.style_dim, device=self.device)
        out = []
        for ex in exemplars:
            x = self.prepare_exemplar(ex)
            key = (hashlib.sha1(x.cpu().numpy().tobytes()).hexdigest(), tuple(idx), self.precision)
            if key not in self._code_cache:
                with self._autocast():
                    codes = self.style_encoder(x, indices=idx).float()
                self._code_cache[key] = codes + self.latent_avg[idx]
                while len(self._code_cache) > 16:
                    self._code_cache.popitem(last=False)
            self._code_cache.move_to_end(key)
            out.append(self._code_cache[key])
        return torch.cat(out)

    def sample_randomness(self, n: int, seed: int | None, style_mixing_prob: float = 0.5) -> dict:
        """Seeded draws for n samples: z1, z2 [n, D], per-sample crossover index [n] (n_latent = no mixing),
        noise maps. Sample k draws from its own CPU generator seeded ``seed + k`` (``"seeds"``), so it is exactly
        the single sample that seed gives: any result can be regenerated alone from the seed shown with it.
        Official inference mixes two z's with probability 0.5 (docs/official-implementation.md §3.3)."""
        if seed is None:
            seed = int(torch.randint(0, 2 ** 31 - 1, ()).item())
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < MAX_SEED:
            raise ValueError(f"seed must be an integer in [0, 2**62), got {seed!r}")
        seeds = [int(seed) + k for k in range(n)]
        d, n_lat = self.generator.style_dim, self.n_latent
        z1, z2, cut, noise = [], [], [], []
        for s in seeds:
            gen = torch.Generator().manual_seed(s)
            z1.append(torch.randn(1, d, generator=gen))
            z2.append(torch.randn(1, d, generator=gen))
            mixing = torch.rand(1, generator=gen) < style_mixing_prob
            cut.append(torch.where(mixing, torch.randint(1, n_lat, (1,), generator=gen), torch.full((1,), n_lat)))
            noise.append(self.generator.make_noise(1, generator=gen, device=torch.device("cpu")))
        return {"seed": int(seed), "seeds": seeds, "z": [torch.cat(z1), torch.cat(z2)],
                "inject_index": torch.cat(cut), "noise": [torch.cat(maps) for maps in zip(*noise)]}

    @torch.no_grad()
    def generate(self, x: torch.Tensor, mask: torch.Tensor, codes: torch.Tensor, phi_idx: Sequence[int],
                 rnd: dict, truncation: float = 1.0, pairs: bool = False) -> torch.Tensor:
        """Core batched call. x: [1,3,S,S] in [-1,1]; mask: [1,1,S,S] (1 = hole); codes: [E, len(phi_idx), D];
        rnd from :meth:`sample_randomness` (n samples). Returns composites [E*n, 3, S, S] (exemplar-major; with
        ``pairs``, E == n and code set i goes with draw i only: [n, 3, S, S]). Known pixels are exactly ``x``."""
        g, dev = self.generator, self.device
        n = rnd["z"][0].shape[0]
        gin = masked_input(x, mask)
        full = torch.zeros(codes.shape[0], g.n_latent, g.style_dim, device=dev)
        full[:, list(phi_idx)] = codes
        phi = torch.zeros(g.n_latent, dtype=torch.bool)
        phi[list(phi_idx)] = True
        w_avg = self.mean_latent() if truncation != 1 else None
        outs = []
        with self._autocast():
            c, feats = g.encode(gin)
            jobs = [(i, i) for i in range(n)] if pairs else [(e, s) for e in range(codes.shape[0]) for s in range(n)]
            for start in range(0, len(jobs), self.batch_size):
                e_idx, s_idx = map(list, zip(*jobs[start:start + self.batch_size]))
                z = [t[s_idx].to(dev) for t in rnd["z"]]
                w = g.w_plus(z, full[e_idx], truncation=truncation, truncation_latent=w_avg,
                             inject_index=rnd["inject_index"][s_idx].to(dev), phi=phi)
                noise = [t[s_idx].to(dev) for t in rnd["noise"]]
                outs.append(g.synthesize(c, feats, w, noise).float())
        pred = torch.cat(outs)
        if not torch.isfinite(pred).all():
            raise FloatingPointError(f"the model '{self.config.name}' produced NaN or infinite values: its weights "
                                     "are corrupt or it overflowed at this precision (try precision='fp32')")
        return torch.where(mask > 0.5, pred, x)

    # -------------------------------------------------------------------------------------------- public
    def inpaint(self, image, mask, exemplars, n_samples: int = 4, seed: int | None = None,
                phi: Sequence[bool] | Sequence[int] | None = None, truncation: float = 1.0,
                mix: int | None = None, *, fit: im.FitMode = "pad", style_mixing_prob: float = 0.5,
                output_type: OutputType = "pil"):
        """Fill the hole of ``image`` guided by ``exemplars``; ``n_samples`` diverse results per exemplar.

        image: any image source (path, PIL of any mode, numpy HxWxC, tensor [3,H,W] in [-1,1]); any size. Non-square
            or non-S inputs are fitted to S x S (``fit``: "pad" letterboxes, "crop" centre-crops, "stretch"); PIL
            outputs are mapped back to the input's size and only hole pixels change there.
        mask: same size as image (resized with NEAREST otherwise); white / 1 = hole.
        exemplars: one image source or a list of them (each centre-cropped to a square).
        seed: an integer in [0, 2**62): sample k draws from ``seed + k`` (the same result as that seed alone);
            None = random. phi: exemplar-driven latents (see :meth:`resolve_phi`).
        truncation: psi; w <- w_avg + psi (w - w_avg) for the stochastic codes (psi > 1 amplifies).
        mix: two-exemplar style mixing (needs exactly two exemplars a, b): the first ``mix`` phi-selected latents
            take a's codes, the rest b's (official ``exemplar_style_mixing``: 0 = pure b, len(phi) = pure a).
        output_type: "pil" (list of PIL RGB at the input's size), "np" (list of uint8 HxWx3 at the input's size)
            or "pt" (tensor [N, 3, S, S] in [-1, 1] on the fitted S x S geometry). A grey-scale image (no pixel
            with colour) gets a grey fill in "pil" / "np" outputs.

        Returns ``len(exemplars) * n_samples`` results, exemplar-major (``n_samples`` when ``mix`` is set).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
        if output_type not in ("pil", "pt", "np"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        _check_sampling(truncation, style_mixing_prob)
        exemplars = list(exemplars) if isinstance(exemplars, (list, tuple)) else [exemplars]
        if not exemplars:
            raise ValueError("at least one exemplar image is needed")
        if len(exemplars) > MAX_EXEMPLARS:
            raise ValueError(f"at most {MAX_EXEMPLARS} exemplars per call, got {len(exemplars)}")
        n_out = n_samples * (1 if mix is not None else len(exemplars))
        if n_out > MAX_RESULTS:
            raise ValueError(f"one call makes at most {MAX_RESULTS} results (exemplars x n_samples), asked for "
                             f"{n_out}")
        if mix is not None and len(exemplars) != 2:
            raise ValueError(f"style mixing (mix=...) needs exactly two exemplars, got {len(exemplars)}")
        phi_idx = self.resolve_phi(phi)
        if mix is not None and not 0 <= mix <= len(phi_idx):
            raise ValueError(f"mix must be in 0..{len(phi_idx)} (number of exemplar-driven latents), got {mix}")

        photo, hole, x, m, fit_info = self._prepare_input(image, mask, fit)
        if not hole.any():  # nothing to fill: the input, unchanged
            return self._format([x[0]] * n_out, photo, hole, fit_info, output_type, skip_model=True)
        codes = self.exemplar_codes(exemplars, phi_idx)
        if mix is not None:
            codes = torch.cat([codes[0:1, :mix], codes[1:2, mix:]], 1)
        rnd = self.sample_randomness(n_samples, seed, style_mixing_prob)
        out = self.generate(x, m, codes, phi_idx, rnd, truncation)
        return self._format(list(out), photo, hole, fit_info, output_type)

    def mixing_sweep(self, image, mask, exemplar_a, exemplar_b, seed: int | None = None,
                     phi: Sequence[bool] | Sequence[int] | None = None, truncation: float = 1.0, *,
                     fit: im.FitMode = "pad", output_type: OutputType = "pil"):
        """Every crossover point of two-exemplar style mixing (paper Fig. 9): len(phi) + 1 results, result k
        taking its first k exemplar-driven latents from a and the rest from b (0 = pure b, last = pure a).
        One set of random draws is shared, so the strip varies only with the crossover."""
        _check_sampling(truncation)
        phi_idx = self.resolve_phi(phi)
        photo, hole, x, m, fit_info = self._prepare_input(image, mask, fit)
        k = len(phi_idx) + 1
        if not hole.any():
            return self._format([x[0]] * k, photo, hole, fit_info, output_type, skip_model=True)
        a, b = self.exemplar_codes([exemplar_a, exemplar_b], phi_idx)
        rows = torch.arange(len(phi_idx), device=a.device)[None, :, None]
        codes = torch.where(rows < torch.arange(k, device=a.device)[:, None, None], a[None], b[None])
        one = self.sample_randomness(1, seed, 0.0)  # the same draws for every crossover point
        rnd = {"z": [t.expand(k, -1) for t in one["z"]], "inject_index": one["inject_index"].expand(k),
               "noise": [t.expand(k, -1, -1, -1) for t in one["noise"]]}
        out = self.generate(x, m, codes, phi_idx, rnd, truncation, pairs=True)
        return self._format(list(out), photo, hole, fit_info, output_type)

    # -------------------------------------------------------------------------------------------- helpers

    def _prepare_input(self, image, mask, fit: im.FitMode):
        photo = im.load_image(image)
        mask_img = im.load_mask(mask)
        if mask_img.size != photo.size:
            mask_img = mask_img.resize(photo.size, Image.Resampling.NEAREST)
        hole = np.asarray(mask_img) > 0
        if photo.size == (self.size, self.size):
            fitted, fitted_mask, fit_info = photo, mask_img, None
        else:
            fitted, fit_info = im.fit_square(photo, self.size, fit)
            fitted_mask, _ = im.fit_square_mask(mask_img, self.size, fit)
        x = im.image_to_tensor(fitted)[None].to(self.device)
        m = im.mask_to_tensor(fitted_mask)[None].to(self.device)
        return photo, hole, x, m, fit_info

    def _format(self, outs: list[torch.Tensor], photo: Image.Image, hole: np.ndarray, fit_info,
                output_type: OutputType, skip_model: bool = False):
        if output_type == "pt":
            return torch.stack([o.float() for o in outs])
        base = np.asarray(photo)
        gray = not skip_model and im.is_grayscale(base)  # a grey photo gets a grey fill
        results = []
        for o in outs:
            if skip_model:
                arr = base.copy()
            else:
                res = im.tensor_to_image(o)
                if fit_info is not None:
                    res = im.paste_back(photo, res, fit_info)
                res = im.to_grayscale(np.asarray(res)) if gray else np.asarray(res)
                arr = np.where(hole[..., None], res, base)  # known pixels: the input's, bit-exact
            results.append(Image.fromarray(arr) if output_type == "pil" else arr)
        return results
