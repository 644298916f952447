"""The figure of theory against simulation (``experiments.compare``): losses and accuracies of
the discrete-GD Marchenko–Pastur average beside simulated seeds, per λ."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from linear_grok.plotting import save
from linear_grok.results import load_results


def fig_compare(res: dict, config: dict, path: Path) -> Path:
    """Losses (top) and accuracies (bottom) per λ: simulated seeds against the theory (dashed)."""
    lams = res["lam"]
    fig, axes = plt.subplots(2, lams.size, figsize=(3.2 * lams.size, 6.2), squeeze=False)
    steps = res["step"]
    for i, lam in enumerate(lams):
        for row, kind in enumerate(("loss", "acc")):
            ax = axes[row, i]
            for which, color in (("train", "tab:blue"), ("test", "tab:orange")):
                ax.plot(steps[1:], res[f"sim_{which}_{kind}"][i, :, 1:].T, color=color, lw=0.5,
                        alpha=0.4)
                ax.plot(steps[1:], res[f"theory_{which}_{kind}"][i, 1:], "k--", lw=1)
            ax.set_xscale("log")
            if kind == "loss":
                ax.set_yscale("log")
                ax.set_title(f"λ = {lam:g}", fontsize=9)
            else:
                ax.set_xlabel("GD steps")
    axes[0, 0].set_ylabel("loss (blue train, orange test; dashed MP theory)")
    axes[1, 0].set_ylabel(f"accuracy at ε = {config['eps']:g}")
    fig.suptitle(f"Simulation ({config['seeds']} seeds, d_in = {config['d_in']}, d_out = {config['d_out']}, "
                 f"η = {config['eta']:g}) against discrete-GD MP theory", fontsize=9)
    save(fig, path)
    return path


def draw(path, figdir) -> list[Path]:
    """The comparison figure of a saved ``compare`` result: ``compare_theory_simulation_<tag>.png``
    with ``<tag>`` the result's preset (and configuration hash)."""
    res, meta = load_results(path, require=("lam", "step"))
    tag = Path(path).name.removeprefix("compare_")
    return [fig_compare(res, meta["config"], Path(figdir) / f"compare_theory_simulation_{tag}.png")]
