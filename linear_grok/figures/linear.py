"""Figures of the linear model's λ sweep (the sharpness paper's Figures 1, 3 and 6), and exact
theory against simulation on one λ grid; drawn from saved results
(``results/lambda_sweep_<preset>_<mode>[_<hash>]``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.pipeline import interval_bars, saved_fit
from linear_grok.plotting import fit_grid, fit_label, fit_panel, plot_trend, robust_limits, save
from linear_grok.results import load_results
from linear_grok.trends import TREND_ARRAYS, power_law_fit

MODE_LABEL = {
    "paper": "paper procedure: λ>1, long-time forms without plateau",
    "exact": "exact MP theory, mirrored λ<1 grid",
    "simulate": "simulated GD (spectral), mirrored λ<1 grid",
}


def _caption(meta: dict) -> str:
    cfg = meta["config"]
    text = (f"ε={cfg['eps']:g}, η={cfg['eta']:g}, d_out={cfg['d_out']}; preset {meta['preset']}")
    if meta["mode"] == "simulate":
        text += f", d_in={cfg['d_in']}, {len(cfg['seeds'])} seeds"
    return text


def _lambda_label(arrays, i) -> str:
    lam, lam_p = arrays["lam"][i], arrays["lam_paper"][i]
    return f"λ={lam:.4f}" + ("" if lam == lam_p else f" (paper λ={lam_p:.4f})")


def fig_trends(arrays, meta, path: Path, loglog: bool = False) -> Path:
    """Figure 1 (linear axes) or Figure 6 (log-log with power laws): both measures vs gap."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ok = arrays["ok"]
    gap = np.where(ok, arrays["relative_gap"], np.nan)
    for ax, key, name in ((axes[0], "relative_sharpness", "relative sharpness a_test/a_train"),
                          (axes[1], "absolute_sharpness", "absolute sharpness a_test/√π  [1/step]")):
        y = np.where(ok, arrays[key], np.nan)
        trend = None
        if loglog:
            try:
                trend = power_law_fit(gap[ok], y[ok])
            except ValueError as err:  # too few usable points: draw the data without a law
                ax.text(0.02, 0.02, f"no power law: {err}", transform=ax.transAxes, fontsize=6)
        multi = gap.shape[1] > 1
        if multi:
            ax.plot(gap.ravel(), y.ravel(), ".", ms=3, alpha=0.4, color="tab:blue", label="each seed")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are failed λ
            gm, ym = np.nanmean(gap, axis=1), np.nanmean(y, axis=1)
        keep = np.isfinite(gm) & np.isfinite(ym)
        # Bars: each run's bootstrap interval for one seed, the interval over seeds for several.
        over = "seeds" if multi else "replicates"
        plot_trend(ax, gm[keep], ym[keep], fit_label(arrays) + (" (seed mean)" if multi else ""),
                   trend=trend, loglog=loglog, color="tab:blue",
                   gap_err=interval_bars(arrays, "relative_gap", (keep, 0), over),
                   sharpness_err=interval_bars(arrays, key, (keep, 0), over))
        nofit_key = "nofit_relative" if key == "relative_sharpness" else "nofit_absolute"
        nf_gap, nf_y = arrays["nofit_gap"], arrays[nofit_key]
        keep = np.isfinite(nf_gap) & np.isfinite(nf_y)
        if keep.any():
            plot_trend(ax, nf_gap[keep], nf_y[keep], "theory at midpoint (no fit)", loglog=loglog,
                       style="-", color="tab:red")
        if not loglog:
            robust_limits(ax, gap, y, always=(nf_gap, nf_y))
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    n_fail = int((~ok).sum())
    fig.suptitle(f"Linear model — {MODE_LABEL[meta['mode']]}\n{_caption(meta)}"
                 + (f"; {n_fail} failed fits excluded" if n_fail else ""), fontsize=9)
    save(fig, path)
    return path


def fig_examples(arrays, meta, path: Path, n_examples: int = 6) -> Path:
    """Figure 3: data and fits for six λ spread over the grid (seed 0)."""
    lam = arrays["lam"]
    picks = np.unique(np.linspace(0, lam.size - 1, n_examples).round().astype(int))
    panels = []
    for i in picks:
        t = arrays["t"][i]
        curves = [(arrays[f"acc_{w}"][i, 0], *saved_fit(arrays, w, (i, 0), 0.0), w, color)
                  for w, color in (("train", "tab:blue"), ("test", "tab:orange"))]
        failure = "" if arrays["ok"][i, 0] else str(arrays["reason"][i, 0])
        panels.append(fit_panel(_lambda_label(arrays, i), t, curves, failure))
    fit_grid(panels, "GD steps", f"{fit_label(arrays)} — {MODE_LABEL[meta['mode']]}; {_caption(meta)}",
             path)
    return path


def draw(path, figdir) -> list[Path]:
    """Figures 1, 3 and 6 of one saved λ sweep."""
    arrays, meta = load_results(path, require=TREND_ARRAYS + ("lam", "t", "acc_train", "acc_test"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("lambda_sweep_")
    return [fig_trends(arrays, meta, figdir / f"linear_fig1_{tag}.png"),
            fig_examples(arrays, meta, figdir / f"linear_fig3_{tag}.png"),
            fig_trends(arrays, meta, figdir / f"linear_fig6_{tag}.png", loglog=True)]


def sweep_name(path) -> tuple[str, str, str]:
    """``(preset, mode, configuration hash or "")`` of a λ-sweep result named
    ``lambda_sweep_<preset>_<mode>[_<hash>]``."""
    parts = Path(path).name.removesuffix(".npz").split("_")[2:]
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""


def draw_theory_vs_simulation(exact, simulate, figdir) -> list[Path]:
    """Exact theory against simulation on the same λ grid, from one configuration's ``exact``
    and ``simulate`` results (paths without suffix)."""
    (th, th_meta), (sim, sim_meta) = (load_results(p, require=TREND_ARRAYS)
                                      for p in (exact, simulate))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, key in zip(axes[:2], ("relative_sharpness", "absolute_sharpness"), strict=True):
        for arrays, label, color in ((th, "exact theory (fit)", "tab:red"),
                                     (sim, "simulation (fit, each seed)", "tab:blue")):
            ok = arrays["ok"]
            ax.plot(arrays["relative_gap"][ok], arrays[key][ok], "." if arrays is sim else "-",
                    ms=3, color=color, label=label)
        robust_limits(ax, sim["relative_gap"][sim["ok"]], sim[key][sim["ok"]],
                      always=(th["relative_gap"][th["ok"]], th[key][th["ok"]]))
        ax.set_xlabel("relative grokking gap")
        ax.set_ylabel(key.replace("_", " "))
        ax.legend(fontsize=7)
    ax = axes[2]
    picks = np.unique(np.linspace(0, th["lam"].size - 1, 3).round().astype(int))
    for k, i in enumerate(picks):
        color = f"C{k}"
        lam_sim = np.flatnonzero(np.isclose(sim["lam"], th["lam"][i]))
        ax.plot(th["t"][i], th["acc_test"][i, 0], "-", color=color, lw=1.5,
                label=f"theory test, {_lambda_label(th, i)}")
        ax.plot(th["t"][i], th["acc_train"][i, 0], "--", color=color, lw=1)
        if lam_sim.size:
            j = lam_sim[0]
            ax.plot(sim["t"][j], sim["acc_test"][j].T, ".", ms=1, color=color, alpha=0.3)
    ax.set_xscale("log")
    ax.set_xlabel("GD steps")
    ax.set_ylabel("accuracy")
    ax.set_title("— test, -- train (theory); dots: simulated test", fontsize=8)
    ax.legend(fontsize=6)
    fig.suptitle(f"Theory vs simulation — {_caption(sim_meta)}. Finite d_in shifts the late-time "
                 "curves (smallest eigenvalues fluctuate around λ₋, docs/theory.md §9)", fontsize=9)
    preset, _, tag = sweep_name(exact)
    out = Path(figdir) / f"linear_theory_vs_simulation_{preset}{'_' + tag if tag else ''}.png"
    save(fig, out)
    return [out]


