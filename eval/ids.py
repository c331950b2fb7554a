"""U-IDS and P-IDS, the Inception Discriminative Scores of CoMod-GAN (docs/official-implementation.md §9.3).

A linear SVM, ``sklearn.svm.LinearSVC(dual=False)`` with every other argument at its default (L2 penalty,
squared hinge, C = 1, tol 1e-4, max_iter 1000, fitted intercept), is trained on all real features (label 1) and
all fake features (label 0), unstandardised, and evaluated on its own training data:

* U-IDS = 1 - training accuracy (how often real/fake are confused; higher is better, 0.5 at most in practice);
* P-IDS = fraction of pairs i with ``decision(fake_i) > decision(real_i)`` (fake_i is the completion of real_i;
  higher is better).

Both are fractions in [0, 1]; papers print them x100. They depend strongly on N (2048-d features: any N < ~2049
sets are usually linearly separable, giving U-IDS = 0).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["inception_discriminative_scores"]


def inception_discriminative_scores(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """Paired features ``[N, D]`` (row i of ``fake`` completes row i of ``real``) -> ``{"u_ids", "p_ids"}``.

    The SVM's ``ConvergenceWarning`` (max_iter reached) is silenced: the reference implementations ignore it too.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.shape != fake.shape or real.ndim != 2:
        raise ValueError(f"real and fake must be paired [N, D] arrays, got {real.shape} and {fake.shape}")
    inputs = np.concatenate([real, fake])
    targets = np.concatenate([np.ones(len(real), np.int64), np.zeros(len(fake), np.int64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm = LinearSVC(dual=False).fit(inputs, targets)
    u_ids = 1.0 - float(svm.score(inputs, targets))
    p_ids = float(np.mean(svm.decision_function(fake) > svm.decision_function(real)))
    return {"u_ids": u_ids, "p_ids": p_ids}
