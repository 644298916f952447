"""Trends across a sweep: power laws and rank correlations of sharpness against the gap."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import stats

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
    res = stats.linregress(np.log10(x[keep]), np.log10(y[keep]))
    return PowerLaw(slope=res.slope, intercept=res.intercept, slope_se=res.stderr,
                    intercept_se=res.intercept_stderr, r2=res.rvalue**2, n=int(keep.sum()))


def trends(arrays: dict[str, np.ndarray]) -> dict:
    """Log-log power laws and Spearman correlations of both sharpness measures against the gap.

    ``arrays`` holds ``ok``, ``relative_gap``, ``relative_sharpness``, ``absolute_sharpness`` of
    the same shape (any); only ``ok`` entries count.
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
        if gap.size >= 3:
            entry["spearman"] = float(stats.spearmanr(gap, y).statistic)
        out[name] = entry
    return out
