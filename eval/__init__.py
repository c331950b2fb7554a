"""exegan evaluation suite: FID / U-IDS / P-IDS, exemplar fidelity, diversity and pixel metrics of inpainting
methods under one fixed protocol (images, masks, exemplar pairing, seeds). Entry point: ``python -m eval.run``.

One concept per module: :mod:`eval.inception` (FID Inception network), :mod:`eval.fid`, :mod:`eval.ids`,
:mod:`eval.pixel` (MAE/PSNR/SSIM), :mod:`eval.identity`, :mod:`eval.attributes`, :mod:`eval.diversity`,
:mod:`eval.masks`, :mod:`eval.data`, :mod:`eval.methods`, :mod:`eval.features` (content-hash cache),
:mod:`eval.distributed` (Accelerate sharding), :mod:`eval.report`, :mod:`eval.run`; :mod:`eval.testing` makes
small random networks for tests.
"""

from .fid import fid_from_features, frechet_distance, gaussian_stats
from .ids import inception_discriminative_scores
from .pixel import pixel_metrics

__all__ = ["fid_from_features", "frechet_distance", "gaussian_stats", "inception_discriminative_scores",
           "pixel_metrics"]
