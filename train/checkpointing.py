"""Checkpoints: Accelerate's own state plus the state it does not know about, saved and loaded through its hooks.

``accelerator.save_state(dir)`` writes G, D and the optimizers; :class:`TrainingState`, registered with
``register_save_state_pre_hook`` / ``register_load_state_pre_hook`` (the diffusers examples' way of saving an EMA
model), adds in the same call:

- ``ema.safetensors``: the EMA generator (``g.*``), and for a trained encoder its EMA copy (``e.*``), the trained
  encoder itself (``enc.*``) and ``latent_avg``;
- ``training_state.json``: the step and the path-length running mean.

:func:`save_checkpoint` writes into ``checkpoint-<step>.tmp``, flushes it to disk and renames it when complete,
so a kill or a power loss at any moment leaves the newest complete checkpoint usable; :func:`list_checkpoints`
sees complete ones only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch

from exegan.config import ModelConfig

STATE_FILE, EMA_FILE, EXPORT_DIR = "training_state.json", "ema.safetensors", "exegan"


def _with_prefix(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def _without_prefix(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix(f"{prefix}."): v for k, v in tensors.items() if k.startswith(f"{prefix}.")}


class TrainingState:
    """The EMA copies, the trained encoder, latent_avg, the step and the path-length mean (module docstring).

    ``enc_ema`` / ``enc`` are None when the encoder is a frozen pretrained one (nothing of it changes)."""

    def __init__(self, g_ema: torch.nn.Module, enc_ema: torch.nn.Module | None, enc: torch.nn.Module | None,
                 latent_avg: torch.Tensor, is_main_process: bool):
        self.g_ema, self.enc_ema, self.enc = g_ema, enc_ema, enc
        self.latent_avg = latent_avg
        self.step = 0
        self.mean_path_length = torch.zeros((), device=latent_avg.device)
        self.is_main_process = is_main_process

    def register(self, accelerator) -> None:
        accelerator.register_save_state_pre_hook(lambda models, weights, out_dir: self.save(Path(out_dir)))
        accelerator.register_load_state_pre_hook(lambda models, in_dir: self.load(Path(in_dir)))

    def tensors(self) -> dict[str, torch.Tensor]:
        out = _with_prefix("g", self.g_ema)
        if self.enc is not None:
            out |= _with_prefix("e", self.enc_ema) | _with_prefix("enc", self.enc)
            out["latent_avg"] = self.latent_avg.detach().cpu().contiguous()
        return out

    def save(self, folder: Path) -> None:
        if not self.is_main_process:
            return
        from safetensors.torch import save_file

        save_file(self.tensors(), str(folder / EMA_FILE))
        (folder / STATE_FILE).write_text(json.dumps({"step": self.step,
                                                     "mean_path_length": float(self.mean_path_length)}))

    def load(self, folder: Path) -> None:
        from safetensors.torch import load_file

        device = self.latent_avg.device
        tensors = load_file(str(folder / EMA_FILE), device=str(device))
        self.g_ema.load_state_dict(_without_prefix("g", tensors), strict=True)
        if self.enc is not None:
            self.enc_ema.load_state_dict(_without_prefix("e", tensors), strict=True)
            self.enc.load_state_dict(_without_prefix("enc", tensors), strict=True)
            if "latent_avg" in tensors:
                self.latent_avg.copy_(tensors["latent_avg"])
        state = json.loads((folder / STATE_FILE).read_text())
        self.step = int(state["step"])
        self.mean_path_length = torch.tensor(float(state["mean_path_length"]), device=device)


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (``checkpoint-<step>`` holding the training state), oldest first."""
    found = []
    for p in Path(output_dir).glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and (p / STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def resolve_resume(output_dir: str, resume_from_checkpoint: str | None) -> Path | None:
    """The checkpoint folder to resume from: a path, or ``latest`` (None when there is none yet: start fresh,
    as the diffusers scripts do)."""
    if not resume_from_checkpoint:
        return None
    if resume_from_checkpoint == "latest":
        found = list_checkpoints(Path(output_dir))
        return found[-1][1] if found else None
    path = Path(resume_from_checkpoint)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no {STATE_FILE})")
    return path


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as err:  # SafetensorError, OSError: a truncated, corrupt or missing file
        raise ValueError(f"{path}: unreadable checkpoint file ({' '.join(str(err).split())})") from None


# Generator fields that route the exemplar's codes (which latents take them) without changing any tensor.
EXEMPLAR_WINDOW_FIELDS = ("exemplar_start", "n_exemplar")


def check_resumable(folder: Path, config: ModelConfig, tensors: dict[str, dict[str, torch.Tensor]],
                    move_exemplar_window: bool = False) -> None:
    """Raise ``ValueError`` (one sentence naming the checkpoint and the difference) unless this run can continue
    ``folder``: the same architecture (its exported ``exegan/config.json`` against ``config``; with
    ``move_exemplar_window`` the exemplar window may differ) and every file in ``tensors`` (file name -> the state
    dict it must fill) readable, with the same tensor names and shapes. Reads headers only, before anything is
    loaded."""
    hint = ("resume with the flags that wrote it (its run's train_config.yaml) or start a new run with another "
            "--output_dir")
    saved_config = folder / EXPORT_DIR / "config.json"
    if saved_config.is_file():
        try:
            saved = ModelConfig.from_dict(json.loads(saved_config.read_text())).to_dict()
        except (ValueError, RecursionError) as err:
            raise ValueError(f"{saved_config}: unreadable checkpoint config ({err})") from None
        current = config.to_dict()
        for part in ("generator", "style_encoder"):
            for key, value in current[part].items():
                if part == "generator" and key in EXEMPLAR_WINDOW_FIELDS and move_exemplar_window:
                    continue
                if saved[part].get(key) != value:
                    also = " (--move_exemplar_window allows that)" if key in EXEMPLAR_WINDOW_FIELDS else ""
                    raise ValueError(f"{folder} was trained with {part}.{key}={saved[part].get(key)!r} and this "
                                     f"run has {value!r}{also}: {hint}")
    for name, state in tensors.items():
        header = _header_shapes(folder / name)
        for key, value in state.items():
            if key not in header:
                raise ValueError(f"{folder / name} has no tensor '{key}' that this run needs: {hint}")
            if header[key] != tuple(value.shape):
                raise ValueError(f"{folder / name}: tensor '{key}' has shape {list(header[key])}, this run needs "
                                 f"{list(value.shape)}: {hint}")
        extra = sorted(set(header) - set(state))
        if extra:
            raise ValueError(f"{folder / name} holds tensor '{extra[0]}' that this run does not have: {hint}")
    try:
        state_json = json.loads((folder / STATE_FILE).read_text())
        int(state_json["step"]), float(state_json["mean_path_length"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{folder / STATE_FILE}: unreadable training state ({err!r})") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(folder: Path) -> None:
    """Flush every file below ``folder`` and the folders themselves to disk (so a rename after it survives a power
    loss, not only a killed process)."""
    for f in sorted(folder.rglob("*")) + [folder]:
        _fsync(f)


def save_checkpoint(accelerator, output_dir: Path, step: int, export, total_limit: int | None) -> None:
    """``accelerator.save_state`` (which runs :class:`TrainingState`'s hook) and ``export(folder)`` (the inference
    model) into ``checkpoint-<step>.tmp``, flushed to disk and renamed once complete; then remove the ``.tmp``
    leftovers of interrupted saves and keep the newest ``total_limit`` checkpoints."""
    final, tmp = output_dir / f"checkpoint-{step}", output_dir / f"checkpoint-{step}.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        export(tmp / EXPORT_DIR)
        sync_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)  # the checkpoint becomes visible only once complete
        _fsync(output_dir)
        for stale in output_dir.glob("checkpoint-*.tmp"):  # interrupted saves of other steps
            shutil.rmtree(stale)
        if total_limit:
            for _, old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
