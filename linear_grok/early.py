"""Early prediction of grokking from the training loss's spectrum (Notsawo et al., 2023).

Notsawo, Zhou, Pezeshki, Rish and Dumas ("Predicting grokking long before it happens",
arXiv:2306.13253) report that the oscillations of the *training* loss over the first few hundred
steps correlate with the final validation accuracy. This module computes their spectral signature
of a loss series and its spikes, vectorised over runs, and the statistics that test them against
measured outcomes, on the parity MLP under SGD (``experiments/early_prediction.py``) and on
modular addition under AdamW (``experiments/early_prediction_adamw.py``); definitions in
``docs/theory.md`` §19.

Features of the first ``K`` samples ``L_0 … L_{K−1}`` of a loss logged every ``dt`` time units:

1. **Trend removed, in log space.** The least-squares polynomial of degree ``trend_degree`` (3 by
   default) in the step, one per run, is subtracted from ``log L``: ``x = log L − trend``, the
   loss's *relative* fluctuation about its trend. Without this the decay of the loss puts almost
   all the power into the lowest frequency bins and every feature measures the decay. In log
   space because early losses fall exponentially, often by several e-folds within the window: a
   cubic follows ``log L`` closely but leaves a slow residual in ``L`` itself that swamps the
   fluctuations (``scale="linear"`` detrends ``L``, for losses that may touch zero); relative
   fluctuations also compare runs whose loss levels differ.
2. **Power spectrum.** ``P_j = |X_j|² / K²`` for ``X = rfft(x)``, doubled for ``0 < j < K/2``, at
   ``f_j = j / (K·dt)`` cycles per time unit: one-sided and normalised so that ``Σ_j P_j =
   mean(x²)`` (Parseval). Rectangular window (no taper): a sine with a whole number of cycles falls
   in one bin.
3. **Hjorth parameters from spectral moments** ``m_n = Σ_j ω_j^n P_j`` with ``ω = 2πf``:
   activity ``m₀`` (the signal power; dimensionless in log space), mobility ``√(m₂/m₀)``
   (radians per time unit: the mean angular frequency), complexity ``√(m₄/m₂)/√(m₂/m₀)`` (1 for
   a pure sine); energy ``K·m₀ = Σ_t x_t²`` (the slides' ``∫|F(L)|²``, over the window); and the
   share of the power in three frequency bands (:data:`BANDS`, in cycles per sample).

For a sine ``A·sin(2πf t)`` of a whole number of cycles: activity ``A²/2``, mobility ``2πf``,
complexity 1; for white noise of variance ``σ²``: activity ``σ²``, mobility ``π/√3`` per sample,
complexity ``√(9/5)`` (``tests/test_early.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize

from linear_grok.pipeline import write_csv
from linear_grok.settings import parity
from linear_grok.settings.modular import adamw as modular_adamw
from linear_grok.trends import average_ranks, spearman
from linear_grok.validation import require

__all__ = ["BANDS", "TREND_DEGREE", "FEATURES", "CLASSIFIER_FEATURES", "detrend", "power_spectrum",
           "spectral_features", "classifier_inputs", "roc_auc", "bootstrap_interval", "fit_logistic",
           "cross_validated_scores", "SPIKE_FACTOR", "SPIKE_PREDICTORS", "loss_spikes",
           "parity_design", "FINAL_EPOCHS", "OUTCOMES", "PREDICTORS", "CLASSIFIERS",
           "EarlyGrid", "PRESETS", "run_grid", "AdamWEarlyGrid", "ADAMW_PRESETS",
           "run_adamw_grid", "outcomes", "window_predictors", "analyse", "report",
           "write_csv_tables"]

# Frequency bands (cycles per sample; Nyquist ½) of the band shares: slow drifts over tens of
# samples, oscillations of 8–32 samples, and step-to-step noise.
BANDS = {"low": (0.0, 1 / 32), "mid": (1 / 32, 1 / 8), "high": (1 / 8, 0.5)}
TREND_DEGREE = 3
FEATURES = ("activity", "mobility", "complexity", "energy",
            *(f"band_{name}" for name in BANDS))
# What the classifier sees: scale-free versions of the features (energy is K·activity).
CLASSIFIER_FEATURES = ("log_activity", "mobility", "complexity",
                       *(f"band_{name}" for name in BANDS))


def detrend(loss: np.ndarray, degree: int | None = TREND_DEGREE) -> np.ndarray:
    """``loss`` (..., K) minus its least-squares polynomial of ``degree`` in the step, per series
    (Legendre basis on [−1, 1], well conditioned for any K); ``None``: the series unchanged."""
    loss = np.asarray(loss, dtype=np.float64)
    if degree is None:
        return loss
    require("trend_degree", degree, lambda a: (a >= 0) & (a < loss.shape[-1] - 1),
            f"in [0, K − 1) = [0, {loss.shape[-1] - 1}), or None")
    basis = np.polynomial.legendre.legvander(np.linspace(-1, 1, loss.shape[-1]), degree)  # (K, d+1)
    flat = loss.reshape(-1, loss.shape[-1]).T  # (K, runs)
    coef, *_ = np.linalg.lstsq(basis, flat, rcond=None)
    return (flat - basis @ coef).T.reshape(loss.shape)


def power_spectrum(x: np.ndarray, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectrum of ``x`` (..., K): frequencies (K//2 + 1,) in cycles per time unit
    and powers (..., K//2 + 1) summing to ``mean(x²)`` over the last axis."""
    k = x.shape[-1]
    power = np.abs(np.fft.rfft(x, axis=-1)) ** 2 / k**2
    power[..., 1:(k + 1) // 2] *= 2  # each positive frequency stands for its negative too
    return np.fft.rfftfreq(k, d=dt), power


def spectral_features(loss: np.ndarray, k: int | None = None, dt: float = 1.0,
                      trend_degree: int | None = TREND_DEGREE, scale: str = "log"
                      ) -> dict[str, np.ndarray]:
    """The spectral signature of the first ``k`` samples of each loss series (module docstring).

    Args:
      loss: (..., T) losses logged every ``dt`` time units (T ≥ k), e.g. (runs, steps).
      k: window length in samples (default: all T); at least 16.
      dt: sampling interval of the series, in the time unit of the result's frequencies.
      trend_degree: degree of the removed polynomial trend; ``None`` removes nothing (not even
        the mean).
      scale: ``"log"`` analyses ``log L`` (the default; losses must be > 0), ``"linear"`` ``L``.
    Returns:
      ``activity`` (squared units of the analysed series), ``mobility`` (radians per time unit),
      ``complexity``, ``energy`` (activity summed over the window), ``band_low``, ``band_mid``,
      ``band_high`` (shares of the activity), each shaped like ``loss`` without its last axis.
    """
    loss = np.asarray(loss, dtype=np.float64)
    k = loss.shape[-1] if k is None else k
    require("k", k, lambda a: (a >= 16) & (a <= loss.shape[-1]),
            f"in [16, the series' length {loss.shape[-1]}]")
    require("dt", dt, lambda a: a > 0, "> 0")
    if scale not in ("log", "linear"):
        raise ValueError(f"scale must be 'log' or 'linear'; got {scale!r}")
    window = loss[..., :k]
    if not np.all(np.isfinite(window)):
        raise ValueError("loss must be finite over the first k samples")
    if scale == "log":
        if np.any(window <= 0):
            raise ValueError("loss must be > 0 over the first k samples for scale='log' "
                             "(use scale='linear' for a loss that reaches 0)")
        window = np.log(window)
    freq, power = power_spectrum(detrend(window, trend_degree), dt)
    omega = 2 * np.pi * freq
    m0, m2, m4 = (np.sum(omega**n * power, axis=-1) for n in (0, 2, 4))
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant series: NaN, not a crash
        mobility = np.sqrt(m2 / m0)
        out = {"activity": m0, "mobility": mobility, "complexity": np.sqrt(m4 / m2) / mobility,
               "energy": k * m0}
        cycles = freq * dt  # cycles per sample
        for name, (lo, hi) in BANDS.items():
            inside = (cycles > lo) & (cycles <= hi)
            out[f"band_{name}"] = np.sum(power[..., inside], axis=-1) / m0
    return out


def classifier_inputs(features: dict[str, np.ndarray]) -> np.ndarray:
    """(runs, len(CLASSIFIER_FEATURES)): the features the classifier uses, activity in log."""
    cols = {**features, "log_activity": np.log(features["activity"])}
    return np.stack([cols[name] for name in CLASSIFIER_FEATURES], axis=-1)


# --- How well do features predict outcomes -------------------------------------------------


def roc_auc(score: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting ½ (the Mann–Whitney U statistic over ``n₊·n₋``); NaN with one class.

    score, label (..., n): vectorised over leading axes (bootstrap resamples).
    """
    score, label = np.asarray(score, dtype=np.float64), np.asarray(label, dtype=bool)
    n_pos, n_neg = label.sum(axis=-1), (~label).sum(axis=-1)
    u = np.sum(average_ranks(score) * label, axis=-1) - n_pos * (n_pos + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def bootstrap_interval(statistic: Callable[..., np.ndarray], *columns: np.ndarray,
                       rng: np.random.Generator, n_boot: int = 2000, level: float = 0.95
                       ) -> tuple[float, float, float]:
    """``(value, lower, upper)``: ``statistic(*columns)`` and its percentile bootstrap interval.

    Runs (the last axis, shared by all ``columns``) are resampled with replacement ``n_boot``
    times; ``statistic`` is vectorised over a leading axis of resamples. Resamples where it is
    undefined (NaN: one class, a constant column) are dropped; the interval is NaN when more
    than half are, and all three are NaN with fewer than 3 runs.
    """
    n = len(columns[0])
    if n < 3:  # nothing to rank or resample
        return float("nan"), float("nan"), float("nan")
    value = float(statistic(*columns))
    idx = rng.integers(0, n, size=(n_boot, n))
    draws = statistic(*(np.asarray(c)[idx] for c in columns))
    draws = draws[np.isfinite(draws)]
    if draws.size < n_boot // 2:
        return value, float("nan"), float("nan")
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return value, float(lo), float(hi)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression ``P(y = 1) = σ(x·w + b)``: ``(w, b)`` minimising the summed
    log-loss plus ``l2·|w|²/2`` (the intercept unpenalised), by L-BFGS. x (n, p), y (n,) in {0, 1}."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def objective(theta):
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        # log(1 + e^z) − y·z, stably; its gradient is σ(z) − y.
        loss = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * w @ w
        r = 0.5 * (1 + np.tanh(0.5 * z)) - y
        return loss, np.append(x.T @ r + l2 * w, r.sum())

    res = optimize.minimize(objective, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return res.x[:-1], float(res.x[-1])


def cross_validated_scores(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                           folds: int = 5, repeats: int = 20, l2: float = 1.0) -> np.ndarray:
    """Out-of-fold logistic scores (n,), averaged over ``repeats`` stratified ``folds``-fold splits.

    Each fold standardises the features with its training part's mean and deviation, fits
    :func:`fit_logistic` there and scores the held-out runs (the linear predictor ``x·w + b``).
    x (n, p), y (n,) booleans with at least ``folds`` runs in each class.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=bool)
    if min(y.sum(), (~y).sum()) < folds:
        raise ValueError(f"each class needs at least folds = {folds} runs; got {y.sum()} "
                         f"positive and {(~y).sum()} negative")
    scores = np.zeros((repeats, y.size))
    for rep in range(repeats):
        fold = np.empty(y.size, dtype=int)
        for cls in (True, False):  # stratified: each class dealt round the folds in random order
            members = rng.permutation(np.flatnonzero(y == cls))
            fold[members] = np.arange(members.size) % folds
        for f in range(folds):
            train, test = fold != f, fold == f
            mu, sd = x[train].mean(axis=0), x[train].std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
            w, b = fit_logistic((x[train] - mu) / sd, y[train], l2)
            scores[rep, test] = ((x[test] - mu) / sd) @ w + b
    return scores.mean(axis=0)


FINAL_EPOCHS = 10  # final validation accuracy: mean over the last epochs (batch-mean is noisy)


OUTCOMES = ("final_val_acc", "grokked", "relative_gap", "relative_sharpness")


PREDICTORS = ("activity", "mobility", "complexity", *(f"band_{b}" for b in BANDS),
              "early_train_acc")  # energy ranks as activity (K·activity): left out


SPIKE_FACTOR = 2.0  # a spike: the loss above twice its lowest value so far
SPIKE_PREDICTORS = ("spike_count", "spike_max")


def loss_spikes(loss: np.ndarray, factor: float = SPIKE_FACTOR) -> dict[str, np.ndarray]:
    """Spikes of loss series (..., T): excursions above ``factor`` times the running minimum.

    A spike starts at a step whose loss exceeds ``factor·min(L_0 … L_t)`` while the step before
    did not, and lasts while it does; the slingshots of Thilak et al. (2022) are such excursions
    of the training loss under adaptive optimisers, by orders of magnitude. Returns
    ``spike_count`` (the number of spikes) and ``spike_max`` (the largest rise of the loss above
    its running minimum, in decades, spike or not: ``log10(factor)`` and more is a spike), each
    shaped like ``loss`` without its last axis. Non-finite or non-positive losses give NaN.
    """
    loss = np.asarray(loss, dtype=np.float64)
    usable = np.all(np.isfinite(loss) & (loss > 0), axis=-1)
    safe = np.where(usable[..., None], loss, 1.0)
    rise = np.log10(safe / np.minimum.accumulate(safe, axis=-1))
    above = rise > np.log10(factor)
    starts = above & ~np.concatenate([np.zeros_like(above[..., :1]), above[..., :-1]], axis=-1)
    return {"spike_count": np.where(usable, starts.sum(axis=-1), np.nan),
            "spike_max": np.where(usable, rise.max(axis=-1), np.nan)}


# Classifiers of "groks within the budget": their inputs (R, p) from a window's predictors and the
# design matrix. The design is known before training: the baseline that any early signal must beat.
CLASSIFIERS = {
    "spectral features": lambda preds, design: classifier_inputs(preds),
    "early train accuracy": lambda preds, design: preds["early_train_acc"][:, None],
    "design": lambda preds, design: design,
}


def parity_design(arrays: dict[str, np.ndarray]) -> tuple[str, np.ndarray]:
    """The parity grid's design: its name and the (R, 2) training fraction and input size."""
    return "design (training fraction, input size)", np.stack(
        [arrays["training_fraction"], arrays["input_size"]], axis=-1).astype(np.float64)


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
        arrays = parity.measure_sweep(cfg, progress=progress)
        runs = arrays["seed"].size
        arrays["n_train"] = np.full(runs, cfg.n_train)
        arrays["training_fraction"] = np.full(runs, cfg.training_fraction)
        pieces.append(arrays)
    shared = ("epoch", "step")
    out = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0] if k not in shared}
    out.update({k: pieces[0][k] for k in shared})
    return out


@dataclass(frozen=True)
class AdamWEarlyGrid:
    """The runs of the AdamW regime (:mod:`linear_grok.settings.modular.adamw`): every learning
    rate × weight decay × training fraction × seed, like Notsawo et al.'s heat maps over learning
    rate × weight decay, with full-batch steps (each step one record).

    Attributes:
      lrs, weight_decays, train_fractions, seeds, hidden, steps: as
        :class:`~linear_grok.settings.modular.adamw.AdamWConfig` (``steps`` is the budget).
      windows: early windows K, in steps. n_boot, seed: of the bootstrap and the CV splits.
    """

    lrs: tuple[float, ...] = (3e-3, 1e-2)
    weight_decays: tuple[float, ...] = (0.0, 0.3, 1.0, 5.0, 15.0)
    train_fractions: tuple[float, ...] = (0.2, 0.25, 0.3)
    seeds: tuple[int, ...] = (0,)
    hidden: int = 500
    steps: int = 1500
    windows: tuple[int, ...] = (50, 100, 200, 400)
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self):
        self.adamw  # noqa: B018  (checks the runs' fields)
        require("windows", np.asarray(self.windows), lambda a: (a >= 16) & (a <= self.steps),
                f"in [16, steps = {self.steps}]")
        require("n_boot", self.n_boot, lambda a: a >= 100, ">= 100")

    @property
    def adamw(self) -> modular_adamw.AdamWConfig:
        """The runs' :class:`~linear_grok.settings.modular.adamw.AdamWConfig`."""
        return modular_adamw.AdamWConfig(
            train_fractions=self.train_fractions, weight_decays=self.weight_decays, lrs=self.lrs,
            seeds=self.seeds, hidden=self.hidden, steps=self.steps)


ADAMW_PRESETS = {
    # Two learning rates × five decays × three small fractions, where some runs grok within the
    # 1 500 steps and some do not.
    "full": AdamWEarlyGrid(),
    "quick": AdamWEarlyGrid(lrs=(1e-2,), weight_decays=(0.0, 1.0, 15.0), train_fractions=(0.2, 0.3),
                            steps=500, windows=(50, 100, 200), n_boot=500),
}


def run_adamw_grid(grid: AdamWEarlyGrid, progress: bool = True) -> dict[str, np.ndarray]:
    """Train and measure every run (:func:`~linear_grok.settings.modular.adamw.run_adamw`);
    arrays with a leading runs axis (R, ...) under the names :func:`outcomes` and
    :func:`window_predictors` read (``val_acc`` the test accuracy at every step,
    ``first_val_above`` the first step above 99 %), each run's ``lr``, ``weight_decay``,
    ``training_fraction``, ``seed`` and ``design`` (R, 3: log10 lr, weight decay, fraction), the
    whole run's training loss and its spikes (``run_spike_count``, ``run_spike_max``)."""
    arrays = modular_adamw.run_adamw(grid.adamw, progress=progress)
    shape = arrays["ok"].shape
    flat = {k: v.reshape(int(np.prod(shape)), *v.shape[len(shape):]) for k, v in arrays.items()
            if v.shape[:len(shape)] == shape}
    labels = {a: v.ravel() for a, v in zip(
        modular_adamw.AXES, np.meshgrid(*(arrays[a] for a in modular_adamw.AXES), indexing="ij"),
        strict=True)}
    k = max(grid.windows)
    out = {**flat, "step_loss": flat["train_loss"][:, :k], "step_acc": flat["train_acc"][:, :k],
           "val_acc": flat["test_acc"], "first_val_above": flat["grok_step"],
           "lr": labels["lr"], "weight_decay": labels["weight_decay"],
           "training_fraction": labels["train_fraction"], "seed": labels["seed"],
           "design": np.stack([np.log10(labels["lr"]), labels["weight_decay"],
                               labels["train_fraction"]], axis=-1),
           "step": np.arange(k, dtype=np.float64), "epoch": arrays["step"]}
    out.update({f"run_{name}": v for name, v in loss_spikes(flat["train_loss"]).items()})
    return out


def outcomes(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-run outcomes (R,): final validation accuracy, grokked within the budget (0/1), and the
    relative gap and sharpness of the runs the pipeline measured (NaN elsewhere)."""
    measured = arrays["ok"]
    return {"final_val_acc": arrays["val_acc"][:, -FINAL_EPOCHS:].mean(axis=1),
            "grokked": np.isfinite(arrays["first_val_above"]).astype(np.float64),
            "relative_gap": np.where(measured, arrays["relative_gap"], np.nan),
            "relative_sharpness": np.where(measured, arrays["relative_sharpness"], np.nan)}


def window_predictors(arrays: dict[str, np.ndarray], k: int, spikes: bool = False
                      ) -> dict[str, np.ndarray]:
    """The predictors of window ``k`` (R,): spectral features of the per-step training loss and the
    early train accuracy (mean accuracy over the window's last quarter); with ``spikes``, the
    window's :func:`loss_spikes` too. A run whose loss is not finite and positive over the
    window (diverged) has NaN features: left out of every statistic, not the end of the
    analysis."""
    loss = arrays["step_loss"][:, :k]
    usable = np.all(np.isfinite(loss) & (loss > 0), axis=1)
    feats = {name: np.full(usable.size, np.nan) for name in FEATURES}
    if usable.any():
        for name, value in spectral_features(loss[usable]).items():
            feats[name][usable] = value
    feats["early_train_acc"] = arrays["step_acc"][:, k - k // 4:k].mean(axis=1)
    if spikes:
        feats.update(loss_spikes(loss))
    return feats


def analyse(arrays: dict[str, np.ndarray], grid, predictors: tuple[str, ...] = PREDICTORS,
            design: tuple[str, np.ndarray] | None = None, setting: str = "concealed parity") -> dict:
    """Correlations and classifier AUCs for every window (module docstring).

    Args:
      arrays: the runs' arrays (R, ...) with ``step_loss``, ``step_acc`` and what
        :func:`outcomes` reads. grid: ``windows``, ``n_boot`` and ``seed`` of the study.
      predictors: the window's predictors related to the outcomes (those of
        :func:`window_predictors`; the spike counts when named).
      design: the design baseline's name and (R, d) matrix (default: :func:`parity_design`).
      setting: what the runs are, for the report.
    """
    rng = np.random.default_rng(grid.seed)
    outs = outcomes(arrays)
    grokked = outs["grokked"].astype(bool)
    design_name, design_x = design or parity_design(arrays)
    spikes = any(p in SPIKE_PREDICTORS for p in predictors)
    result = {"setting": setting, "n_runs": int(grokked.size), "n_grokked": int(grokked.sum()),
              "windows": {}}
    for k in grid.windows:
        preds = window_predictors(arrays, k, spikes=spikes)
        corr = {}
        for p in predictors:
            corr[p] = {}
            for o in OUTCOMES:
                keep = np.isfinite(preds[p]) & np.isfinite(outs[o])
                rho, lo, hi = bootstrap_interval(
                    spearman, preds[p][keep], outs[o][keep], rng=rng, n_boot=grid.n_boot)
                corr[p][o] = {"rho": rho, "lo": lo, "hi": hi, "n": int(keep.sum())}
        aucs = {}
        for name, inputs in CLASSIFIERS.items():
            x = inputs(preds, design_x)
            name = design_name if name == "design" else name
            rows = np.all(np.isfinite(x), axis=1)  # runs with every input defined
            try:
                scores = cross_validated_scores(x[rows], grokked[rows], rng)
            except ValueError as err:
                aucs[name] = {"auc": float("nan"), "lo": float("nan"), "hi": float("nan"),
                              "n": int(rows.sum()), "reason": str(err)}
                continue
            auc, lo, hi = bootstrap_interval(roc_auc, scores, grokked[rows], rng=rng,
                                                   n_boot=grid.n_boot)
            aucs[name] = {"auc": auc, "lo": lo, "hi": hi, "n": int(rows.sum()), "reason": ""}
        result["windows"][str(k)] = {"spearman": corr, "auc": aucs}
    return result


def report(analysis: dict) -> str:
    """Spearman ρ [95 % interval] of each predictor with each outcome, and the AUCs, per window."""
    lines = [f"{analysis.get('setting', 'concealed parity')}: {analysis['n_runs']} runs, "
             f"{analysis['n_grokked']} grok within the budget (validation accuracy ≥ "
             f"{parity.THRESHOLD})"]
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


