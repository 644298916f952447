"""The λ sweep: accuracy curves of the linear model to gap–sharpness trends.

    python -m experiments.lambda_sweep                       # quick preset, exact theory (~5 s)
    python -m experiments.lambda_sweep --preset paper --mode paper   # the paper's Figure 1/3/6
    python -m experiments.lambda_sweep --mode all            # paper, exact and simulate

Modes (see ``linear_grok.settings.linear.sweep``): ``paper`` reproduces the published procedure
(λ > 1, long-time forms without the plateau); ``exact`` uses the mirrored λ < 1 grid and the exact
theory, where the model really groks; ``simulate`` trains the model (exact spectral GD) on the same grid.
Results go to ``results/lambda_sweep_<preset>_<mode>.{npz,json}`` (with a short hash of the
configuration appended when flags change the preset's; an existing result is replaced only with
``--overwrite``); figures to ``figures/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from linear_grok import __version__, distributed
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, options_from_args, write_tables
from linear_grok.pipeline import add_arguments as add_measure_arguments
from linear_grok.results import add_arguments as add_output_arguments
from linear_grok.results import (
    check_new_results,
    print_written,
    report_bad_sweep_outputs,
    result_path,
    save_results,
)
from linear_grok.settings.linear import sweep
from linear_grok.trends import trends


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m experiments.lambda_sweep", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(sweep.PRESETS), default="quick")
    p.add_argument("--mode", choices=(*sweep.MODES, "all"), default="exact")
    p.add_argument("--eps", type=float, help="accuracy threshold (default 1e-10)")
    p.add_argument("--eta", type=float, help="learning rate (default 0.01)")
    p.add_argument("--d-out", type=int, help="output dimension (default 1)")
    p.add_argument("--d-in", type=int, help="simulator input dimension")
    p.add_argument("--seeds", type=int, nargs="+", help="simulator seeds")
    p.add_argument("--n-lam", type=int, help="points of the paper's λ grid")
    p.add_argument("--n-time", type=int, help="points per theory curve")
    p.add_argument("--lams", type=float, nargs="+", help="explicit λ grid (exact/simulate)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_output_arguments(p)
    add_measure_arguments(p)
    distributed.add_arguments(p)
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace, mode: str) -> sweep.LambdaSweepConfig:
    overrides = {k: v for k, v in dict(
        eps=args.eps, eta=args.eta, d_out=args.d_out, d_in=args.d_in, n_lam=args.n_lam,
        n_time=args.n_time, seeds=tuple(args.seeds) if args.seeds else None,
        lams=tuple(args.lams) if args.lams else None).items() if v is not None}
    return sweep.preset(args.preset, mode=mode, **overrides)


def results_path(out: Path, preset: str, cfg: sweep.LambdaSweepConfig,
                 options: MeasureOptions) -> Path:
    """``out/lambda_sweep_<preset>_<mode>``, plus a short hash of the configuration (all but the
    mode, so that one command's modes share it) and the measurement when they are not the
    preset's own: different configurations never share a file."""
    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "mode"}
    return result_path(out, f"lambda_sweep_{preset}_{cfg.mode}",
                       cfg != sweep.preset(preset, mode=cfg.mode) or options != DEFAULT_OPTIONS,
                       {"config": config, "measure": options})


def run_mode(args: argparse.Namespace, cfg: sweep.LambdaSweepConfig, options) -> Path:
    mode = cfg.mode
    print(f"\n== lambda sweep: preset {args.preset}, mode {mode} ==")
    print(cfg)
    start = time.perf_counter()
    arrays = sweep.run_lambda_sweep(cfg, progress=not args.no_progress, options=options)
    seconds = time.perf_counter() - start
    trend = trends(arrays)
    print(sweep.lambda_table(arrays))
    for name in ("relative_sharpness", "absolute_sharpness"):
        law, rho = trend[name].get("power_law"), trend[name].get("spearman")
        if law:
            print(f"{name}: log-log slope {law['slope']:.3f} ± {law['slope_se']:.3f} "
                  f"(R² {law['r2']:.3f}), Spearman ρ vs gap {rho:+.3f}")
    print(f"{trend['n_ok']} fits ok, {trend['n_failed']} recorded failures; {seconds:.1f} s")
    path = results_path(args.out, args.preset, cfg, options)
    npz, _ = save_results(path, arrays, {
        "experiment": "lambda_sweep", "preset": args.preset, "mode": mode,
        "config": dataclasses.asdict(cfg), "measure": dataclasses.asdict(options), "trends": trend,
        "seconds": seconds,
        "command": args.command})
    print(f"wrote {npz} (+ .json)")
    seeds = np.asarray(cfg.seeds if mode == "simulate" else (0,))  # the theory has no seed
    print_written(write_tables(path, arrays, {"lam": arrays["lam"][:, None],
                                              "seed": seeds[None, :]}, trend))
    return path


@command
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    args.command = shlex.join(["python", "-m", "experiments.lambda_sweep", *argv])
    modes = sweep.MODES if args.mode == "all" else (args.mode,)
    # Every value and output folder is checked before any work: a problem found at the end would
    # lose the run.
    if report_bad_sweep_outputs(args):
        return 2
    try:
        configs = [config_from_args(args, mode) for mode in modes]
        config_from_args(args, "simulate")  # the simulator's fields are checked in every mode
        options = options_from_args(args)
        for cfg in configs:
            check_new_results(results_path(args.out, args.preset, cfg, options), args.overwrite)
    except ValueError as err:
        return user_error(err)
    sim_cfg = config_from_args(args, "simulate")  # only the simulator is sharded
    distributed.setup(args, sim_cfg.lam.size * len(sim_cfg.seeds))
    paths = [run_mode(args, cfg, options) for cfg in configs]
    if not args.no_figures:
        from experiments import figures

        for path in paths:
            print_written(figures.draw_lambda_sweep(path, args.figures))
        by_mode = {cfg.mode: path for cfg, path in zip(configs, paths, strict=True)}
        if "exact" in by_mode and "simulate" in by_mode:
            print_written(figures.draw_theory_vs_simulation(by_mode["exact"], by_mode["simulate"],
                                                            args.figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
