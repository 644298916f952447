"""The cross-knob figure from a saved ``knob_sweep`` result: relative sharpness against relative
gap for every knob of the linear model on one log-log plot, each knob with its power law, the
ε-law of the base λ as a line, and its small-gap limit (docs/theory.md §21)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.plotting import save
from linear_grok.results import load_results
from linear_grok.settings.linear.knobs import KNOBS, SYMBOL, small_gap_coefficient
from linear_grok.trends import power_law_fit

__all__ = ["draw"]

STYLE = {"lam": ("tab:red", "o"), "d_out": ("tab:blue", "s"), "gamma": ("tab:green", "^"),
         "eps": ("k", "D"), "init_scale": ("tab:purple", "v")}


def draw(path, figdir) -> list[Path]:
    """``knob_sweep_<tag>.png``: fit-free measures (left) and S-curve fits (right)."""
    arrays, meta = load_results(path, require=("knob", "nofit_relative_gap", "law_curve_eps"))
    tag = Path(path).name.removeprefix("knob_sweep_")
    cfg = meta["config"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    law_gap, law_rel = arrays["law_curve_relative_gap"], arrays["law_curve_relative_sharpness"]
    for ax, prefix, title in ((axes[0], "nofit_", "fit-free: times and slopes at A = ½"),
                              (axes[1], "", "S-curve fits (c = d = ½)")):
        ax.plot(law_gap, law_rel, color="0.6", lw=4, alpha=0.5, zorder=0,
                label=f"ε-law at λ = {cfg['lam']:g}, fit-free (ε, d_out, α fall on it)")
        small = law_gap < 0.3
        k = small_gap_coefficient(cfg["lam"])
        ax.plot(law_gap[small], 1.0 - k * law_gap[small] ** 2, ":", color="0.3", lw=1,
                label=f"small-gap limit 1 − {k:.3f} G²")
        for knob in KNOBS:
            mine = arrays["knob"] == knob
            gap = np.ravel(arrays[f"{prefix}relative_gap"])[mine]
            rel = np.ravel(arrays[f"{prefix}relative_sharpness"])[mine]
            color, marker = STYLE[knob]
            label = f"{SYMBOL[knob]}"
            try:
                law = power_law_fit(gap, rel)
                x = np.geomspace(np.nanmin(gap[gap > 0]), np.nanmax(gap), 50)
                ax.plot(x, law(x), "--", color=color, lw=0.9)
                label += f": slope {law.slope:.2f} (R² {law.r2:.2f})"
            except ValueError:
                pass
            ax.scatter(gap, rel, s=22, color=color, marker=marker, label=label,
                       facecolors="none" if knob in ("d_out", "init_scale") else color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("relative gap G = t_test/t_train − 1")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("relative sharpness R = a_test/a_train")
    values = ", ".join(f"{SYMBOL[k]} = {cfg[k]:g}" for k in KNOBS)
    fig.suptitle(f"One knob at a time from {values} (η = {cfg['eta']:g}); exact gradient-flow "
                 f"theory; preset {meta['preset']}", fontsize=10)
    out = Path(figdir) / f"knob_sweep_{tag}.png"
    save(fig, out)
    return [out]
