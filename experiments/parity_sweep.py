"""The concealed-parity MLP sweep: the sharpness paper's Figures 2, 4 and 5.

    python -m experiments.parity_sweep                     # quick: 4 input sizes, 1 seed
    python -m experiments.parity_sweep --preset paper      # 21 input sizes (25..45) × 3 seeds
    python -m experiments.parity_sweep --preset clean      # the same grid, the clean procedure

``quick`` and ``paper`` follow the authors' procedure ({0, 1} inputs, PyTorch's default first-layer
bias, batch-mean metrics, spurious bits from the parity bits' stream); ``clean`` uses ±1 inputs, a
zero bias, full-set metrics and independent spurious bits. ``--inputs``, ``--bias``, ``--accuracy``
and ``--spurious`` change one choice at a time (``linear_grok.settings.parity`` explains each).

All runs train together in one compiled program (``linear_grok.settings.parity``), in chunks of epochs with
a progress bar. Per-epoch train/validation loss and accuracy are saved to
``results/parity_sweep_<preset>.{npz,json}`` (a short hash of the configuration appended when flags
change the preset's; an existing result is replaced only with ``--overwrite``), the procedure in
the JSON sidecar; each run's
accuracy curves are measured with ``¼ S(a(t − b)) + ¾`` (chance ½; ``S`` the paper's erf unless
``--shape`` says otherwise) on the recorded epoch axis
(0-based for batch-mean metrics, as the authors' ``np.arange``), and the first epoch above 0.99
(the authors' threshold) is reported beside the fit. Runs that never reach the top or whose fit
fails are recorded with the reason and left out of the trends.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok import __version__, distributed
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.pipeline import (
    DEFAULT_OPTIONS,
    MeasureOptions,
    interval_bars,
    measure_runs,
    options_from_args,
    saved_fit,
    write_tables,
)
from linear_grok.pipeline import add_arguments as add_measure_arguments
from linear_grok.plotting import fit_grid, fit_label, fit_panel, plot_trend, robust_limits, save
from linear_grok.results import add_arguments as add_output_arguments
from linear_grok.results import (
    check_new_results,
    load_results,
    print_written,
    report_bad_sweep_outputs,
    result_path,
    save_results,
)
from linear_grok.settings import parity
from linear_grok.trends import TREND_ARRAYS, power_law_fit, trends
from linear_grok.validation import require

PRESETS = {
    "quick": dataclasses.replace(parity.PAPER, input_sizes=(25, 30, 35, 40), seeds=(0,)),
    "paper": parity.PAPER,
    "clean": parity.CLEAN,
}
THRESHOLD = 0.99  # the authors' "grokked" accuracy


def measure_sweep(cfg: parity.ParityConfig, chunk: int = 100, progress: bool = True,
                  devices=None, options: MeasureOptions = DEFAULT_OPTIONS) -> dict:
    """Train every run; return per-epoch metrics (R, E) and the measures of each run (R,)."""
    arrays = parity.train_sweep(cfg, chunk=chunk, progress=progress, devices=devices)
    epochs = arrays["epoch"]
    arrays.update(measure_runs(parity.accuracy_curves(arrays), options))
    arrays.update(
        first_train_above=parity.first_epoch_above(epochs, arrays["train_acc"], THRESHOLD),
        first_val_above=parity.first_epoch_above(epochs, arrays["val_acc"], THRESHOLD))
    return arrays


def parity_table(arrays) -> str:
    """One row per run: first epochs above the threshold, fitted jump times and the measures."""
    head = (f"{'inputs':>6} {'seed':>4} {'>.99 tr':>7} {'>.99 val':>8} {'b_train':>8} {'b_val':>8} "
            f"{'gap':>8} {'R_rel':>8} {'R_abs':>10} {'final tr/val acc':>17}  note")
    lines = [head, "-" * len(head)]
    for i in range(arrays["input_size"].size):
        lines.append(
            f"{arrays['input_size'][i]:6d} {arrays['seed'][i]:4d} {arrays['first_train_above'][i]:7.0f} "
            f"{arrays['first_val_above'][i]:8.0f} {arrays['b_train'][i]:8.1f} "
            f"{arrays['b_test'][i]:8.1f} {arrays['relative_gap'][i]:8.3g} "
            f"{arrays['relative_sharpness'][i]:8.3g} {arrays['absolute_sharpness'][i]:10.3g} "
            f"{arrays['train_acc'][i, -1]:8.3f}/{arrays['val_acc'][i, -1]:.3f}  "
            f"{arrays['reason'][i][:60]}")
    return "\n".join(lines)


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


def draw_figures(path, figdir) -> list[Path]:
    """Figures 2, 4 and 5 from a saved parity sweep."""
    arrays, meta = load_results(path, require=TREND_ARRAYS + ("epoch", "train_acc", "val_acc"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("parity_sweep_")
    return [fig_trends(arrays, meta, figdir / f"parity_fig2_{tag}.png", loglog=False),
            fig_examples(arrays, meta, figdir / f"parity_fig4_{tag}.png"),
            fig_trends(arrays, meta, figdir / f"parity_fig5_{tag}.png", loglog=True)]


@command
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = ArgumentParser(prog="python -m experiments.parity_sweep", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick")
    for name, flag in (("inputs", "--inputs"), ("bias_init", "--bias"), ("accuracy", "--accuracy"),
                       ("spurious", "--spurious")):
        p.add_argument(flag, dest=name, choices=parity.CHOICES[name],
                       help="override the preset's procedure (linear_grok.settings.parity)")
    p.add_argument("--full-set-metrics", action="store_true",
                   help="with batch-mean metrics, also record full-set metrics (*_full arrays)")
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--input-sizes", type=int, nargs="+", help="override the input sizes")
    p.add_argument("--seeds", type=int, nargs="+", help="override the seeds")
    p.add_argument("--hidden", type=int, help="override the hidden width")
    p.add_argument("--n-train", type=int, help="override the training-set size (authors': 750)")
    p.add_argument("--n-val", type=int, help="override the validation-set size (authors': 250)")
    p.add_argument("--chunk", type=int, default=100, help="epochs per compiled call")
    p.add_argument("--no-progress", action="store_true")
    add_output_arguments(p)
    add_measure_arguments(p)
    distributed.add_arguments(p)
    args = p.parse_args(argv)
    # Before any work: a bad output folder found at the end would lose the run.
    if report_bad_sweep_outputs(args):
        return 2
    overrides = {k: v for k, v in dict(
        epochs=args.epochs, hidden=args.hidden, n_train=args.n_train, n_val=args.n_val,
        inputs=args.inputs, bias_init=args.bias_init,
        accuracy=args.accuracy, spurious=args.spurious,
        full_set_metrics=args.full_set_metrics or None,
        input_sizes=tuple(args.input_sizes) if args.input_sizes else None,
        seeds=tuple(args.seeds) if args.seeds else None).items() if v is not None}
    try:  # every value checked before any work
        cfg = dataclasses.replace(PRESETS[args.preset], **overrides)
        options = options_from_args(args)
        require("chunk", args.chunk, lambda a: a >= 1, ">= 1")
        # The preset's own configuration keeps the plain name; any other carries its hash.
        path = result_path(args.out, f"parity_sweep_{args.preset}",
                           cfg != PRESETS[args.preset] or options != DEFAULT_OPTIONS,
                           {"config": cfg, "measure": options})
        check_new_results(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    print(f"== parity sweep: preset {args.preset}, {len(cfg.runs)} runs ==\n{cfg}")
    distributed.setup(args, len(cfg.runs))
    start = time.perf_counter()
    arrays = measure_sweep(cfg, chunk=args.chunk, progress=not args.no_progress, options=options)
    seconds = time.perf_counter() - start
    trend = trends(arrays)
    print(parity_table(arrays))
    for name in ("relative_sharpness", "absolute_sharpness"):
        law, rho = trend[name].get("power_law"), trend[name].get("spearman")
        if law:
            print(f"{name}: log-log slope {law['slope']:.3f} ± {law['slope_se']:.3f} "
                  f"(R² {law['r2']:.3f}), Spearman ρ vs gap {rho:+.3f}")
    grokked = np.isfinite(arrays["first_val_above"])
    print(f"{grokked.sum()} of {grokked.size} runs pass {THRESHOLD} validation accuracy; "
          f"{trend['n_ok']} runs measured, {trend['n_failed']} recorded failures; {seconds:.1f} s")
    npz, _ = save_results(path, arrays, {
        "experiment": "parity_sweep", "preset": args.preset, "config": dataclasses.asdict(cfg),
        "procedure": cfg.procedure, "measure": dataclasses.asdict(options),
        "trends": trend, "seconds": seconds,
        "command": shlex.join(["python", "-m", "experiments.parity_sweep", *argv])})
    print(f"wrote {npz} (+ .json)")
    print_written(write_tables(path, arrays, {"input_size": arrays["input_size"],
                                              "seed": arrays["seed"]}, trend))
    if not args.no_figures:
        print_written(draw_figures(path, args.figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
