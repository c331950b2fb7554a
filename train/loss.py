"""The training objective (paper Eq. 4-8), one named term each, on a named micro-batch.

Discriminator (Eq. 4): :func:`discriminator_loss` on reals vs composites, plus the lazy :func:`r1_penalty`.
Generator (Eq. 8): ``L = L_adv + lambda_id L_id + lambda_attr L_attr + lambda_lpips L_lpips`` (+ ``lambda_l1 L_l1``
and ``lambda_seam L_seam``, not in the paper), assembled by :func:`generator_terms`; the total is the sum of the
returned, already weighted terms (:func:`total`). SVGL (Eq. 3, ``exegan.svgl``) shapes three of them: L_attr's
gradient reaches the composite through SVGL(M̄_w) (strongest at the hole's centre), L_lpips' and L_l1's through
SVGL(M_w) (strongest near the known pixels); L_seam reads the composite directly. The stochastic path-length
regulariser is :func:`exegan.losses.g_path_regularize`.

Images are [B,3,S,S] in [-1,1]; masks [B,1,S,S] with 1 = hole; codes [B,n,D].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch

from exegan import losses
from exegan.svgl import svgl


class MicroBatch(NamedTuple):
    """One micro-batch of a training step."""

    real: torch.Tensor  # I_gt, the ground truth
    exemplar: torch.Tensor  # I_exe: the ground truth itself (possibly jittered) or another face
    mask: torch.Tensor  # M, 1 = hole
    m_w: torch.Tensor  # confidence mask M_w (Eq. 2)
    m_rev: torch.Tensor  # reverse confidence mask M̄_w
    exemplar_input: torch.Tensor | tuple  # what the style encoder reads: the exemplar, or its frozen trunk features
    identity_target: torch.Tensor | None  # unit identity embedding of the exemplar (None: no L_id)
    self_exemplar: bool  # the exemplar is the ground truth: the reconstruction terms apply


@dataclass
class LossWeights:
    """The lambdas of Eq. 8 (see ``train.config.TrainConfig`` for each one's documentation)."""

    lambda_id: float = 0.1
    lambda_attr: float = 0.1
    lambda_lpips: float = 0.5
    lambda_l1: float = 0.0
    attribute_loss_form: str = "mse"
    lambda_seam: float = 0.0
    seam_width: int = 2

    @classmethod
    def from_config(cls, cfg) -> "LossWeights":
        return cls(cfg.lambda_id, cfg.lambda_attr, cfg.lambda_lpips, cfg.lambda_l1, cfg.attribute_loss_form,
                   cfg.lambda_seam, cfg.seam_width)


# -------------------------------------------------------------------------------------------- discriminator
def discriminator_loss(d, real: torch.Tensor, completed: torch.Tensor) -> torch.Tensor:
    """Eq. 4 without R1: logistic loss of D on the ground truth vs the composite (computed in float32)."""
    return losses.d_logistic_loss(d(real).float(), d(completed).float())


def r1_penalty(d, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """R1 (Eq. 4's gamma term, without gamma / 2) on the reals: (penalty, D's predictions) — the predictions are
    returned so DDP sees every D parameter used (``+ 0 * pred``)."""
    real = real.detach().requires_grad_(True)
    pred = d(real)
    return losses.d_r1_loss(pred, real), pred


# ---------------------------------------------------------------------------------------------- generator
def adversarial_term(d, completed: torch.Tensor) -> torch.Tensor:
    """L_adv: non-saturating loss of the composite under D."""
    return losses.g_nonsaturating_loss(d(completed).float())


def identity_term(id_net, completed: torch.Tensor, batch: MicroBatch) -> torch.Tensor:
    """L_id (Eq. 5): 1 - cos between the identity embeddings of the composite and of the exemplar."""
    return losses.identity_loss(id_net, completed, exemplar_embedding=batch.identity_target)


def attribute_term(judge: Callable[[torch.Tensor], torch.Tensor], completed: torch.Tensor, batch: MicroBatch,
                   exemplar_codes: torch.Tensor, form: str) -> torch.Tensor:
    """L_attr (Eq. 7): the judge's exemplar codes of the composite, read through SVGL(M̄_w), against the
    exemplar's own codes (``exemplar_codes``, no gradient)."""
    codes = judge(svgl(completed, batch.m_rev))
    return losses.attribute_loss(codes.float(), exemplar_codes.detach().float(), form)


def perceptual_term(lpips_net, completed: torch.Tensor, batch: MicroBatch) -> torch.Tensor:
    """L_lpips (Eq. 6): LPIPS to the ground truth through SVGL(M_w), summed over the batch (official)."""
    return losses.lpips_loss(lpips_net, completed, batch.real, batch.m_w)


def l1_term(completed: torch.Tensor, batch: MicroBatch) -> torch.Tensor:
    """L_l1 (not in the paper): mean |composite - ground truth| through SVGL(M_w)."""
    return losses.l1_loss(completed, batch.real, batch.m_w)


def seam_term(completed: torch.Tensor, batch: MicroBatch, width: int) -> torch.Tensor:
    """L_seam (not in the paper): the locally averaged colour error on the hole's inner rim, on every batch."""
    return losses.seam_loss(completed, batch.real, batch.mask, width)


def generator_terms(w: LossWeights, completed: torch.Tensor, batch: MicroBatch, *, d, judge=None,
                    exemplar_codes: torch.Tensor | None = None, id_net=None, lpips_net=None) -> dict[str, torch.Tensor]:
    """The weighted terms of Eq. 8 for one micro-batch: ``{"adv", "attr", "id", "lpips", "l1", "seam"}``, each
    present when its weight is non-zero and its network is given (LPIPS and L1 only on self-exemplar batches).

    Args:
        completed: the composite M * I_out + (1 - M) * I_gt, with gradient to the generator.
        d: the discriminator (frozen for this step).
        judge: images -> exemplar codes [B,n,D] (the encoder that scores the composite in L_attr).
        exemplar_codes: the exemplar's codes that L_attr compares against.
        id_net, lpips_net: the identity embedder (``embed`` method) and the LPIPS network.
    """
    terms = {"adv": adversarial_term(d, completed)}
    if w.lambda_attr > 0 and judge is not None:
        terms["attr"] = w.lambda_attr * attribute_term(judge, completed, batch, exemplar_codes,
                                                       w.attribute_loss_form)
    if w.lambda_id > 0 and id_net is not None:
        terms["id"] = w.lambda_id * identity_term(id_net, completed, batch)
    if batch.self_exemplar:
        if w.lambda_lpips > 0 and lpips_net is not None:
            terms["lpips"] = w.lambda_lpips * perceptual_term(lpips_net, completed, batch)
        if w.lambda_l1 > 0:
            terms["l1"] = w.lambda_l1 * l1_term(completed, batch)
    if w.lambda_seam > 0:
        terms["seam"] = w.lambda_seam * seam_term(completed, batch, w.seam_width)
    return terms


def total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """Eq. 8: the sum of the weighted terms."""
    return sum(terms.values())
