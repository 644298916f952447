"""Levi et al.'s Figures 1, 2, 3 and 6 from a saved ``levi_figures`` result: losses (top) and
accuracies (bottom) against GD steps per case, the discrete-GD MP theory (lines) beside the
simulated seeds (thin), 95 %-accuracy markers on both."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.plotting import save
from linear_grok.results import load_results
from linear_grok.settings.linear.levi import FIGURES, MARKER_LEVEL

__all__ = ["draw"]

KNOB = {"fig1": ("lam", "λ"), "fig2": ("d_out", "d_out"), "fig3": ("gamma", "γ"), "fig6": ("lam", "λ")}
TITLE = {"fig1": "Figure 1: the aspect ratio λ", "fig2": "Figure 2: the output dimension",
         "fig3": "Figure 3: weight decay", "fig6": "Figure 6: long-time approximations"}


def fig_cases(arrays: dict, meta: dict, figure: str, path: Path) -> Path:
    """One figure: a column per case, losses above accuracies."""
    cfg = meta["config"]
    steps = arrays["step"][1:]  # a log axis: the record at step 0 is left out
    key, symbol = KNOB[figure]
    values = arrays[f"{figure}_{key}"]
    fig, axes = plt.subplots(2, values.size, figsize=(3.6 * values.size, 6.4), squeeze=False)
    forms = (("discrete", "-", "discrete-GD MP theory"),) + (
        (("long_time", ":", "long-time forms (12)–(13)"),) if figure == "fig6" else ())
    for i, value in enumerate(values):
        for row, kind in enumerate(("loss", "acc")):
            ax = axes[row, i]
            for which, color in (("train", "tab:blue"), ("test", "tab:orange")):
                sims = arrays[f"{figure}_sim_{which}_{kind}"][i][:, 1:]
                ax.plot(steps, sims.T, color=color, lw=0.6, alpha=0.35)
                for form, style, label in forms:
                    ax.plot(steps, arrays[f"{figure}_{form}_{which}_{kind}"][i, 1:], style,
                            color="k" if which == "train" else "0.35", lw=1.2,
                            label=f"{label}, {which}" if row == 0 and i == 0 else None)
                if kind == "acc":
                    t95 = arrays[f"{figure}_discrete_t95_{which}"][i]
                    if np.isfinite(t95):
                        ax.axvline(t95, color=color, lw=0.8, ls="--")
            ax.set_xscale("log")
            if kind == "loss":
                ax.set_yscale("log")
                top = np.nanmax(arrays[f"{figure}_discrete_train_loss"][i])
                ax.set_ylim(max(ax.get_ylim()[0], 1e-14 * top), 10 * top)  # below: round-off
                ax.set_title(f"{symbol} = {value:g}", fontsize=9)
            else:
                ax.axhline(MARKER_LEVEL, color="0.6", lw=0.6)
                ax.set_ylim(-0.02, 1.02)
                ax.set_xlabel("GD steps")
    axes[0, 0].set_ylabel("loss (blue train, orange test; thin: seeds)")
    axes[1, 0].set_ylabel(f"accuracy at ε = {cfg['eps']:g} (dashed: {MARKER_LEVEL:.0%})")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(f"Levi et al. {TITLE[figure]} — d_in = {cfg['d_in']}, η = {cfg['eta']:g}, "
                 f"{len(cfg['seeds'])} seeds; preset {meta['preset']}", fontsize=9)
    save(fig, path)
    return path


def draw(path, figdir) -> list[Path]:
    """The four figures of a saved result: ``levi_<figure>_<tag>.png``, ``<tag>`` the result's
    preset (and configuration hash)."""
    arrays, meta = load_results(path, require=("step", "fig1_sim_test_acc"))
    tag = Path(path).name.removeprefix("levi_figures_")
    return [fig_cases(arrays, meta, f, Path(figdir) / f"levi_{f}_{tag}.png") for f in FIGURES]
