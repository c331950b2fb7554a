"""The training objective (train/loss.py) on real tiny networks, without Accelerate: which terms exist when, their
weights, the total of Eq. 8, and where SVGL sends each term's gradient."""

import pytest
import torch
import torch.nn.functional as F

from exegan.confidence import confidence_mask, reverse_confidence_mask
from exegan.nets import Discriminator, StyleEncoder
from exegan.perceptual import load_lpips
from train import loss
from train.loss import LossWeights, MicroBatch

S = 32


class TinyEmbedder(torch.nn.Module):
    """A small real face-embedder stand-in: conv + pooling + unit normalisation (the ``embed`` contract)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)

    def embed(self, x):
        return F.normalize(self.conv(x).mean(dim=(2, 3)), dim=1)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    d = Discriminator(S, channel_multiplier=0.125, max_channels=16)
    judge = StyleEncoder(n_styles=8, style_dim=16, input_size=S, units=(1, 1, 1, 1), widths=(8, 8, 16, 16)).eval()
    return d, judge, TinyEmbedder(), load_lpips(None, allow_random_backbone=True)


def make_batch(self_exemplar: bool, seed: int = 1) -> MicroBatch:
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(2, 3, S, S, generator=g) * 2 - 1
    exemplar = real if self_exemplar else real.flip(0)
    mask = torch.zeros(2, 1, S, S)
    mask[:, :, 8:24, 6:26] = 1
    m_w = confidence_mask(mask)
    return MicroBatch(real, exemplar, mask, m_w, reverse_confidence_mask(m_w, mask), exemplar, None, self_exemplar)


def completed_like(batch: MicroBatch, seed: int = 2) -> torch.Tensor:
    fake = torch.rand(batch.real.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return (batch.mask * fake + (1 - batch.mask) * batch.real).requires_grad_(True)


def terms_for(w, batch, nets, completed, **over):
    d, judge, emb, lp = nets
    with torch.no_grad():
        target = judge(batch.exemplar)
    batch = batch._replace(identity_target=emb.embed(batch.exemplar).detach())
    kw = dict(d=d, judge=judge, exemplar_codes=target, id_net=emb, lpips_net=lp) | over
    return loss.generator_terms(w, completed, batch, **kw), batch, target


W = LossWeights(lambda_id=0.3, lambda_attr=0.7, lambda_lpips=0.5, lambda_l1=2.0)


def test_terms_present_by_weight_and_batch_kind(nets):
    for self_ex, expected in [(True, {"adv", "attr", "id", "lpips", "l1"}), (False, {"adv", "attr", "id"})]:
        batch = make_batch(self_ex)
        terms, _, _ = terms_for(W, batch, nets, completed_like(batch))
        assert set(terms) == expected
        assert all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    batch = make_batch(True)
    none_weighted = LossWeights(lambda_id=0, lambda_attr=0, lambda_lpips=0, lambda_l1=0)
    assert set(terms_for(none_weighted, batch, nets, completed_like(batch))[0]) == {"adv"}
    # a missing network drops its term even with a weight
    assert set(terms_for(W, batch, nets, completed_like(batch), id_net=None, lpips_net=None)[0]) == \
        {"adv", "attr", "l1"}


def test_each_term_is_its_weight_times_the_paper_formula_and_total_is_their_sum(nets):
    d, judge, emb, lp = nets
    batch = make_batch(True)
    completed = completed_like(batch)
    terms, batch, target = terms_for(W, batch, nets, completed)
    with torch.no_grad():  # the formulas written out here, independently of exegan.losses
        adv = F.softplus(-d(completed)).mean()
        attr = ((judge(completed) - target) ** 2).mean()
        cos = (emb.embed(completed) * emb.embed(batch.exemplar)).sum(1)
        ident = (1 - cos).mean()
        lpips = lp(completed, batch.real).sum()
        l1 = (completed - batch.real).abs().mean()
    expected = {"adv": adv, "attr": W.lambda_attr * attr, "id": W.lambda_id * ident,
                "lpips": W.lambda_lpips * lpips, "l1": W.lambda_l1 * l1}
    for k, v in expected.items():
        torch.testing.assert_close(terms[k].detach(), v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss.total(terms).detach(), sum(expected.values()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("term, weight_map", [("attr", "m_rev"), ("l1", "m_w"), ("lpips", "m_w")])
def test_svgl_gradient_is_weight_map_times_unweighted_gradient(nets, term, weight_map):
    d, judge, emb, lp = nets
    batch = make_batch(True)
    completed = completed_like(batch)
    terms, batch, target = terms_for(W, batch, nets, completed)
    (got,) = torch.autograd.grad(terms[term], completed)
    x = completed.detach().clone().requires_grad_(True)  # the same term without SVGL
    plain = {"attr": lambda: W.lambda_attr * F.mse_loss(judge(x), target),
             "l1": lambda: W.lambda_l1 * (x - batch.real).abs().mean(),
             "lpips": lambda: W.lambda_lpips * lp(x, batch.real).sum()}[term]()
    (ref,) = torch.autograd.grad(plain, x)
    torch.testing.assert_close(got, ref * getattr(batch, weight_map), rtol=1e-4, atol=1e-9)
    assert not torch.allclose(got, ref, atol=1e-9)  # the map really reshaped it


def test_attribute_gradient_vanishes_outside_hole_and_reconstruction_peaks_near_border(nets):
    batch = make_batch(True)
    completed = completed_like(batch)
    terms, batch, _ = terms_for(W, batch, nets, completed)
    (g_attr,) = torch.autograd.grad(terms["attr"], completed, retain_graph=True)
    assert g_attr[batch.mask.expand_as(g_attr) == 0].abs().max() == 0
    (g_l1,) = torch.autograd.grad(terms["l1"], completed)
    per_pixel = g_l1.abs().sum(1, keepdim=True)[0, 0]
    assert per_pixel[8, 16] > per_pixel[16, 16]  # hole border row vs hole centre (M_w decays inwards)


def test_discriminator_loss_and_r1_against_a_linear_critic():
    torch.manual_seed(0)
    w = torch.randn(1, 3, 4, 4)
    critic = lambda x: (x * w).sum(dim=(1, 2, 3)).unsqueeze(1)  # noqa: E731  D(x) = <w, x>
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    expected = F.softplus(-critic(real)).mean() + F.softplus(critic(fake)).mean()
    torch.testing.assert_close(loss.discriminator_loss(critic, real, fake), expected)
    penalty, pred = loss.r1_penalty(critic, real)
    torch.testing.assert_close(penalty, w.pow(2).sum())  # |grad_x <w, x>|^2 = |w|^2 for every sample
    assert pred.shape == (5, 1)


def test_seam_loss_charges_a_colour_offset_at_the_border_not_a_different_structure():
    """L_seam on a 16x20 hole: its rim is the hole minus the hole shrunk by the width on each side; a constant colour
    offset in the hole costs far more than a +-c checkerboard of the same plain L1, and only pixels near the
    border get a gradient."""
    from exegan.losses import hole_rim, seam_loss

    batch = make_batch(True)
    rim = hole_rim(batch.mask, 2)
    assert rim.sum().item() == 2 * (16 * 20 - 12 * 16)  # two images
    assert rim[0, 0, 9, 16] == 1 and rim[0, 0, 10, 16] == 0 and rim[0, 0, 8, 5] == 0  # hole rows 8-23, cols 6-25
    c = 0.2
    yy, xx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")
    checker = (((yy + xx) % 2) * 2 - 1).float()[None, None]
    offset = batch.real + c * batch.mask
    structure = batch.real + c * checker * batch.mask
    assert (offset - batch.real).abs().mean() == pytest.approx((structure - batch.real).abs().mean().item())
    l_offset = seam_loss(offset, batch.real, batch.mask).item()
    l_structure = seam_loss(structure, batch.real, batch.mask).item()
    assert seam_loss(batch.real, batch.real, batch.mask).item() == 0
    assert 0.3 * c < l_offset <= c and l_structure < 0.2 * l_offset
    x = offset.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(seam_loss(x, batch.real, batch.mask), x)
    per_pixel = grad.abs().sum(1)[0]
    assert per_pixel[8, 16] > 0 and per_pixel[16, 16] == 0  # border row vs the hole's centre


def test_seam_term_applies_to_both_batch_kinds(nets):
    w = LossWeights(lambda_id=0, lambda_attr=0, lambda_lpips=0, lambda_l1=0, lambda_seam=0.5, seam_width=1)
    for self_ex in (True, False):
        batch = make_batch(self_ex)
        completed = completed_like(batch)
        terms, _, _ = terms_for(w, batch, nets, completed)
        assert set(terms) == {"adv", "seam"}
        from exegan.losses import seam_loss
        torch.testing.assert_close(terms["seam"], 0.5 * seam_loss(completed, batch.real, batch.mask, 1))
