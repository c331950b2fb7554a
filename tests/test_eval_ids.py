"""U-IDS / P-IDS (CoMod-GAN definition) on feature sets whose answer follows from the definition."""

import numpy as np
import pytest

from eval.ids import inception_discriminative_scores


def test_separable_sets_give_zero_for_both():
    """Real and fake far apart along one direction: the SVM classifies every training point correctly
    (U-IDS = 1 - accuracy = 0) and scores every real above its fake (P-IDS = 0)."""
    rng = np.random.default_rng(0)
    real = rng.normal(size=(20, 8)) + 3.0
    fake = rng.normal(size=(20, 8)) - 3.0
    assert inception_discriminative_scores(real, fake) == {"u_ids": 0.0, "p_ids": 0.0}


@pytest.mark.parametrize("n,d", [(8, 2048), (30, 16)])
def test_identical_sets_give_half_and_zero(n, d):
    """fake == real. The primal objective 1/2|w|^2 + C sum_i [(1 - f(x_i))_+^2 + (1 + f(x_i))_+^2] (liblinear
    also penalises the intercept) is minimised by w = 0, b = 0: each real/fake duplicate contributes
    (1 - f)^2 + (1 + f)^2, smallest at f = 0, and so is the regulariser. liblinear starts at w = 0, where the
    gradient is already zero, so it stops there (0 iterations). Every decision value is then exactly 0;
    sklearn predicts ``classes_[decision > 0]`` = class 0 (fake) for everyone, so exactly the N fakes are right:
    accuracy 1/2, U-IDS = 0.5. P-IDS counts decision(fake_i) > decision(real_i), i.e. 0 > 0: never, P-IDS = 0.
    (Not 0.5: the strict inequality makes ties count against the method.)"""
    real = np.random.default_rng(1).normal(size=(n, d))
    assert inception_discriminative_scores(real, real.copy()) == {"u_ids": 0.5, "p_ids": 0.0}


def test_constant_shift_gives_all_or_nothing_p_ids():
    """fake_i = real_i + delta: decision(fake_i) - decision(real_i) = w . delta for every pair, so P-IDS is 0 or 1;
    the SVM orients w against delta (fakes are label 0), hence 0. Overlapping clouds keep U-IDS well above 0."""
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 2))
    scores = inception_discriminative_scores(real, real + np.array([0.3, -0.1]))
    assert scores["p_ids"] == 0.0
    assert 0.3 < scores["u_ids"] <= 0.5


def test_rejects_unpaired_inputs():
    with pytest.raises(ValueError, match="paired"):
        inception_discriminative_scores(np.zeros((3, 4)), np.zeros((4, 4)))
