"""Levi et al.'s Figures 1–4 and 6 from a saved ``levi_figures`` result: losses (top) and
accuracies (bottom) against GD steps per case, the discrete-GD MP theory (lines) beside the
simulated seeds (thin), 95 %-accuracy markers on both; Figure 4's phase diagrams."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok.plotting import save
from linear_grok.results import load_results
from linear_grok.settings.linear.levi import FIGURES, MARKER_LEVEL, subgrid
from linear_grok.settings.linear.phase import FIG4_PAIRS as PAIRS
from linear_grok.settings.linear.theory import accuracy

__all__ = ["draw", "draw_fig5"]

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


AXIS_LABEL = {"lam": "λ = d_in/N", "d_out": "d_out", "gamma": "weight decay γ"}


def fig_phase(arrays: dict, meta: dict, path: Path) -> Path:
    """Figure 4: log10 of the grokking time Δt = t_test − t_train (steps) over each pair of knobs,
    grey where the model does not grok (the test accuracy never reaches 95 %, or no delay); circles:
    the seeds' median Δt on a 3 × 3 subgrid, on the same colour scale (a circle that vanishes into
    its background agrees with the theory); crosses: the seeds do not grok within the simulated
    window."""
    cfg = meta["config"]
    pairs = [(x, y) for x, y in PAIRS if f"fig4_{x}_{y}_grok_time" in arrays]
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.4), squeeze=False)
    values = [np.log10(arrays[f"fig4_{x}_{y}_grok_time"]) for x, y in pairs]
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    norm = plt.Normalize(*(np.percentile(finite, [0, 100]) if finite.size else (0, 1)))
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    for ax, (x, y), value in zip(axes[0], pairs, values, strict=True):
        key = f"fig4_{x}_{y}"
        xs, ys = arrays[f"{key}_x"], arrays[f"{key}_y"]
        shown = np.ma.masked_where(~arrays[f"{key}_groks"].astype(bool), value)
        mesh = ax.pcolormesh(xs, ys, shown, norm=norm, cmap=cmap, shading="nearest")
        idx = subgrid(xs.size)
        with np.errstate(invalid="ignore"):
            sim = np.median(arrays[f"{key}_sim_t95_test"] - arrays[f"{key}_sim_t95_train"], axis=-1)
        gx, gy = np.meshgrid(xs[idx], ys[idx])
        ok = np.isfinite(sim) & (sim > 0)
        ax.scatter(gx[ok], gy[ok], c=np.log10(sim[ok]), norm=norm, cmap=cmap, s=70, edgecolors="k")
        ax.scatter(gx[~ok], gy[~ok], marker="x", color="tab:red", s=40)
        for axis, name in (("x", x), ("y", y)):
            if name != "lam":
                getattr(ax, f"set_{axis}scale")("log")
            getattr(ax, f"set_{axis}label")(AXIS_LABEL[name])
        fixed = {"lam": f"λ = {cfg['lam0']:g}", "d_out": "d_out = 1", "gamma": "γ = 0"}
        ax.set_title(f"({AXIS_LABEL[x].split()[-1]}, {AXIS_LABEL[y].split()[0]}) at "
                     f"{next(v for k, v in fixed.items() if k not in (x, y))}", fontsize=9)
    fig.colorbar(mesh, ax=axes[0].tolist(), label="log10 grokking time Δt [steps]")
    fig.suptitle(f"Levi et al. Figure 4: grokking time from the exact theory (95 % accuracy, ε = "
                 f"{cfg['eps']:g}, η = {cfg['eta']:g}); circles: simulation (×: none), d_in = {cfg['d_in']}, "
                 f"{len(cfg['seeds'])} seeds; preset {meta['preset']}", fontsize=9)
    save(fig, path)
    return path


def draw(path, figdir) -> list[Path]:
    """The four figures of a saved result: ``levi_<figure>_<tag>.png``, ``<tag>`` the result's
    preset (and configuration hash)."""
    arrays, meta = load_results(path, require=("step", "fig1_sim_test_acc"))
    tag = Path(path).name.removeprefix("levi_figures_")
    drawn = [fig_cases(arrays, meta, f, Path(figdir) / f"levi_{f}_{tag}.png") for f in FIGURES]
    if "fig4_gamma_lam_grok_time" in arrays:  # results from before Figure 4 lack it
        drawn.insert(3, fig_phase(arrays, meta, Path(figdir) / f"levi_fig4_{tag}.png"))
    return drawn


def draw_fig5(path, figdir) -> list[Path]:
    """``levi_fig5_<tag>.png`` from a saved ``two_layer`` result: per activation a row of losses
    (``L/‖D0‖²`` of each seed, thin; the mapped theory (T4), black) and a row of accuracies
    (seeds; the theory at the seeds' mean ``‖D0‖²``), one column per hidden width and λ, against
    Levi's clock ``τ₂ = η t/(2 d_out²)``; dashed: the median step to 95 %."""
    arrays, meta = load_results(path, require=("tau", "theory_train", "lams"))
    cfg = meta["config"]
    tau, lams = arrays["tau"][1:], arrays["lams"]  # log axis: the record at step 0 is left out
    per_step = arrays["tau"][-1] / arrays["step"][-1]
    columns = [(d_h, i) for d_h in cfg["d_hs"] for i in range(lams.size)]
    rows = [(a, kind) for a in cfg["activations"] for kind in ("loss", "acc")]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(3.4 * len(columns), 2.5 * len(rows)),
                             squeeze=False, sharex=True)
    for c, (d_h, i) in enumerate(columns):
        for r, (activation, kind) in enumerate(rows):
            ax = axes[r, c]
            key = f"{activation}_{d_h}_"
            d0 = arrays[key + "d0_sq"][i]
            for w, (which, color) in enumerate((("train", "tab:blue"), ("gen", "tab:orange"))):
                theory_loss = arrays[f"theory_{which}"][i, 1:]
                if kind == "loss":
                    ax.plot(tau, (arrays[key + f"{which}_loss"][i][:, 1:] / d0[:, None]).T,
                            color=color, lw=0.7, alpha=0.5)
                    ax.plot(tau, theory_loss, color="k" if w == 0 else "0.4", lw=1.1)
                    continue
                acc = arrays[key + ("train_acc" if w == 0 else "test_acc")][i][:, 1:]
                ax.plot(tau, acc.T, color=color, lw=0.7, alpha=0.5)
                ax.plot(tau, accuracy(np.mean(d0) * theory_loss, cfg["eps"], cfg["d_out"]),
                        color="k" if w == 0 else "0.4", lw=1.1)
                t95 = arrays[key + "t95"][i, w, 0]
                if np.isfinite(t95).any():
                    ax.axvline(np.nanmedian(t95) * per_step, color=color, lw=0.8, ls="--")
            ax.set_xscale("log")
            if kind == "loss":
                ax.set_yscale("log")
                ax.set_title(f"{activation}, d_h = {d_h}, λ = {lams[i]:g}", fontsize=9)
            else:
                ax.axhline(MARKER_LEVEL, color="0.6", lw=0.6)
                ax.set_ylim(-0.02, 1.02)
            if r == len(rows) - 1:
                ax.set_xlabel("τ₂ = η t/(2 d_out²)")
    for r, (_, kind) in enumerate(rows):
        axes[r, 0].set_ylabel(f"accuracy at ε = {cfg['eps']:g}" if kind == "acc"
                              else "L/‖D0‖² (blue train, orange test)")
    fig.suptitle(f"Levi et al. Figure 5: two-layer students {cfg['d_in']}–d_h–{cfg['d_out']}, "
                 f"η = {cfg['eta']:g}; preset {meta['preset']}\n{len(cfg['seeds'])} seeds (thin) "
                 "against the mapped one-layer theory (T4) (black: train, grey: test)", fontsize=10)
    out = Path(figdir) / f"levi_fig5_{Path(path).name.removeprefix('two_layer_')}.png"
    save(fig, out)
    return [out]
