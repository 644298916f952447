"""Can grokking be predicted from the first steps' training loss? Notsawo et al.'s spectral
signature tested on the concealed-parity MLP.

    python -m experiments.early_prediction                 # quick: 12 runs, about 2 min
    python -m experiments.early_prediction --preset full   # 60 runs: 4 training fractions × 5 sizes × 3 seeds

Every run is the parity sweep's (the authors' procedure, ``linear_grok.settings.parity``) with
``n_train + n_val = 1000`` samples split at several training fractions, trained for 3000 epochs,
recording the loss and accuracy of each of its first 800 optimisation steps on their minibatches
(inside the compiled step). The outcomes are measured by the shared pipeline on the per-epoch
curves: final validation accuracy (mean of the last 10 epochs), whether the run groks within the
budget (validation accuracy above the authors' 0.99), and its relative gap and relative sharpness
(erf fits). For each window K ∈ {100, 200, 400, 800} steps the features of
:mod:`linear_grok.early` are computed from the per-step training loss and related to the outcomes:

* Spearman's ρ of every feature with every outcome, with 95 % bootstrap intervals over runs;
* a cross-validated classifier of "groks within the budget" (L2 logistic regression on the
  standardised features, stratified 5-fold, 20 repeats) and its ROC AUC with a bootstrap
  interval, beside two baselines through the same classifier: the early train accuracy (mean
  minibatch accuracy over the window's last quarter) and the design (training fraction and input
  size, known before training).

Nothing is tuned to the outcome: the trend degree, bands, classifier and its penalty are fixed in
:mod:`linear_grok.early`. Results go to ``results/early_prediction_<preset>.{npz,json}`` (with
``_correlations.csv``, ``_auc.csv``); figures to ``figures/early_features_<preset>.png`` and
``figures/early_auc_<preset>.png``.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from experiments.parity_sweep import THRESHOLD, measure_sweep
from linear_grok import __version__, early
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.pipeline import write_csv
from linear_grok.plotting import save
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
from linear_grok.trends import spearman
from linear_grok.validation import require

FINAL_EPOCHS = 10  # final validation accuracy: mean over the last epochs (batch-mean is noisy)
OUTCOMES = ("final_val_acc", "grokked", "relative_gap", "relative_sharpness")
PREDICTORS = ("activity", "mobility", "complexity", *(f"band_{b}" for b in early.BANDS),
              "early_train_acc")  # energy ranks as activity (K·activity): left out
# Classifiers of "groks within the budget": their inputs (R, p) from a window's predictors and the
# runs' arrays. The design is known before training: the baseline that any early signal must beat.
CLASSIFIERS = {
    "spectral features": lambda preds, arrays: early.classifier_inputs(preds),
    "early train accuracy": lambda preds, arrays: preds["early_train_acc"][:, None],
    "design (training fraction, input size)": lambda preds, arrays: np.stack(
        [arrays["training_fraction"], arrays["input_size"]], axis=-1).astype(np.float64),
}


@dataclass(frozen=True)
class EarlyGrid:
    """The runs: every training size × input size × seed of the authors' parity procedure.

    Attributes:
      n_train: training-set sizes; the rest of ``n_total`` samples is the validation set.
      n_total: samples drawn per run (the authors': 750 + 250).
      input_sizes, seeds, epochs: as :class:`linear_grok.settings.parity.ParityConfig`.
      windows: early windows K, in optimisation steps.
      n_boot: bootstrap resamples of every interval. seed: of the bootstrap and the CV splits.
    """

    n_train: tuple[int, ...] = (400, 500, 600, 700)
    n_total: int = 1000
    input_sizes: tuple[int, ...] = (25, 30, 35, 40, 45)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 3000
    windows: tuple[int, ...] = (100, 200, 400, 800)
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self):
        require("n_train", np.asarray(self.n_train), lambda a: (a >= 1) & (a < self.n_total),
                f"in [1, n_total = {self.n_total})")
        require("windows", np.asarray(self.windows), lambda a: a >= 16, ">= 16 steps")
        require("n_boot", self.n_boot, lambda a: a >= 100, ">= 100")
        for cfg in self.configs():  # every run's configuration checked before any work
            require("windows", max(self.windows), lambda a, c=cfg: a <= c.total_steps,
                    f"<= the steps of a run ({cfg.total_steps} at n_train = {cfg.n_train})")

    def configs(self) -> list[parity.ParityConfig]:
        """One parity sweep per training size, each recording its first max(windows) steps."""
        return [dataclasses.replace(parity.PAPER, n_train=n, n_val=self.n_total - n,
                                    input_sizes=self.input_sizes, seeds=self.seeds,
                                    epochs=self.epochs, step_metrics=max(self.windows))
                for n in self.n_train]

    @property
    def n_runs(self) -> int:
        return len(self.n_train) * len(self.input_sizes) * len(self.seeds)


PRESETS = {
    "quick": EarlyGrid(n_train=(400, 600), input_sizes=(25, 35, 45), seeds=(0, 1), n_boot=500),
    "full": EarlyGrid(),
}


def run_grid(grid: EarlyGrid, progress: bool = True) -> dict[str, np.ndarray]:
    """Train and measure every run; arrays with a leading runs axis (R, ...), ``epoch`` and
    ``step`` shared, ``n_train`` and ``training_fraction`` per run."""
    pieces = []
    for cfg in grid.configs():
        arrays = measure_sweep(cfg, progress=progress)
        runs = arrays["seed"].size
        arrays["n_train"] = np.full(runs, cfg.n_train)
        arrays["training_fraction"] = np.full(runs, cfg.training_fraction)
        pieces.append(arrays)
    shared = ("epoch", "step")
    out = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0] if k not in shared}
    out.update({k: pieces[0][k] for k in shared})
    return out


def outcomes(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-run outcomes (R,): final validation accuracy, grokked within the budget (0/1), and the
    relative gap and sharpness of the runs the pipeline measured (NaN elsewhere)."""
    measured = arrays["ok"]
    return {"final_val_acc": arrays["val_acc"][:, -FINAL_EPOCHS:].mean(axis=1),
            "grokked": np.isfinite(arrays["first_val_above"]).astype(np.float64),
            "relative_gap": np.where(measured, arrays["relative_gap"], np.nan),
            "relative_sharpness": np.where(measured, arrays["relative_sharpness"], np.nan)}


def window_predictors(arrays: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """The predictors of window ``k`` (R,): spectral features of the per-step training loss and the
    early train accuracy (mean minibatch accuracy over the window's last quarter). A run whose
    loss is not finite and positive over the window (diverged) has NaN features: left out of
    every statistic, not the end of the analysis."""
    loss = arrays["step_loss"][:, :k]
    usable = np.all(np.isfinite(loss) & (loss > 0), axis=1)
    feats = {name: np.full(usable.size, np.nan) for name in early.FEATURES}
    if usable.any():
        for name, value in early.spectral_features(loss[usable]).items():
            feats[name][usable] = value
    feats["early_train_acc"] = arrays["step_acc"][:, k - k // 4:k].mean(axis=1)
    return feats


def analyse(arrays: dict[str, np.ndarray], grid: EarlyGrid) -> dict:
    """Correlations and classifier AUCs for every window (module docstring)."""
    rng = np.random.default_rng(grid.seed)
    outs = outcomes(arrays)
    grokked = outs["grokked"].astype(bool)
    result = {"n_runs": int(grokked.size), "n_grokked": int(grokked.sum()), "windows": {}}
    for k in grid.windows:
        preds = window_predictors(arrays, k)
        corr = {}
        for p in PREDICTORS:
            corr[p] = {}
            for o in OUTCOMES:
                keep = np.isfinite(preds[p]) & np.isfinite(outs[o])
                rho, lo, hi = early.bootstrap_interval(
                    spearman, preds[p][keep], outs[o][keep], rng=rng, n_boot=grid.n_boot)
                corr[p][o] = {"rho": rho, "lo": lo, "hi": hi, "n": int(keep.sum())}
        aucs = {}
        for name, inputs in CLASSIFIERS.items():
            x = inputs(preds, arrays)
            rows = np.all(np.isfinite(x), axis=1)  # runs with every input defined
            try:
                scores = early.cross_validated_scores(x[rows], grokked[rows], rng)
            except ValueError as err:
                aucs[name] = {"auc": float("nan"), "lo": float("nan"), "hi": float("nan"),
                              "n": int(rows.sum()), "reason": str(err)}
                continue
            auc, lo, hi = early.bootstrap_interval(early.roc_auc, scores, grokked[rows], rng=rng,
                                                   n_boot=grid.n_boot)
            aucs[name] = {"auc": auc, "lo": lo, "hi": hi, "n": int(rows.sum()), "reason": ""}
        result["windows"][str(k)] = {"spearman": corr, "auc": aucs}
    return result


def report(analysis: dict) -> str:
    """Spearman ρ [95 % interval] of each predictor with each outcome, and the AUCs, per window."""
    lines = [f"{analysis['n_runs']} runs, {analysis['n_grokked']} grok within the budget "
             f"(validation accuracy > {THRESHOLD})"]
    for k, res in analysis["windows"].items():
        lines.append(f"\n-- first {k} steps: Spearman ρ [95 % bootstrap interval] --")
        lines.append(f"{'predictor':>16} " + " ".join(f"{o:>22}" for o in OUTCOMES))
        for p, row in res["spearman"].items():
            cells = [f"{c['rho']:+.2f} [{c['lo']:+.2f}, {c['hi']:+.2f}]" for c in row.values()]
            lines.append(f"{p:>16} " + " ".join(f"{c:>22}" for c in cells))
        for name, a in res["auc"].items():
            lines.append(f"  AUC (grokked), {name}: {a['auc']:.3f} [{a['lo']:.3f}, {a['hi']:.3f}]"
                         f" over {a['n']} runs" + (f"  ({a['reason']})" if a["reason"] else ""))
    return "\n".join(lines)


def write_csv_tables(path: Path, analysis: dict) -> list[Path]:
    """``<path>_correlations.csv`` (window, predictor, outcome, ρ, bounds, n) and ``<path>_auc.csv``
    (window, classifier, AUC, bounds, runs used, reason)."""
    corr = [[k, p, o, c["rho"], c["lo"], c["hi"], c["n"]]
            for k, res in analysis["windows"].items()
            for p, row in res["spearman"].items() for o, c in row.items()]
    aucs = [[k, name, a["auc"], a["lo"], a["hi"], a["n"], a["reason"]]
            for k, res in analysis["windows"].items() for name, a in res["auc"].items()]
    paths = [path.with_name(path.name + "_correlations.csv"), path.with_name(path.name + "_auc.csv")]
    write_csv(paths[0], ["window", "predictor", "outcome", "rho", "lo", "hi", "n"], corr)
    write_csv(paths[1], ["window", "classifier", "auc", "lo", "hi", "n", "reason"], aucs)
    return paths


def fig_features(arrays, meta, path: Path, k: int = 400) -> Path:
    """Each feature of the first ``k`` steps against the final validation accuracy, one dot a run
    (the slides' "energy at 400 steps vs final test accuracy"), coloured by training fraction,
    hollow where the run did not grok."""
    k = k if k in meta["grid"]["windows"] else max(meta["grid"]["windows"])
    preds, outs = window_predictors(arrays, k), outcomes(arrays)
    names = ("activity", "mobility", "complexity", "band_high", "band_low", "early_train_acc")
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), layout="constrained")
    fractions = np.unique(arrays["training_fraction"])
    colors = plt.cm.viridis(np.linspace(0, 0.9, fractions.size))
    res = meta["analysis"]["windows"][str(k)]["spearman"]
    for ax, name in zip(axes.ravel(), names, strict=True):
        for frac, color in zip(fractions, colors, strict=True):
            for grok, face in ((True, color), (False, "none")):
                sel = (arrays["training_fraction"] == frac) & (outs["grokked"].astype(bool) == grok)
                ax.scatter(preds[name][sel], outs["final_val_acc"][sel], s=22, facecolors=face,
                           edgecolors=color, label=f"r = {frac:.2f}" if grok else None)
        rho, lo, hi = (np.float64(res[name]["final_val_acc"][v] or np.nan)
                       for v in ("rho", "lo", "hi"))
        ax.set_title(f"{name}: ρ = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}]", fontsize=9)
        if name == "activity":
            ax.set_xscale("log")
        ax.set_xlabel(f"{name}, first {k} steps")
        ax.set_ylabel("final validation accuracy")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=fractions.size, fontsize=8,
               title="training fraction (hollow: did not grok within the budget)", title_fontsize=8)
    fig.suptitle(f"Early training-loss spectrum vs outcome: concealed parity, "
                 f"{meta['analysis']['n_runs']} runs (preset {meta['preset']})", fontsize=10)
    save(fig, path)
    return path


def fig_auc(meta, path: Path) -> Path:
    """Cross-validated ROC AUC of "groks within the budget" against the window K, per classifier,
    with bootstrap intervals; ½ is chance."""
    windows = meta["analysis"]["windows"]
    ks = np.array([int(k) for k in windows])
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, name in enumerate(CLASSIFIERS):
        # The sidecar stores NaN as null: float arrays bring it back.
        auc, lo, hi = (np.array([windows[str(k)]["auc"][name][v] for k in ks], dtype=np.float64)
                       for v in ("auc", "lo", "hi"))
        shift = ks * (1 + 0.04 * (j - 1))  # side by side on the log axis
        ax.errorbar(shift, auc, yerr=[auc - lo, hi - auc], marker="o", capsize=3, label=name)
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(ks.min() / 1.4, ks.max() * 1.4)  # also when every AUC is undefined
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("window K (optimisation steps from the start)")
    ax.set_ylabel("ROC AUC, grokked within budget")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.set_title(f"Predicting grokking from the first K steps ({meta['analysis']['n_runs']} runs, "
                 f"{meta['analysis']['n_grokked']} grok; preset {meta['preset']})", fontsize=9)
    save(fig, path)
    return path


def draw_figures(path, figdir) -> list[Path]:
    """Both figures from a saved result."""
    arrays, meta = load_results(path, require=("step_loss", "step_acc", "val_acc", "ok"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    tag = Path(path).name.removeprefix("early_prediction_")
    return [fig_features(arrays, meta, figdir / f"early_features_{tag}.png"),
            fig_auc(meta, figdir / f"early_auc_{tag}.png")]


@command
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = ArgumentParser(prog="python -m experiments.early_prediction", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick")
    p.add_argument("--n-train", type=int, nargs="+", help="training-set sizes (of n_total = 1000)")
    p.add_argument("--input-sizes", type=int, nargs="+", help="input sizes")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds")
    p.add_argument("--epochs", type=int, help="training budget in epochs")
    p.add_argument("--windows", type=int, nargs="+", help="early windows K, in steps")
    p.add_argument("--no-progress", action="store_true")
    add_output_arguments(p)
    args = p.parse_args(argv)
    if report_bad_sweep_outputs(args):
        return 2
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(
        n_train=args.n_train, input_sizes=args.input_sizes, seeds=args.seeds, epochs=args.epochs,
        windows=args.windows).items() if v is not None}
    try:  # every value checked before any work
        grid = dataclasses.replace(PRESETS[args.preset], **overrides)
        path = result_path(args.out, f"early_prediction_{args.preset}",
                           grid != PRESETS[args.preset], {"grid": grid})
        check_new_results(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    print(f"== early prediction: preset {args.preset}, {grid.n_runs} runs ==\n{grid}")
    start = time.perf_counter()
    arrays = run_grid(grid, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    analysis = analyse(arrays, grid)
    print(report(analysis))
    print(f"{seconds:.1f} s training and measuring")
    npz, _ = save_results(path, arrays, {
        "experiment": "early_prediction", "preset": args.preset, "grid": dataclasses.asdict(grid),
        "procedure": parity.PAPER.procedure, "trend_degree": early.TREND_DEGREE,
        "bands": early.BANDS, "analysis": analysis, "seconds": seconds,
        "command": shlex.join(["python", "-m", "experiments.early_prediction", *argv])})
    print(f"wrote {npz} (+ .json)")
    print_written(write_csv_tables(path, analysis))
    if not args.no_figures:
        print_written(draw_figures(path, args.figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
