"""Trends across a sweep: power laws and rank correlations of sharpness against the gap.

Plain NumPy: ``scipy.stats`` would add half a second to every command's start for two formulas
(``tests/test_pipeline.py`` checks both against it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["TREND_ARRAYS", "PowerLaw", "power_law_fit", "average_ranks", "spearman", "trends"]

# What :func:`trends` and the trend figures read from a sweep's arrays.
TREND_ARRAYS = ("ok", "reason", "relative_gap", "relative_sharpness", "absolute_sharpness",
                "a_train", "b_train", "a_test", "b_test")

@dataclass(frozen=True)
class PowerLaw:
    """``log10(y) = slope·log10(x) + intercept`` with standard errors, from ``n`` points."""

    slope: float
    intercept: float
    slope_se: float
    intercept_se: float
    r2: float
    n: int

    def __call__(self, x):
        return 10.0 ** (self.intercept + self.slope * np.log10(x))


def power_law_fit(x, y) -> PowerLaw:
    """Least-squares line of ``log10 y`` on ``log10 x`` (sharpness paper, Figures 5–6).

    Non-finite and non-positive points are dropped; at least 3 must remain.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same size; got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 3:
        raise ValueError(f"power_law_fit needs at least 3 positive finite points; got {keep.sum()}")
    lx, ly = np.log10(x[keep]), np.log10(y[keep])
    n = lx.size
    dx, dy = lx - lx.mean(), ly - ly.mean()
    sxx, sxy, syy = dx @ dx, dx @ dy, dy @ dy
    if sxx == 0:
        raise ValueError("power_law_fit needs at least 2 distinct x values")
    slope = sxy / sxx
    r2 = sxy**2 / (sxx * syy) if syy > 0 else 1.0
    # Standard errors of ordinary least squares, n − 2 degrees of freedom (as scipy's linregress).
    slope_se = np.sqrt(max(syy - slope * sxy, 0.0) / (n - 2) / sxx) if n > 2 else np.nan
    return PowerLaw(slope=float(slope), intercept=float(ly.mean() - slope * lx.mean()),
                    slope_se=float(slope_se),
                    intercept_se=float(slope_se * np.sqrt(lx @ lx / n)), r2=float(r2), n=n)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n along the last axis, tied values sharing the average of their ranks (SciPy's
    ``rankdata(method="average")``); x (..., n)."""
    x = np.asarray(x)
    order = np.argsort(x, axis=-1, kind="stable")
    s = np.take_along_axis(x, order, axis=-1)
    n = x.shape[-1]
    idx = np.broadcast_to(np.arange(n), s.shape)
    starts = np.ones(s.shape, bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    ends = np.ones(s.shape, bool)
    ends[..., :-1] = starts[..., 1:]
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=-1)
    last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, idx, n), -1), axis=-1), -1)
    ranks = np.empty(s.shape)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=-1)
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of finite ``x`` and ``y`` (..., n) along the last axis (the
    Pearson correlation of their average ranks); NaN where either is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(axis=-1, keepdims=True), ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(rx * ry, axis=-1) / np.sqrt(np.sum(rx**2, axis=-1) * np.sum(ry**2, axis=-1))


def trends(arrays: dict[str, np.ndarray]) -> dict:
    """Log-log power laws and Spearman correlations of both sharpness measures against the gap.

    ``arrays`` holds ``ok``, ``relative_gap``, ``relative_sharpness``, ``absolute_sharpness`` of
    the same shape (any); only ``ok`` entries with finite values count (a resolution-limited
    pair is ok with a sharpness that is only bounded, NaN).
    """
    ok = arrays["ok"]
    out = {"n_ok": int(ok.sum()), "n_failed": int((~ok).sum())}
    gap = arrays["relative_gap"][ok]
    for name in ("relative_sharpness", "absolute_sharpness"):
        y = arrays[name][ok]
        entry = {}
        try:
            entry["power_law"] = dataclasses.asdict(power_law_fit(gap, y))
        except ValueError as err:
            entry["power_law"] = None
            entry["error"] = str(err)
        finite = np.isfinite(gap) & np.isfinite(y)
        if finite.sum() >= 3:
            entry["spearman"] = float(spearman(gap[finite], y[finite]))
        out[name] = entry
    return out
