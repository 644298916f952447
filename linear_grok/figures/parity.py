"""Figures of the concealed-parity sweep: the sharpness paper's Figures 2, 4 and 5, drawn from a
saved result (``results/parity_sweep_<preset>[_<hash>]``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.pipeline import interval_bars, saved_fit
from linear_grok.plotting import fit_grid, fit_label, fit_panel, plot_trend, robust_limits, save
from linear_grok.results import load_results
from linear_grok.settings import parity
from linear_grok.trends import TREND_ARRAYS, power_law_fit


def procedure_label(meta) -> str:
    """The preset and its procedure in a few words, for figure titles."""
    proc = meta.get("procedure")
    if proc is None:
        return f"preset {meta['preset']}, procedure not recorded (older result file)"
    return (f"preset {meta['preset']}: inputs {proc['inputs']}, bias {proc['bias_init']}, "
            f"{proc['accuracy']} accuracy, spurious {proc['spurious']}")


def fig_trends(arrays, meta, path: Path, loglog: bool) -> Path:
    """Figure 2 (linear axes) or Figure 5 (log-log with power laws): each dot a run."""
    ok = arrays["ok"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "relative_sharpness", "relative sharpness a_val/a_train"),
                           (axes[1], "absolute_sharpness", "absolute sharpness a_val/(2√π) [1/epoch]")):
        trend = None
        if loglog:
            try:
                trend = power_law_fit(arrays["relative_gap"][ok], arrays[key][ok])
            except ValueError as err:
                ax.text(0.02, 0.02, f"no power law: {err}", transform=ax.transAxes, fontsize=6)
        plot_trend(ax, arrays["relative_gap"][ok], arrays[key][ok], "runs", trend=trend,
                   loglog=loglog, style="o", color="tab:blue",
                   gap_err=interval_bars(arrays, "relative_gap", ok),
                   sharpness_err=interval_bars(arrays, key, ok))
        if "relative_gap_seeds_mean" in arrays:  # one point per input size: the seeds' mean
            first = np.unique(arrays["input_size"], return_index=True)[1]
            first = first[np.isfinite(arrays["relative_gap_seeds_mean"][first])
                          & np.isfinite(arrays[f"{key}_seeds_mean"][first])]
            plot_trend(ax, arrays["relative_gap_seeds_mean"][first], arrays[f"{key}_seeds_mean"][first],
                       "mean over seeds (interval over seeds)", loglog=loglog, style="s",
                       color="tab:red", gap_err=interval_bars(arrays, "relative_gap", first, "seeds"),
                       sharpness_err=interval_bars(arrays, key, first, "seeds"))
        if not loglog:
            robust_limits(ax, arrays["relative_gap"][ok], arrays[key][ok])
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    n_fail = int((~ok).sum())
    fig.suptitle(f"Concealed parity MLP ({procedure_label(meta)}): "
                 f"{ok.sum()} runs" + (f", {n_fail} excluded (no jump or failed fit)" if n_fail else ""),
                 fontsize=9)
    save(fig, path)
    return path


def fig_examples(arrays, meta, path: Path, n_examples: int = 6) -> Path:
    """Figure 4: accuracy curves and fits of the first seed's runs at input sizes divisible by
    3, the first six (the authors' selection: 27, 30, ..., 42), or, in sweeps with fewer such
    sizes, of runs spread over the input sizes."""
    first = np.flatnonzero(arrays["seed"] == arrays["seed"].min())
    picks = first[arrays["input_size"][first] % 3 == 0][:n_examples]
    if picks.size < n_examples:
        picks = first[np.unique(np.linspace(0, first.size - 1, n_examples).round().astype(int))]
    t = arrays["epoch"]
    panels = []
    for i in picks:
        curves = [(arrays[key][i], *saved_fit(arrays, w, i, parity.CHANCE), label, color)
                  for w, key, label, color in (("train", "train_acc", "train", "tab:blue"),
                                               ("test", "val_acc", "val", "tab:orange"))]
        failure = "" if arrays["ok"][i] else str(arrays["reason"][i])[:50]
        panels.append(fit_panel(f"input size {arrays['input_size'][i]}, seed {arrays['seed'][i]}",
                                t, curves, failure))
    fit_grid(panels, "epoch", f"{fit_label(arrays)}, concealed parity ({procedure_label(meta)})", path)
    return path


def draw(path, figdir) -> list[Path]:
    """Figures 2, 4 and 5 from a saved parity sweep."""
    arrays, meta = load_results(path, require=TREND_ARRAYS + ("epoch", "train_acc", "val_acc"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("parity_sweep_")
    return [fig_trends(arrays, meta, figdir / f"parity_fig2_{tag}.png", loglog=False),
            fig_examples(arrays, meta, figdir / f"parity_fig4_{tag}.png"),
            fig_trends(arrays, meta, figdir / f"parity_fig5_{tag}.png", loglog=True)]


