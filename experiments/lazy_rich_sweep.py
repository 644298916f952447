"""The lazy→rich sweep: grokking of a committee machine as α (laziness) grows (Kumar et al. 2024).

    python -m experiments.lazy_rich_sweep                    # quick preset (~10 s)
    python -m experiments.lazy_rich_sweep --preset sweep     # D = 100, P = 550, N = 500, η = 20N/α²
    python -m experiments.lazy_rich_sweep --preset paper     # their Figure 1: η = N/α², 1e5 steps
    python -m experiments.lazy_rich_sweep --heatmap small    # their (α, ε) heat map, D = 40 (~30 s)
    python -m experiments.lazy_rich_sweep --heatmap authors  # their heat map at their sizes (~7 min)

Every (α, ε, seed) trains by exact gradient descent through the network's sufficient statistics
(``linear_grok.settings.lazy_rich``), with the linearised (kernel) model beside it. Each run's
train and test accuracy (squared error below ``τ·Var(y)``, the first ``τ`` of the preset) is
measured with the shared S-curve fit twice, on linear and on log time (the records are
log-spaced and the test curve rises over decades); the authors' loss-threshold gap
``max(0, t_test − t_train)`` at loss 0.1 is reported beside. Results go to
``results/lazy_rich_<preset>[_<hash>].{npz,json}`` (an existing one is replaced only with
``--overwrite``) with ``_runs.csv``/``_trends.csv`` tables; figures to
``figures/lazy_rich_*_<preset>[_<hash>].png``: the authors' Figure 1 (losses of the network and of
its linearisation, and the kernel-regression level), the α sweep's learning curves, and the
gap–sharpness trend.

``--heatmap PRESET`` (``quick``, ``small``, ``authors``; ``linear_grok.settings.lazy_rich.
HEATMAP_PRESETS``) runs the authors' (α, ε) phase diagram instead: η = 20N/α² (scaled with D
below their sizes), each run until its train and test loss change by < 1e-5 over 4 steps with the
test loss below its start, or 110 002 steps; "amount of grokking" ``max(0, t_test − t_train)``
with ``t`` the first step with loss below 0.1. Results go to
``results/lazy_rich_heatmap_<preset>[_<hash>].{npz,json}``, the figure to
``figures/lazy_rich_heatmap_<preset>[_<hash>].png``. ``--alphas``, ``--epsilons``, ``--seeds``
(one), ``--lr-scale`` and ``--steps`` (the step cap) override the preset.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from linear_grok import __version__
from linear_grok.cli import ArgumentParser, command, stop_point, user_error
from linear_grok.pipeline import DEFAULT_OPTIONS, measure_runs, options_from_args, write_tables
from linear_grok.pipeline import add_arguments as add_measure_arguments
from linear_grok.plotting import plot_trend, robust_limits, save
from linear_grok.results import add_arguments as add_output_arguments
from linear_grok.results import (
    check_new_results,
    load_results,
    print_written,
    report_bad_sweep_outputs,
    result_path,
    save_results,
)
from linear_grok.settings import lazy_rich
from linear_grok.trends import TREND_ARRAYS, power_law_fit, trends

LOSS_LEVEL = 0.1  # the authors' threshold for "amount of grokking"


def run_sweep(cfg: lazy_rich.LazyRichConfig, options=DEFAULT_OPTIONS) -> dict[str, np.ndarray]:
    """Train every run and measure it on linear time and (``log_*`` arrays) on log time."""
    arrays = lazy_rich.train_sweep(cfg)
    curves = lazy_rich.accuracy_curves(arrays)
    arrays.update(measure_runs(curves, options))
    arrays.update({f"log_{k}": v for k, v in measure_runs(curves, options, log_time=True).items()})
    arrays["loss_gap"] = lazy_rich.loss_gap(arrays, LOSS_LEVEL)
    return arrays


def table(arrays) -> str:
    """One row per run: the loss-threshold gap and both measurements' gap and sharpness."""
    head = (f"{'alpha':>6} {'eps':>5} {'seed':>4} {'loss gap':>9} {'b_train':>9} {'b_test':>9} "
            f"{'gap':>7} {'R_rel':>6} {'log gap':>8} {'log R_rel':>9} {'acc tr/te':>11}  note")
    lines = [head, "-" * len(head)]
    for i, j, k in np.ndindex(arrays["ok"].shape):
        lines.append(
            f"{arrays['alpha'][i]:6.3g} {arrays['epsilon'][j]:5.3g} {arrays['seed'][k]:4d} "
            f"{arrays['loss_gap'][i, j, k]:9.4g} {arrays['b_train'][i, j, k]:9.4g} "
            f"{arrays['b_test'][i, j, k]:9.4g} {arrays['relative_gap'][i, j, k]:7.3g} "
            f"{arrays['relative_sharpness'][i, j, k]:6.3g} {arrays['log_relative_gap'][i, j, k]:8.3g} "
            f"{arrays['log_relative_sharpness'][i, j, k]:9.3g} "
            f"{arrays['rich_train_acc'][i, j, k, -1, 0]:5.3f}/{arrays['rich_test_acc'][i, j, k, -1, 0]:.3f}"
            f"  {arrays['reason'][i, j, k][:50]}")
    return "\n".join(lines)


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


def draw_figures(path, figdir) -> list[Path]:
    """The three figures of a saved lazy→rich sweep."""
    arrays, meta = load_results(path, require=TREND_ARRAYS + ("step", "rich_test_loss"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("lazy_rich_")
    return [fig_losses(arrays, meta, figdir / f"lazy_rich_fig1_{tag}.png"),
            fig_alpha_sweep(arrays, meta, figdir / f"lazy_rich_alpha_sweep_{tag}.png"),
            fig_trend(arrays, meta, figdir / f"lazy_rich_trend_{tag}.png")]


def heatmap_trend(amount: np.ndarray) -> dict[str, float]:
    """How the amount of grokking ``(A, E)`` moves across the grid: the fraction of neighbouring
    pairs (both finite) in which it grows with α (down a column) and falls with ε (along a row)."""
    def fraction(a, b):
        keep = np.isfinite(a) & np.isfinite(b)
        return float(np.mean(b[keep] > a[keep])) if keep.any() else float("nan")

    return {"grows_with_alpha": fraction(amount[:-1], amount[1:]),
            "falls_with_epsilon": fraction(amount[:, 1:], amount[:, :-1])}


def heatmap_table(arrays) -> str:
    """The amount of grokking (steps) with α down and ε across; ``-``: a loss never crossed."""
    eps = arrays["epsilon"]
    lines = ["amount of grokking max(0, t_test − t_train) in steps (rows α, columns ε; "
             "- : a loss never crossed the level before the stop, c: capped)",
             "   α/ε " + "".join(f"{e:>7.3g}" for e in eps)]
    for i, alpha in enumerate(arrays["alpha"]):
        cells = []
        for j in range(eps.size):
            value = arrays["amount"][i, j]
            cell = "-" if not np.isfinite(value) else f"{value:.0f}"
            cells.append(f"{cell + ('c' if arrays['capped'][i, j] else ''):>7}")
        lines.append(f"{alpha:6.3g} " + "".join(cells))
    return "\n".join(lines)


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


def run_heatmap(args, argv) -> int:
    """``--heatmap PRESET``: the authors' (α, ε) heat map, saved and drawn."""
    preset = lazy_rich.HEATMAP_PRESETS[args.heatmap]
    overrides = {k: v for k, v in dict(
        alphas=tuple(args.alphas) if args.alphas else None,
        epsilons=tuple(args.epsilons) if args.epsilons else None,
        max_steps=args.steps, lr_scale=args.lr_scale).items() if v is not None}
    try:  # every value checked before any work
        if args.seeds is not None:
            if len(args.seeds) != 1:
                raise ValueError(f"--seeds: the heat map runs one draw; got {len(args.seeds)} seeds")
            overrides["seed"] = args.seeds[0]
        cfg = dataclasses.replace(preset, **overrides)
        path = result_path(args.out, f"lazy_rich_heatmap_{args.heatmap}", cfg != preset,
                           {"config": cfg})
        check_new_results(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    print(f"== lazy→rich heat map: preset {args.heatmap} ==\n{cfg}")
    start = time.perf_counter()

    def progress(done, running):
        stop_point()  # Ctrl-C stops here, between compiled chunks
        if running == 0 or done % (10 * cfg.chunk) == 0:
            print(f"  {done} steps: {running} of {len(cfg.alphas) * len(cfg.epsilons)} runs "
                  f"running ({time.perf_counter() - start:.0f} s)", flush=True)

    arrays = lazy_rich.heatmap(cfg, progress)
    seconds = time.perf_counter() - start
    trend = heatmap_trend(arrays["amount"])
    print(heatmap_table(arrays))
    print(f"amount grows with α in {trend['grows_with_alpha']:.0%} and falls with ε in "
          f"{trend['falls_with_epsilon']:.0%} of neighbouring pairs; "
          f"{int(np.sum(~np.isfinite(arrays['amount'])))} runs whose loss never crossed "
          f"{cfg.level:g}, {int(arrays['capped'].sum())} capped, "
          f"{int(arrays['diverged'].sum())} diverged; {seconds:.1f} s")
    npz, _ = save_results(path, arrays, {
        "experiment": "lazy_rich_heatmap", "preset": args.heatmap,
        "config": dataclasses.asdict(cfg), "trend": trend, "seconds": seconds,
        "command": shlex.join(["python", "-m", "experiments.lazy_rich_sweep", *argv])})
    print(f"wrote {npz} (+ .json)")
    if not args.no_figures:
        print_written(draw_heatmap(path, args.figures))
    return 0


@command
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = ArgumentParser(prog="python -m experiments.lazy_rich_sweep", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(lazy_rich.PRESETS), default="quick")
    p.add_argument("--heatmap", choices=tuple(lazy_rich.HEATMAP_PRESETS),
                   help="run the authors' (α, ε) heat map of this preset instead of the α sweep")
    p.add_argument("--alphas", type=float, nargs="+", help="output scales α")
    p.add_argument("--epsilons", type=float, nargs="+", help="quadratic parts ε of the activation")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds")
    p.add_argument("--steps", type=int,
                   help="gradient steps per run (with --heatmap: the cap on a run's steps)")
    p.add_argument("--lr-scale", type=float,
                   help="learning rate η = lr_scale·N/α² (1 in the authors' Figure 1, 20 in their heat map)")
    add_output_arguments(p)
    add_measure_arguments(p)
    args = p.parse_args(argv)
    if report_bad_sweep_outputs(args):
        return 2
    if args.heatmap:
        return run_heatmap(args, argv)
    overrides = {k: v for k, v in dict(
        alphas=tuple(args.alphas) if args.alphas else None,
        epsilons=tuple(args.epsilons) if args.epsilons else None,
        seeds=tuple(args.seeds) if args.seeds else None, steps=args.steps,
        lr_scale=args.lr_scale).items() if v is not None}
    try:  # every value checked before any work
        cfg = dataclasses.replace(lazy_rich.PRESETS[args.preset], **overrides)
        options = options_from_args(args)
        path = result_path(args.out, f"lazy_rich_{args.preset}",
                           cfg != lazy_rich.PRESETS[args.preset] or options != DEFAULT_OPTIONS,
                           {"config": cfg, "measure": options})
        check_new_results(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    print(f"== lazy→rich sweep: preset {args.preset} ==\n{cfg}")
    start = time.perf_counter()
    arrays = run_sweep(cfg, options)
    seconds = time.perf_counter() - start
    trend = trends(arrays)
    log_trend = trends({k.removeprefix("log_"): v for k, v in arrays.items() if k.startswith("log_")})
    print(table(arrays))
    for label, tr in (("linear time", trend), ("log time", log_trend)):
        law, rho = tr["relative_sharpness"].get("power_law"), tr["relative_sharpness"].get("spearman")
        if law:
            print(f"relative sharpness ({label}): log-log slope {law['slope']:.3f} ± "
                  f"{law['slope_se']:.3f}, Spearman ρ vs gap {rho:+.3f}")
    print(f"{trend['n_ok']} runs measured, {trend['n_failed']} recorded failures; {seconds:.1f} s")
    npz, _ = save_results(path, arrays, {
        "experiment": "lazy_rich_sweep", "preset": args.preset, "config": dataclasses.asdict(cfg),
        "measure": dataclasses.asdict(options), "trends": trend, "log_time_trends": log_trend,
        "loss_level": LOSS_LEVEL, "seconds": seconds,
        "command": shlex.join(["python", "-m", "experiments.lazy_rich_sweep", *argv])})
    print(f"wrote {npz} (+ .json)")
    alpha, eps, seed = np.meshgrid(arrays["alpha"], arrays["epsilon"], arrays["seed"], indexing="ij")
    print_written(write_tables(path, arrays, {"alpha": alpha, "epsilon": eps, "seed": seed}, trend))
    if not args.no_figures:
        print_written(draw_figures(path, args.figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
