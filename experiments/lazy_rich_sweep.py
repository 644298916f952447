"""The lazy→rich sweep: grokking of a committee machine as α (laziness) grows (Kumar et al. 2024).

    python -m experiments.lazy_rich_sweep                    # quick preset (~10 s)
    python -m experiments.lazy_rich_sweep --preset sweep     # D = 100, P = 550, N = 500, η = 20N/α²
    python -m experiments.lazy_rich_sweep --preset paper     # their Figure 1: η = N/α², 1e5 steps

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
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from linear_grok import __version__  # noqa: E402
from linear_grok.cli import ArgumentParser, command, user_error  # noqa: E402
from linear_grok.pipeline import DEFAULT_OPTIONS, measure_runs, options_from_args, write_tables  # noqa: E402
from linear_grok.pipeline import add_arguments as add_measure_arguments  # noqa: E402
from linear_grok.plotting import plot_trend, robust_limits, save  # noqa: E402
from linear_grok.results import (  # noqa: E402
    check_new_results,
    load_results,
    report_bad_outputs,
    result_path,
    save_results,
)
from linear_grok.settings import lazy_rich  # noqa: E402
from linear_grok.trends import TREND_ARRAYS, power_law_fit, trends  # noqa: E402

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


@command
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = ArgumentParser(prog="python -m experiments.lazy_rich_sweep", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(lazy_rich.PRESETS), default="quick")
    p.add_argument("--alphas", type=float, nargs="+", help="output scales α")
    p.add_argument("--epsilons", type=float, nargs="+", help="quadratic parts ε of the activation")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds")
    p.add_argument("--steps", type=int, help="gradient steps per run")
    p.add_argument("--lr-scale", type=float,
                   help="learning rate η = lr_scale·N/α² (1 in the authors' Figure 1, 20 in their heat map)")
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--figures", type=Path, default=Path("figures"))
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--overwrite", action="store_true",
                   help="replace results of the same configuration (refused otherwise)")
    add_measure_arguments(p)
    args = p.parse_args(argv)
    if report_bad_outputs({"--out": args.out, "--figures": None if args.no_figures else args.figures}):
        return 2
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
    for tbl in write_tables(path, arrays, {"alpha": alpha, "epsilon": eps, "seed": seed}, trend):
        print(f"wrote {tbl}")
    if not args.no_figures:
        for fig in draw_figures(path, args.figures):
            print(f"wrote {fig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
