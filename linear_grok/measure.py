"""Measure grokking on your own training curves.

    python -m linear_grok.measure LOG --time step --train train_acc --test val_acc \\
        [--shape erf|logistic|richards|auto] [--ci [LEVEL]] [--n-eval N] [--chance 0.5 | --free]
        [--log-time] [--group run] [--json out.json] [--plot out.png]
    python -m linear_grok.measure LOG --early K [--loss train_loss] [--time step] [--group run]

Reads the log (:mod:`linear_grok.logs`): a CSV with a time column and a train and a test accuracy
column, optionally a group column with one run per value (plain, with a byte-order mark, gzipped,
a W&B export, or Lightning's ``metrics.csv`` with train and validation on separate rows), a
JSON-lines file or a JSON array of records (keys by name, ``a.b`` inside nested objects;
``--group`` as for CSV), a JSON history of equal-length arrays, a Hugging Face
``trainer_state.json`` (time ``step`` or ``epoch``), an MLflow ``mlruns`` store, experiment or
run folder (one run per MLflow run; metrics by name, time ``step`` or ``timestamp``), or a
TensorBoard event file or folder (tags by name). It fits the same S-curve ``c·S(a(t − b)) + d`` to
both curves with the shared fitting module (the sharpness paper's erf by default; ``--shape auto``
fits erf, logistic and Richards and keeps, per run, the family with the smallest BIC, printing
every family's AIC and BIC) and prints the jump times, relative gap, relative and absolute
sharpness and fit quality; ``--ci`` adds 95 % bootstrap confidence intervals (``--ci 0.9`` another
level; the wild bootstrap, or with ``--n-eval N`` the binomial one for accuracies measured on N
samples). Bad input is a one-line error (exit 2); a curve that cannot be fitted is
reported with its reason. A jump faster than the log resolves is measured with bounds (the gap as
``gap 56.36 [37.88, 76.75] (grid-limited: train)``, a sharpness as ``>=x`` or ``<=x``), and a curve
that groks and later collapses is measured on its rise, the collapse printed below the table
(docs/theory.md §17). ``--log-time`` leaves out the samples at time 0.

``--early K`` prints instead the spectral signature of the first K logged values of a training-loss
column (``--loss``), the early-prediction features of :mod:`linear_grok.early`: the loss minus a
cubic trend, its power (activity), mean angular frequency (mobility), spectral spread (complexity)
and the shares of its power in three frequency bands. The values must be logged at a constant
interval (ideally every optimisation step, on each step's minibatch)."""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path

import numpy as np

from linear_grok import __version__, early
from linear_grok.cli import ArgumentParser, command
from linear_grok.grokking import MEASURES, GrokkingMeasure, measure_grokking
from linear_grok.intervals import bootstrap
from linear_grok.logs import InputError, read_columns, read_curves
from linear_grok.pipeline import add_arguments as add_measure_arguments
from linear_grok.pipeline import options_from_args
from linear_grok.results import check_output_file, write_json
from linear_grok.scurves import chance_to_cd
from linear_grok.validation import require


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m linear_grok.measure", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("log", type=Path, metavar="LOG",
                   help="a CSV with a header row (plain, with a byte-order mark, gzipped; a W&B "
                        "export; Lightning's metrics.csv), JSON lines, a JSON array of records or a "
                        "history of arrays (gzipped or not; nested keys as a.b), a Hugging Face "
                        "trainer_state.json, an MLflow mlruns, "
                        "experiment or run folder, or a TensorBoard event file or folder")
    p.add_argument("--time", default="step",
                   help="time column; for TensorBoard step or wall_time (default: step)")
    p.add_argument("--train", default="train_acc", help="train accuracy column or tag")
    p.add_argument("--test", default="val_acc", help="test/validation accuracy column or tag")
    p.add_argument("--group", default=None, help="column naming the run of each row")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--chance", type=float, default=0.0,
                       help="chance accuracy: c = (1 - chance)/2, d = 1 - c (default 0: c = d = 1/2)")
    shape.add_argument("--free", action="store_true", help="fit c and d for each curve")
    p.add_argument("--log-time", action="store_true", help="fit on log(time)")
    p.add_argument("--min-r2", type=float, default=0.9, help="R² below this is a failed fit")
    add_measure_arguments(p)
    p.add_argument("--json", type=Path, default=None, help="write the measures as JSON here")
    p.add_argument("--plot", type=Path, default=None, help="draw curves and fits (PNG/PDF)")
    p.add_argument("--early", type=int, default=None, metavar="K",
                   help="print the spectral features of the first K values of --loss instead of "
                        "fitting the accuracy curves")
    p.add_argument("--loss", default="train_loss",
                   help="with --early: the training-loss column or tag (default: train_loss)")
    return p.parse_args(argv)


# What the experiment found, said beside the features (experiments/early_prediction.py).
EARLY_CAVEAT = (
    "Activity is the power of the loss's relative fluctuations about its trend, mobility their "
    "mean angular frequency, complexity the spread of their spectrum (1: a single frequency). "
    "Notsawo et al. (2023) report that such features of the first few hundred steps correlate "
    "with the final validation accuracy. On 60 runs of the concealed-parity MLP (python -m "
    "experiments.early_prediction --preset full) the activity of the first 800 steps did "
    "(Spearman ρ = −0.76 with the final validation accuracy), but the features told runs that "
    "grok from runs that do not less well (cross-validated AUC 0.58 to 0.88 over the first 100 to "
    "800 steps) than the early train accuracy alone (0.79 to 0.96). Read them as a description "
    "of the early loss, not a forecast.")


def early_report(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """``--early K``: the spectral features of each run's first K loss values, printed."""
    try:
        require("early", args.early, lambda a: a >= 16, ">= 16 logged values")
    except ValueError as err:
        raise InputError(str(err)) from None
    results = {}
    for name, (t, loss) in read_columns(args.log, args.time, (args.loss,), args.group).items():
        if t.size < args.early:
            raise InputError(f"run {name!r}: --early {args.early} needs {args.early} values of "
                             f"{args.loss}; the log has {t.size}")
        steps = np.diff(t[:args.early])
        if not np.allclose(steps, steps[0], rtol=1e-6) or steps[0] <= 0:
            raise InputError(f"run {name!r}: {args.loss} must be logged at a constant {args.time} "
                             f"interval over its first {args.early} values (found intervals "
                             f"{steps.min():g} to {steps.max():g})")
        try:
            feats = early.spectral_features(loss, args.early, dt=float(steps[0]))
        except ValueError as err:
            raise InputError(f"run {name!r}: {err}") from None
        results[name] = {"interval": float(steps[0]), **{k: float(v) for k, v in feats.items()}}
    head = (f"{'run':>12} {'interval':>9} {'activity':>11} {'mobility':>11} {'complexity':>10} "
            f"{'energy':>11} " + " ".join(f"{'band ' + b:>9}" for b in early.BANDS))
    lines = [f"spectral features of the first {args.early} values of {args.loss} (trend: "
             f"polynomial of degree {early.TREND_DEGREE}; mobility in radians per {args.time})",
             head, "-" * len(head)]
    for name, f in results.items():
        lines.append(f"{name:>12} {f['interval']:9.4g} {f['activity']:11.4g} {f['mobility']:11.4g} "
                     f"{f['complexity']:10.4g} {f['energy']:11.4g} "
                     + " ".join(f"{f['band_' + b]:9.3f}" for b in early.BANDS))
    print("\n".join(lines))
    print(textwrap.fill(EARLY_CAVEAT, width=100))
    if args.json:
        write_json(args.json, {"input": str(args.log), "column": args.loss, "k": args.early,
                               "runs": results})
        print(f"wrote {args.json}")
    return results


def format_table(results: dict[str, GrokkingMeasure], time: str = "t") -> str:
    """A fixed-width table of the measures, one row per run, then a line for each run measured
    with bounds (a jump faster than the log resolves) and for each collapse after grokking.
    ``time`` names the time axis (the ``--time`` column) in those lines. A measure that the
    grid only bounds is shown as ``>=x`` or ``<=x``."""
    head = (f"{'run':>12} {'shape':>8} {'b_train':>11} {'b_test':>11} {'gap':>9} {'R_rel':>9} "
            f"{'R_abs':>10} {'R2_train':>8} {'R2_test':>8}  status")
    lines = [head, "-" * len(head)]
    for name, m in results.items():
        status = m.reason if not m.ok else f"ok (grid-limited: {m.resolution})" if m.resolution else "ok"
        lines.append(
            f"{name:>12} {m.shape:>8} {m.train.jump_time:11.5g} {m.test.jump_time:11.5g} "
            f"{m.relative_gap:9.4g} {_bounded(m, 'relative_sharpness'):>9} "
            f"{_bounded(m, 'absolute_sharpness'):>10} {m.train.r2:8.4f} {m.test.r2:8.4f}  {status}")
    return "\n".join(lines + format_notes(results, time))


def _bounded(m: GrokkingMeasure, name: str) -> str:
    """A measure's value, or ``>=lo``/``<=hi`` where the grid only bounds it (``?``: neither)."""
    value = getattr(m, name)
    if not m.ok or np.isfinite(value):
        return f"{value:.4g}"
    lo, hi = m.bounds[name]
    if np.isfinite(lo) and lo > 0:
        return f">={lo:.4g}"
    return f"<={hi:.4g}" if np.isfinite(hi) else "?"


def format_notes(results: dict[str, GrokkingMeasure], time: str = "t") -> list[str]:
    """Lines for the runs measured with bounds and for the curves that collapsed after grokking
    (docs/theory.md §17)."""
    lines = []
    for name, m in results.items():
        if m.ok and m.resolution:
            lo, hi = m.bounds["relative_gap"]
            lines.append(f"{name}: gap {m.relative_gap:.4g} [{lo:.4g}, {hi:.4g}] (grid-limited: "
                         f"{m.resolution}); R_rel {_bounded(m, 'relative_sharpness')}, "
                         f"R_abs {_bounded(m, 'absolute_sharpness')}")
            for which, fit in (("train", m.train), ("test", m.test)):
                if fit.limited:
                    lines.append(f"  {which} jumps between {time} {fit.jump_lo:.6g} and "
                                 f"{fit.jump_hi:.6g}, faster than the log resolves (max slope >= "
                                 f"{fit.max_slope_lo:.4g} per {time})")
        for which, fit in (("train", m.train), ("test", m.test)):
            when = getattr(m, f"collapse_{which}_time")
            if np.isfinite(when):
                lines.append(f"{name}: {which} collapses at {time} {when:.6g} (back below its "
                             f"midpoint for good), {getattr(m, f'collapse_{which}_depth'):.3g} "
                             f"below its peak; its jump is measured on the rise, samples "
                             f"{fit.start} to {fit.end - 1}")
    return lines


def format_intervals(results: dict[str, GrokkingMeasure]) -> str:
    """The bootstrap interval of every measure, one row per run."""
    first = next(iter(results.values())).intervals
    head = f"{'run':>12} " + " ".join(f"{name:>25}" for name in MEASURES)
    how = "the parametric binomial bootstrap" if first.method == "binomial" else "the wild bootstrap"
    lines = [f"{first.level:.0%} bootstrap intervals ({first.n_boot} replicates of {how}; "
             f"docs/theory.md §17)", head, "-" * len(head)]
    for name, m in results.items():
        iv = m.intervals
        cells = [f"[{iv.lower[k]:10.4g}, {iv.upper[k]:10.4g}]" for k in MEASURES]
        lines.append(f"{name:>12} " + " ".join(f"{c:>25}" for c in cells))
    lines += [f"warning: run {name!r}: {m.intervals.notes}" for name, m in results.items()
              if m.intervals.notes]
    return "\n".join(lines)


def format_criteria(results: dict[str, GrokkingMeasure]) -> str:
    """AIC and BIC of every fitted family, summed over each run's two curves; ``*`` the chosen."""
    families = list(next(iter(results.values())).candidates)
    head = f"{'run':>12} " + " ".join(f"{f + ' AIC':>15} {f + ' BIC':>15}" for f in families)
    lines = [head, "-" * len(head)]
    for name, m in results.items():
        cells = []
        for f in families:
            c = m.candidates[f]
            mark = "*" if f == m.shape else (" " if c["ok"] else "!")
            cells.append(f"{c['aic']:15.6g} {c['bic']:14.6g}{mark}")
        lines.append(f"{name:>12} " + " ".join(cells))
    lines.append("* chosen (smallest BIC among families whose two fits are ok); ! a fit failed")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, GrokkingMeasure]:
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            try:  # before any work, and never over the input
                check_output_file(path, flag, inputs=(args.log,))
            except ValueError as err:
                raise InputError(str(err)) from None
    if args.json is not None and args.plot is not None and args.json.resolve() == args.plot.resolve():
        raise InputError(f"--json and --plot name the same file {args.json}; give two names")
    if args.early is not None:
        return early_report(args)
    try:  # every value checked before any work
        options = options_from_args(args)
        require("min_r2", args.min_r2, lambda a: (a >= 0) & (a < 1), "in [0, 1)")
    except ValueError as err:
        raise InputError(str(err)) from None
    curves = read_curves(args.log, args.time, args.train, args.test, args.group)
    if args.free:
        c = d = None
    else:
        try:
            c, d = chance_to_cd(args.chance)
        except ValueError as err:
            raise InputError(str(err)) from None
    results = {}
    for name, (t, acc_tr, acc_te) in curves.items():
        try:
            m = measure_grokking(t, acc_tr, acc_te, shape=options.shape, c=c, d=d,
                                 log_time=args.log_time, min_r2=args.min_r2)
            if options.ci:
                m = bootstrap(t, acc_tr, acc_te, m, level=options.ci, n_boot=options.n_boot,
                              method=options.method, n_eval=options.n_eval, seed=options.seed)
            results[name] = m
        except ValueError as err:
            raise InputError(f"run {name!r}: {err}") from None
    print(format_table(results, time=args.time))
    if options.ci:
        print(format_intervals(results))
    if args.shape == "auto":
        print(format_criteria(results))
    if args.json:
        write_json(args.json, {"input": str(args.log), "shape": args.shape, "c": c, "d": d,
                               "log_time": args.log_time, "runs": results})
        print(f"wrote {args.json}")
    if args.plot:
        _plot(curves, results, args.plot, args.log_time)
        print(f"wrote {args.plot}")
    return results


def _plot(curves, results, path: Path, log_time: bool) -> None:
    import matplotlib.pyplot as plt

    from linear_grok.plotting import plot_measure, save

    n = len(results)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, m) in zip(axes.ravel(), results.items(), strict=False):
        t, acc_tr, acc_te = curves[name]
        plot_measure(ax, t, acc_tr, acc_te, m, log_time=log_time, title=name)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    save(fig, path)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
