"""Figures of the lazy→rich setting: the authors' Figure 1, the α sweep's learning curves, its
gap–sharpness trend, and the authors' (α, ε) heat map; drawn from saved results."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from linear_grok.plotting import plot_trend, robust_limits, save
from linear_grok.results import load_results
from linear_grok.trends import TREND_ARRAYS, power_law_fit


def _caption(meta) -> str:
    c = meta["config"]
    return (f"D = {c['d_in']}, P = {c['n_train']}, N = {c['hidden']}, η = {c['lr_scale']:g}·N/α², "
            f"accuracy: squared error < {c['taus'][0]:g}·Var(y); preset {meta['preset']}")


def fig_losses(arrays, meta, path: Path) -> Path:
    """The authors' Figure 1: train and test loss of the network and of its linearisation, and
    the test MSE of regression with the initial kernel, for α = 1 (or the α nearest 1)."""
    i = int(np.argmin(np.abs(np.log(arrays["alpha"]))))
    steps = arrays["step"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(steps, arrays["rich_train_loss"][i, 0, 0], "--", color="tab:blue", label="train loss")
    ax.plot(steps, arrays["rich_test_loss"][i, 0, 0], "-", color="tab:blue", label="test loss")
    ax.plot(steps, arrays["lazy_train_loss"][i, 0, 0], "--", color="k", lw=1, label="linearised, train")
    ax.plot(steps, arrays["lazy_test_loss"][i, 0, 0], "-", color="k", lw=1, label="linearised, test")
    ax.plot(steps, arrays["rich_pop_loss"][i, 0, 0], ":", color="tab:blue", lw=1,
            label="population loss (closed form)")
    ax.axhline(arrays["kernel_test_mse"][i, 0, 0], color="tab:red", lw=1, label="K₀ regression MSE")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("GD steps")
    ax.set_ylabel("MSE")
    ax.legend(fontsize=7)
    ax.set_title(f"α = {arrays['alpha'][i]:g}, ε = {arrays['epsilon'][0]:g} — {_caption(meta)}",
                 fontsize=7)
    save(fig, path)
    return path


def fig_alpha_sweep(arrays, meta, path: Path) -> Path:
    """Learning curves of every α (first ε and seed): losses and accuracies."""
    steps = arrays["step"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, arrays["alpha"].size))
    for i, alpha in enumerate(arrays["alpha"]):
        for ax, key in ((axes[0], "loss"), (axes[1], "acc")):
            tr, te = arrays[f"rich_train_{key}"][i, 0, 0], arrays[f"rich_test_{key}"][i, 0, 0]
            if key == "acc":
                tr, te = tr[..., 0], te[..., 0]
            ax.plot(steps, tr, "--", color=colors[i], lw=1)
            ax.plot(steps, te, "-", color=colors[i], label=f"α = {alpha:g}")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("MSE (-- train, — test)")
    axes[1].set_ylabel("accuracy (-- train, — test)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("GD steps")
        ax.legend(fontsize=7)
    fig.suptitle(f"Lazy→rich: the α sweep at ε = {arrays['epsilon'][0]:g} — {_caption(meta)}",
                 fontsize=9)
    save(fig, path)
    return path


def fig_trend(arrays, meta, path: Path) -> Path:
    """Relative sharpness against relative gap across α, fitted on linear and on log time."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, prefix, name in ((axes[0], "", "linear time"), (axes[1], "log_", "log time")):
        ok = arrays[f"{prefix}ok"]
        gap, sharp = arrays[f"{prefix}relative_gap"][ok], arrays[f"{prefix}relative_sharpness"][ok]
        law = None
        if np.sum((gap > 0) & (sharp > 0)) >= 3:
            try:
                law = power_law_fit(gap, sharp)
            except ValueError:
                law = None
        plot_trend(ax, gap, sharp, f"runs (fits on {name})", trend=law, style="o",
                   color="tab:green")
        robust_limits(ax, gap, sharp)
        ax.set_ylabel("relative sharpness a_test/a_train")
        ax.set_title(f"fits on {name}; {int(ok.sum())} of {ok.size} runs measured", fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"Lazy→rich: sharpness against gap across α — {_caption(meta)}", fontsize=9)
    save(fig, path)
    return path


def draw(path, figdir) -> list[Path]:
    """The three figures of a saved lazy→rich sweep."""
    arrays, meta = load_results(path, require=TREND_ARRAYS + ("step", "rich_test_loss"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("lazy_rich_")
    return [fig_losses(arrays, meta, figdir / f"lazy_rich_fig1_{tag}.png"),
            fig_alpha_sweep(arrays, meta, figdir / f"lazy_rich_alpha_sweep_{tag}.png"),
            fig_trend(arrays, meta, figdir / f"lazy_rich_trend_{tag}.png")]


def _heatmap_caption(meta) -> str:
    c = meta["config"]
    return (f"D = {c['d_in']}, P = {c['n_train']}, N = {c['hidden']}, {c['n_test']} test samples, "
            f"η = {c['lr_scale']:g}·N/α², stop: |Δloss| < {c['tol']:g} over {c['lookback'] - 1} "
            f"steps or {c['max_steps']} steps; level {c['level']:g}; preset {meta['preset']}, "
            f"{meta.get('seconds', float('nan')):.0f} s")


def fig_heatmap(arrays, meta, path: Path) -> Path:
    """The authors' heat map: amount of grokking over (ε, α) on a log colour scale, beside the step
    at which their rule stopped each run. Grey: no value on a log scale (a loss never crossed the
    level, or no delay). Marked: runs whose test loss never crossed the level before the stop (○;
    their formula counts them 0), no delay (□), runs stopped by the step cap (▲), diverged (×)."""
    alpha, eps, amount = arrays["alpha"], arrays["epsilon"], arrays["amount"]
    cols, rows = np.meshgrid(np.arange(eps.size), np.arange(alpha.size))
    marks = ((~np.isfinite(amount) & ~arrays["diverged"], "o",
              "a loss never below the level before the stop (their formula: 0)"),
             (np.isfinite(amount) & (amount <= 0), "s", "no delay (0)"),
             (arrays["capped"], "^", "stopped by the step cap"),
             (arrays["diverged"], "x", "diverged"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")  # before colorbars
    for ax, values, label in ((axes[0], amount, "amount of grokking t_test − t_train [steps]"),
                              (axes[1], arrays["stop_step"].astype(float),
                               "step at which the rule stopped the run")):
        positive = values[np.isfinite(values) & (values > 0)]
        low, high = (positive.min(), positive.max()) if positive.size else (1.0, 10.0)
        norm = LogNorm(low, high) if high > low else LogNorm(low / 2, high * 2)
        shown = np.ma.masked_where(~np.isfinite(values) | (values <= 0), values)
        mesh = ax.pcolormesh(np.arange(eps.size + 1) - 0.5, np.arange(alpha.size + 1) - 0.5, shown,
                             norm=norm, cmap=plt.get_cmap("OrRd").with_extremes(bad="0.85"))
        fig.colorbar(mesh, ax=ax, label=label)
        for mask, marker, name in marks:
            if mask.any():
                ax.plot(cols[mask], rows[mask], marker, mfc="none", mec="tab:blue", ms=5, ls="",
                        label=name)
        ax.set_xticks(np.arange(eps.size), [f"{e:g}" for e in eps], fontsize=7, rotation=60)
        ax.set_yticks(np.arange(alpha.size), [f"{a:g}" for a in alpha], fontsize=7)
        ax.set_xlabel("ε (kernel alignment)")
        ax.set_ylabel("α (laziness)")
    if axes[0].get_legend_handles_labels()[0]:  # below the panels, hiding no cell
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4,
                   fontsize=7)
    fig.suptitle(f"Lazy→rich: the authors' (α, ε) heat map — {_heatmap_caption(meta)}", fontsize=8)
    save(fig, path)
    return path


HEATMAP_ARRAYS = ("alpha", "epsilon", "amount", "stop_step", "capped", "diverged")


def draw_heatmap(path, figdir) -> list[Path]:
    """The figure of a saved heat map (``results/lazy_rich_heatmap_<preset>[_<hash>]``)."""
    arrays, meta = load_results(path, require=HEATMAP_ARRAYS)
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    return [fig_heatmap(arrays, meta, figdir / f"{Path(path).name}.png")]


