"""Figures of early prediction: each early feature against the final validation accuracy, and
the classifiers' AUC against the window; drawn from a saved result."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.early import outcomes, window_predictors
from linear_grok.plotting import save
from linear_grok.results import load_results


def fig_features(arrays, meta, path: Path, k: int = 400) -> Path:
    """Each feature of the first ``k`` steps against the final validation accuracy, one dot a run
    (the slides' "energy at 400 steps vs final test accuracy"), coloured by training fraction,
    hollow where the run did not grok."""
    windows = (meta.get("config") or meta["grid"])["windows"]  # "grid": files from before 0.3
    k = k if k in windows else max(windows)
    preds, outs = window_predictors(arrays, k), outcomes(arrays)
    names = ("activity", "mobility", "complexity", "band_high", "band_low", "early_train_acc")
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), layout="constrained")
    fractions = np.unique(arrays["training_fraction"])
    colors = plt.cm.viridis(np.linspace(0, 0.9, fractions.size))
    res = meta["analysis"]["windows"][str(k)]["spearman"]
    for ax, name in zip(axes.ravel(), names, strict=True):
        for frac, color in zip(fractions, colors, strict=True):
            for grok, face in ((True, color), (False, "none")):
                sel = (arrays["training_fraction"] == frac) & (outs["grokked"].astype(bool) == grok)
                ax.scatter(preds[name][sel], outs["final_val_acc"][sel], s=22, facecolors=face,
                           edgecolors=color, label=f"r = {frac:.2f}" if grok else None)
        rho, lo, hi = (np.float64(res[name]["final_val_acc"][v] or np.nan)
                       for v in ("rho", "lo", "hi"))
        ax.set_title(f"{name}: ρ = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}]", fontsize=9)
        if name == "activity":
            ax.set_xscale("log")
        ax.set_xlabel(f"{name}, first {k} steps")
        ax.set_ylabel("final validation accuracy")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=fractions.size, fontsize=8,
               title="training fraction (hollow: did not grok within the budget)", title_fontsize=8)
    fig.suptitle(f"Early training-loss spectrum vs outcome: "
                 f"{meta['analysis'].get('setting', 'concealed parity')}, "
                 f"{meta['analysis']['n_runs']} runs (preset {meta['preset']})", fontsize=10)
    save(fig, path)
    return path


def fig_auc(meta, path: Path) -> Path:
    """Cross-validated ROC AUC of "groks within the budget" against the window K, per classifier,
    with bootstrap intervals; ½ is chance."""
    windows = meta["analysis"]["windows"]
    ks = np.array([int(k) for k in windows])
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, name in enumerate(next(iter(windows.values()))["auc"]):
        # The sidecar stores NaN as null: float arrays bring it back.
        auc, lo, hi = (np.array([windows[str(k)]["auc"][name][v] for k in ks], dtype=np.float64)
                       for v in ("auc", "lo", "hi"))
        shift = ks * (1 + 0.04 * (j - 1))  # side by side on the log axis
        ax.errorbar(shift, auc, yerr=[auc - lo, hi - auc], marker="o", capsize=3, label=name)
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(ks.min() / 1.4, ks.max() * 1.4)  # also when every AUC is undefined
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("window K (optimisation steps from the start)")
    ax.set_ylabel("ROC AUC, grokked within budget")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.set_title(f"Predicting grokking from the first K steps ({meta['analysis']['n_runs']} runs, "
                 f"{meta['analysis']['n_grokked']} grok; preset {meta['preset']})", fontsize=9)
    save(fig, path)
    return path


def draw(path, figdir) -> list[Path]:
    """Both figures from a saved result."""
    arrays, meta = load_results(path, require=("step_loss", "step_acc", "val_acc", "ok"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("early_prediction_")  # parity: early_features_<preset>
    return [fig_features(arrays, meta, figdir / f"early_features_{tag}.png"),
            fig_auc(meta, figdir / f"early_auc_{tag}.png")]


