"""MAE / PSNR / SSIM of the official evaluation script (docs/official-implementation.md §9.4), on 8-bit RGB images
``[H, W, 3]``.

Quirks kept on purpose (they are part of the reported numbers):

* MAE is *relative*: ``sum|gt - out| / sum(gt + out)`` over all pixels and channels of one image (computed in
  float64, so no uint8 wrap-around), then averaged over images. It is not the mean absolute error in pixels.
* PSNR is ``skimage.metrics.peak_signal_noise_ratio`` with the data range of uint8 (255), over the whole image
  (known pixels included, which inflates it for small holes); identical images give +inf.
* SSIM is ``skimage.metrics.structural_similarity(channel_axis=-1, win_size=51)``: a 51x51 *uniform* window
  (not the usual 7x7 or Gaussian 11x11), data range 255. Images smaller than 51 px use the largest odd window
  that fits (``ssim_window``), and the window used is recorded with the result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["OFFICIAL_SSIM_WINDOW", "relative_mae", "psnr", "ssim_window", "ssim", "pixel_metrics"]

OFFICIAL_SSIM_WINDOW = 51


def _check(gt: np.ndarray, out: np.ndarray) -> None:
    if gt.shape != out.shape or gt.dtype != np.uint8 or out.dtype != np.uint8 or gt.ndim != 3:
        raise ValueError(f"need two uint8 [H, W, C] images of equal shape, got {gt.dtype}{gt.shape} and "
                         f"{out.dtype}{out.shape}")


def relative_mae(gt: np.ndarray, out: np.ndarray) -> float:
    """``sum|gt - out| / sum(gt + out)`` (0 for two all-black images)."""
    _check(gt, out)
    g, o = gt.astype(np.float64), out.astype(np.float64)
    denom = float((g + o).sum())
    return float(np.abs(g - o).sum() / denom) if denom else 0.0


def psnr(gt: np.ndarray, out: np.ndarray) -> float:
    """skimage PSNR with data_range 255 (+inf for identical images)."""
    from skimage.metrics import peak_signal_noise_ratio

    _check(gt, out)
    if np.array_equal(gt, out):
        return float("inf")  # skimage would divide by zero (and warn) to the same result
    return float(peak_signal_noise_ratio(gt, out, data_range=255))


def ssim_window(height: int, width: int, official: int = OFFICIAL_SSIM_WINDOW) -> int:
    """The official 51, or the largest odd window <= min(height, width) for smaller images (at least 3)."""
    side = min(height, width, official)
    win = side if side % 2 else side - 1
    if win < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {height}x{width}")
    return win


def ssim(gt: np.ndarray, out: np.ndarray) -> tuple[float, int]:
    """(skimage SSIM with a uniform window, channel_axis=-1, data range 255; the window size used)."""
    from skimage.metrics import structural_similarity

    _check(gt, out)
    win = ssim_window(*gt.shape[:2])
    return float(structural_similarity(gt, out, channel_axis=-1, win_size=win, data_range=255)), win


def pixel_metrics(gt: np.ndarray, out: np.ndarray) -> dict[str, float]:
    """All three for one image pair: ``{"mae", "psnr", "ssim", "ssim_win"}``."""
    value, win = ssim(gt, out)
    return {"mae": relative_mae(gt, out), "psnr": psnr(gt, out), "ssim": value, "ssim_win": win}
