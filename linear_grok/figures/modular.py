"""Modular arithmetic's figures from saved results: Kumar et al.'s Figure 2 (``kumar_modular``:
(a) accuracies and the weight norm of the α = 1 run (the α nearest 1) over epochs, (b) its
losses, (c) the α sweep's accuracies; seeds beyond the first drawn thin) and the AdamW sweep
(``modular_adamw``: accuracies, gap and sharpness over the training fraction and the weight
decay, and the grokking time's law ``a·r^(−γ) + b``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.plotting import save
from linear_grok.results import load_results
from linear_grok.settings.modular.adamw import time_law, time_laws

__all__ = ["draw", "draw_adamw"]


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


def draw_adamw(path, figdir) -> list[Path]:
    """``modular_adamw_<tag>.png``, for the first learning rate and seed: (a) train (dashed) and
    test accuracy of every training fraction at the largest weight decay, (b) the relative gap
    and (c) the relative sharpness against the training fraction, one line per weight decay,
    (d) the test jump time ``b_test`` against the fraction with its fitted law."""
    arrays, meta = load_results(path, require=("step", "train_acc", "test_acc", "train_fraction",
                                               "weight_decay", "b_test", "ok"))
    cfg = meta["config"]
    step, r, wds = arrays["step"], arrays["train_fraction"], arrays["weight_decay"]
    ok = arrays["ok"][0, :, :, 0]
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.4))
    ax = axes[0]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, r.size))
    for f in range(r.size):
        ax.plot(step + 1, arrays["train_acc"][0, -1, f, 0], "--", color=colors[f], lw=0.8)
        ax.plot(step + 1, arrays["test_acc"][0, -1, f, 0], color=colors[f], lw=1.4, label=f"r = {r[f]:g}")
    ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("accuracy (dashed: train)")
    ax.legend(fontsize=7)
    ax.set_title(f"(a) accuracies, weight decay {wds[-1]:g}", fontsize=10)
    wd_colors = plt.get_cmap("plasma")(np.linspace(0, 0.85, wds.size))
    for ax, key, label in ((axes[1], "relative_gap", "relative gap"),
                           (axes[2], "relative_sharpness", "relative sharpness a_test/a_train"),
                           (axes[3], "b_test", "test jump time b_test (steps)")):
        for j in range(wds.size):
            y = np.where(ok[j], arrays[key][0, j, :, 0], np.nan)
            ax.plot(r, y, "o-", color=wd_colors[j], label=f"weight decay {wds[j]:g}")
        ax.set_xlabel("training fraction r")
        ax.set_ylabel(label)
        ax.set_yscale("log")
    laws = [law for law in time_laws(arrays) if law["lr"] == arrays["lr"][0]
            and law["seed"] == arrays["seed"][0] and not law["reason"]]
    fine = np.linspace(r.min(), r.max(), 100)
    for law in laws:
        j = int(np.flatnonzero(wds == law["weight_decay"])[0])
        axes[3].plot(fine, time_law(fine, law["a"], law["gamma"], law["b"]), ":", color=wd_colors[j],
                     label=f"{law['a']:.3g}·r^−{law['gamma']:.2f} + {law['b']:.3g}")
    axes[1].set_title("(b) relative gap", fontsize=10)
    axes[2].set_title("(c) relative sharpness", fontsize=10)
    axes[3].set_title("(d) grokking time and its law a·r^(−γ) + b", fontsize=10)
    for ax in axes[1:]:
        ax.legend(fontsize=7)
    model = (f"transformer, width {cfg['hidden']}, {cfg['heads']} heads, {cfg['layers']} blocks"
             if cfg.get("model") == "transformer" else f"quadratic one-hot MLP, N = {cfg['hidden']}")
    fig.suptitle(f"{cfg['op']} mod {cfg['p']}: {model}, {cfg.get('loss', 'mse').upper()}, "
                 f"full-batch AdamW lr {arrays['lr'][0]:g}, betas ({cfg['b1']:g}, {cfg['b2']:g}); "
                 f"seed {arrays['seed'][0]}, preset {meta['preset']}", fontsize=10)
    out = Path(figdir) / f"{Path(path).name}.png"
    save(fig, out)
    return [out]
