"""Plot helpers shared by the command line and the experiments' figures (drawn with whatever
matplotlib backend is in use: the commands choose Agg, a notebook keeps its own)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.grokking import GrokkingMeasure
from linear_grok.results import atomic_write
from linear_grok.scurves import ERF, get_shape
from linear_grok.trends import PowerLaw


def plot_fit(ax, t: np.ndarray, acc: np.ndarray, fitted: np.ndarray | None,
             jump: float | None, label: str, color: str) -> None:
    """Data as dots and, when given, the fitted curve as a line and its jump time dotted."""
    ax.plot(t, acc, ".", ms=2, color=color, alpha=0.35, label=f"{label} data")
    if fitted is not None:
        ax.plot(t, fitted, "-", color=color, lw=1.5, label=f"{label} fit")
        ax.axvline(jump, color=color, ls=":", lw=1)


def fit_label(arrays) -> str:
    """``<family> fits``, naming the S-curve families the sweep's fits used."""
    families = sorted({str(s) for s in np.ravel(arrays.get("shape", [ERF.name])) if s})
    return f"{'/'.join(families) or ERF.name} fits"


def fit_panel(title: str, t: np.ndarray, curves, failure: str = "") -> dict:
    """One :func:`fit_grid` panel from fitted parameters.

    Args:
      title: panel title; ``failure`` (why the fit was rejected), when given, is added below it.
      t: (T,) times. curves: ``(acc (T,), shape, (a, b, c, d, *theta), label, color)`` per
        curve, ``shape`` the S-curve family (:mod:`linear_grok.scurves`); a NaN ``a`` (no fit)
        draws the data alone.
    """
    drawn = [(acc, get_shape(shape).curve(t, *params) if np.isfinite(params[0]) else None,
              params[1], label, color) for acc, shape, params, label, color in curves]
    return {"title": title + (f"\nfailed: {failure}" if failure else ""), "t": t, "curves": drawn}


def fit_grid(panels: list[dict], xlabel: str, suptitle: str, path, cols: int = 3) -> None:
    """Example fits on a grid of panels, saved to ``path``.

    Each panel is ``{"title": str, "t": (T,), "curves": [(acc, fitted | None, jump, label,
    color), ...]}``, drawn with :func:`plot_fit`.
    """
    cols = min(cols, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        for acc, fitted, jump, label, color in panel["curves"]:
            plot_fit(ax, panel["t"], acc, fitted, jump, label, color)
        ax.set_title(panel["title"], fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=6, loc="lower right")
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(suptitle, fontsize=9)
    save(fig, path)


def plot_measure(ax, t, acc_train, acc_test, m: GrokkingMeasure, log_time: bool = False,
                 title: str | None = None) -> None:
    """Train and test curves with their fits (resolution-limited ones too), each over its fit
    window; the title gives the measures or the failure."""
    for acc, fit, label, color in ((acc_train, m.train, "train", "tab:blue"),
                                   (acc_test, m.test, "test", "tab:orange")):
        fitted = None
        if fit.ok or fit.limited:
            idx = np.arange(np.shape(t)[-1])
            fitted = np.where((idx >= fit.start) & (idx < fit.end), fit.predict(t), np.nan)
        plot_fit(ax, t, acc, fitted, fit.jump_time, label, color)
    if log_time:
        ax.set_xscale("log")
    ax.set_xlabel("time")
    ax.set_ylabel("accuracy")
    text = (f"gap {m.relative_gap:.3g}, R_rel {m.relative_sharpness:.3g}, "
            f"R_abs {m.absolute_sharpness:.3g}" if m.ok else f"failed: {m.reason}")
    if m.ok and m.resolution:
        text += f" (grid-limited: {m.resolution})"
    ax.set_title(text if title is None else f"{title}\n{text}", fontsize=8)
    ax.legend(fontsize=6, loc="lower right")


def plot_trend(ax, gap, sharpness, label: str, trend: PowerLaw | None = None,
               loglog: bool = False, style: str = "o-", color: str | None = None,
               gap_err=None, sharpness_err=None) -> None:
    """Sharpness against relative gap; with ``trend``, its fitted power law as a dashed line;
    with ``gap_err``/``sharpness_err`` ``(2, n)`` (down, up), confidence intervals as bars."""
    if gap_err is not None or sharpness_err is not None:
        ax.errorbar(gap, sharpness, xerr=gap_err, yerr=sharpness_err, fmt="none", ecolor=color,
                    elinewidth=0.7, alpha=0.45, capsize=0)
    order = np.argsort(gap)
    ax.plot(np.asarray(gap)[order], np.asarray(sharpness)[order], style, ms=3, lw=1,
            label=label, color=color)
    if trend is not None:
        x = np.geomspace(np.nanmin(gap), np.nanmax(gap), 50)
        ax.plot(x, trend(x), "--", lw=1, color=color,
                label=f"slope {trend.slope:.3f} ± {trend.slope_se:.3f}")
    positive = (np.asarray(gap) > 0) & (np.asarray(sharpness) > 0)
    if loglog and positive.any():
        ax.set_xscale("log")
        ax.set_yscale("log")
    if not positive.any():
        ax.text(0.5, 0.5, "no measured points", transform=ax.transAxes, ha="center")
    ax.set_xlabel("relative grokking gap  b_test/b_train − 1")


def robust_limits(ax, x, y, always=((), ())) -> int:
    """Linear axes that a few far outliers do not stretch: the limits hold every point within
    three interquartile ranges of the quartiles (Tukey's far-out fences) and every point of
    ``always`` (``(x, y)``, e.g. a theory curve); points beyond are drawn at the edge as black
    triangles and counted in a note. Returns how many were clipped."""
    x, y = np.ravel(x), np.ravel(y)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 4:
        return 0

    def bounds(v, extra):
        q1, q3 = np.percentile(v, [25, 75])
        inside = np.r_[v[(v >= q1 - 3 * (q3 - q1)) & (v <= q3 + 3 * (q3 - q1))], extra]
        inside = inside[np.isfinite(inside)]
        lo, hi = inside.min(), inside.max()
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-300)
        return lo - pad, hi + pad

    (x0, x1), (y0, y1) = bounds(x, np.ravel(always[0])), bounds(y, np.ravel(always[1]))
    out = (x < x0) | (x > x1) | (y < y0) | (y > y1)
    if out.any():
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.plot(np.clip(x[out], x0, x1), np.clip(y[out], y0, y1), "k^", ms=5, ls="none")
        ax.text(0.98, 0.02, f"{out.sum()} far point(s) drawn at the edge (▲)",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=6)
    return int(out.sum())


def save(fig, path) -> None:
    """Save a figure (PNG or PDF by suffix) with constrained layout (titles, labels and ticks
    kept apart) and no creation date (the same data give the same bytes), and close it. Written
    as results are (:func:`linear_grok.results.atomic_write`): whole or not at all, its folder
    created, the file's mode that of the user's new files."""
    fig.set_layout_engine("constrained")
    kind = "pdf" if str(path).endswith(".pdf") else "png"
    metadata = {"Software": None} if kind == "png" else {"CreationDate": None}
    try:
        atomic_write(Path(path), lambda fh: fig.savefig(fh, format=kind, dpi=130, metadata=metadata))
    finally:
        plt.close(fig)
