"""Kumar et al.'s Figure 2 from a saved ``kumar_modular`` result: (a) accuracies and the weight
norm of the α = 1 run (the α nearest 1) over epochs, (b) its losses, (c) the α sweep's
accuracies. Seeds beyond the first are drawn thin."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.plotting import save
from linear_grok.results import load_results

__all__ = ["draw"]


def _pair(ax, epoch, arrays: dict, i: int, kind: str, labels: tuple[str, str]) -> None:
    """Train (dashed) and test ``kind`` of α index ``i``, every seed (the first thick)."""
    for k in range(arrays["seed"].size):
        for which, style, label in zip(("train", "test"), ("--", "-"), labels, strict=True):
            ax.plot(epoch, arrays[f"{which}_{kind}"][i, k], style, color="tab:blue",
                    lw=1.6 if k == 0 else 0.6, label=label if k == 0 else None)


def draw(path, figdir) -> list[Path]:
    """``kumar_fig2_<tag>.png``."""
    arrays, meta = load_results(path, require=("epoch", "train_acc", "weight_norm", "alpha"))
    cfg = meta["config"]
    epoch, alphas = arrays["epoch"], arrays["alpha"]
    i = int(np.argmin(np.abs(np.log(alphas))))  # the α nearest 1
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    _pair(ax, epoch, arrays, i, "acc", ("train accuracy", "test accuracy"))
    ax.set_ylabel("accuracy")
    norm_ax = ax.twinx()
    for k in range(arrays["seed"].size):
        norm_ax.plot(epoch, arrays["weight_norm"][i, k], ":", color="tab:green",
                     lw=1.6 if k == 0 else 0.6, label="‖W1‖ + ‖W2‖" if k == 0 else None)
    norm_ax.set_ylabel("weight norm ‖W1‖ + ‖W2‖", color="tab:green")
    lines = ax.get_legend_handles_labels()
    extra = norm_ax.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=8, loc="center right")
    ax.set_title(f"(a) α = {alphas[i]:g}: accuracy and weight norm", fontsize=10)
    ax = axes[1]
    _pair(ax, epoch, arrays, i, "loss", ("train loss (/α²)", "test loss"))
    ax.set_yscale("log")
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    ax.set_title(f"(b) α = {alphas[i]:g}: losses", fontsize=10)
    ax = axes[2]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, alphas.size))
    for j, alpha in enumerate(alphas):
        ax.plot(epoch, arrays["train_acc"][j, 0], "--", color=colors[j], lw=0.9)
        ax.plot(epoch, arrays["test_acc"][j, 0], color=colors[j], lw=1.4, label=f"α = {alpha:g}")
    ax.set_ylabel("accuracy (dashed: train)")
    ax.legend(fontsize=8)
    ax.set_title("(c) the α sweep (first seed)", fontsize=10)
    for ax in axes:
        ax.set_xlabel("epochs (full-batch GD steps)")
    fig.suptitle(f"Kumar et al. Figure 2: {cfg['op']} mod {cfg['p']}, {cfg['train_fraction']:.0%} "
                 f"of pairs for training, N = {cfg['hidden']}, η = {cfg['lr']:g}/α², MSE, "
                 f"quadratic activation, no weight decay; preset {meta['preset']}", fontsize=10)
    out = Path(figdir) / f"kumar_fig2_{Path(path).name.removeprefix('kumar_modular_')}.png"
    save(fig, out)
    return [out]
