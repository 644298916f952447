"""Measured coverage of the bootstrap intervals on accuracy curves made the way real ones are.

A *case* is an S-curve family, a noise model and whether ``c`` and ``d`` are fixed or fitted. Its
curves are a train/test pair of that family (train jump at step 700, test jump at step 2600,
1000 points on [0, 4000] steps, erf-equivalent sharpness 0.015 and 0.005 per step; Richards with
``ν = ½``), made noisy ``n_curves`` times; each noisy pair is measured, given intervals by
:func:`linear_grok.intervals.bootstrap`, and the fraction of intervals holding the true value of
each measure is its coverage. The noise models (:data:`NOISE_MODELS`):

* ``gaussian``: ``A + 0.03·N(0, 1)``, unbounded (the textbook case);
* ``binomial_100``, ``binomial_250``, ``binomial_1000``: ``Binomial(n, A)/n``, an accuracy on an
  evaluation set of ``n`` samples drawn afresh at each evaluation;
* ``clipped_gaussian``: ``clip(A + 0.004·N(0, 1), 0, 1)``, one-signed residuals on the plateaus;
* ``batch_means``: the mean of 8 batches of 32 samples (``Binomial(32, ·)/32`` each), evaluated
  at the steps spread over the logging interval ``Δ`` before each logged step, as trackers log a
  running mean of per-batch training accuracy; the logged curve is then the true one delayed by
  ``7Δ/16`` (the batches' mean delay), which is added to the true jump times;
* ``ar1``: ``clip(A + 0.02·u, 0, 1)`` with ``u`` a unit-variance AR(1) series of coefficient 0.7
  (slow drifts between evaluations, then bounded).

The rows of ``docs/theory.md`` §17 come from ``python -m experiments.interval_coverage``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal, special

from linear_grok.grokking import MEASURES, measure_grokking
from linear_grok.intervals import bootstrap
from linear_grok.scurves import SHAPES

__all__ = ["NOISE_MODELS", "TIME", "JUMPS", "SHARPNESS", "RICHARDS_LOG_NU", "CoverageCase",
           "clean_curve", "noisy_pairs", "measure_coverage", "all_cases"]

NOISE_MODELS = ("gaussian", "binomial_100", "binomial_250", "binomial_1000", "clipped_gaussian",
                "batch_means", "ar1")
TIME = np.linspace(0.0, 4000.0, 1000)  # steps
JUMPS = (700.0, 2600.0)  # train, test jump times (steps)
SHARPNESS = (0.015, 0.005)  # erf-equivalent sharpness of train and test (1/steps)
RICHARDS_LOG_NU = float(np.log(0.5))
BATCHES, BATCH_SIZE = 8, 32


@dataclass(frozen=True)
class CoverageCase:
    """One row of the coverage table.

    Attributes:
      family: the S-curve family of the curves and of the fits (:data:`linear_grok.scurves.SHAPES`).
      noise: one of :data:`NOISE_MODELS`.
      fixed_cd: fit with ``c = d = ½`` fixed (accuracy from 0 to 1) or fit them.
      method: the bootstrap (``"wild"``; ``"binomial"`` only for binomial noise, with its ``n``).
    """

    family: str
    noise: str
    fixed_cd: bool = True
    method: str = "wild"

    def __post_init__(self):
        if self.family not in SHAPES:
            raise ValueError(f"family must be one of {', '.join(SHAPES)}; got {self.family!r}")
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODELS)}; got {self.noise!r}")
        if self.method == "binomial" and self.n_eval is None:
            raise ValueError("method='binomial' needs binomial noise (it is told the n)")

    @property
    def n_eval(self) -> int | None:
        """The evaluation-set size of binomial noise (``None`` for the other models)."""
        return int(self.noise.split("_")[1]) if self.noise.startswith("binomial") else None

    @property
    def name(self) -> str:
        cd = "c, d fixed" if self.fixed_cd else "c, d free"
        extra = f", --n-eval {self.n_eval}" if self.method == "binomial" else ""
        return f"{self.family}, {self.noise}, {cd}{extra}"


def clean_curve(family: str, t: np.ndarray, jump: float, sharpness: float) -> np.ndarray:
    """``½ S(a(t − jump)) + ½`` of ``family`` with erf-equivalent ``sharpness``, in NumPy (an
    independent form of :mod:`linear_grok.scurves`' unit curves)."""
    theta = np.array([RICHARDS_LOG_NU]) if family == "richards" else np.zeros(0)
    rate = sharpness / SHAPES[family].sharpness(1.0, theta)  # a with that erf-equivalent sharpness
    z = rate * (t - jump)
    if family == "erf":
        unit = special.erf(z)
    elif family == "logistic":
        unit = np.tanh(z / 2.0)
    else:
        nu = np.exp(RICHARDS_LOG_NU)
        z_nu = -np.log(np.expm1(nu * np.log(2.0)) / nu)
        unit = 2.0 * (1.0 + nu * np.exp(-(z + z_nu))) ** (-1.0 / nu) - 1.0
    return 0.5 * unit + 0.5


def noisy_pairs(case: CoverageCase, n_curves: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """``n_curves`` noisy train and test curves (n_curves, T) on :data:`TIME` and the true
    value of every measure of :data:`linear_grok.grokking.MEASURES`."""
    delay = 0.0
    curves = []
    for jump, sharp in zip(JUMPS, SHARPNESS, strict=True):
        if case.noise == "batch_means":
            step = TIME[1] - TIME[0]
            # Batch j of the interval before a logged step t is evaluated at t − Δ + jΔ/8.
            lags = step - step * np.arange(1, BATCHES + 1) / BATCHES
            acc = np.stack([clean_curve(case.family, TIME - lag, jump, sharp) for lag in lags])
            draws = rng.binomial(BATCH_SIZE, acc, size=(n_curves, *acc.shape)) / BATCH_SIZE
            curves.append(draws.mean(axis=1))
            delay = float(lags.mean())
            continue
        acc = np.broadcast_to(clean_curve(case.family, TIME, jump, sharp), (n_curves, TIME.size))
        if case.noise == "gaussian":
            curves.append(acc + 0.03 * rng.standard_normal(acc.shape))
        elif case.n_eval is not None:
            curves.append(rng.binomial(case.n_eval, acc) / case.n_eval)
        elif case.noise == "clipped_gaussian":
            curves.append(np.clip(acc + 0.004 * rng.standard_normal(acc.shape), 0.0, 1.0))
        else:  # ar1
            rho = 0.7
            u = signal.lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], rng.standard_normal(acc.shape), axis=-1)
            curves.append(np.clip(acc + 0.02 * u, 0.0, 1.0))
    b_tr, b_te = JUMPS[0] + delay, JUMPS[1] + delay
    truth = {"jump_train": b_tr, "jump_test": b_te, "relative_gap": b_te / b_tr - 1.0,
             "relative_sharpness": SHARPNESS[1] / SHARPNESS[0],
             "absolute_sharpness": 2 * 0.5 * SHARPNESS[1] / np.sqrt(np.pi)}
    return curves[0], curves[1], truth


def measure_coverage(case: CoverageCase, *, n_curves: int = 200, n_boot: int = 200,
                     level: float = 0.95, seed: int = 0) -> dict:
    """Coverage of ``level`` intervals for one case.

    Returns:
      ``{"coverage": {measure: fraction of intervals holding the truth}, "contains_estimate":
      {measure: fraction holding their own estimate}, "width": {measure: median width / truth},
      "bias": {measure: (median estimate − truth) / truth}, "n": pairs with an interval}``;
      fractions over the pairs whose fits and intervals exist.
    """
    y_tr, y_te, truth = noisy_pairs(case, n_curves, np.random.default_rng(seed))
    cd = {"c": 0.5, "d": 0.5} if case.fixed_cd else {}
    m = measure_grokking(TIME, y_tr, y_te, shape=case.family, **cd)
    m = bootstrap(TIME, y_tr, y_te, m, level=level, n_boot=n_boot, method=case.method,
                  n_eval=case.n_eval if case.method == "binomial" else None, seed=seed)
    estimates = {"jump_train": m.train.jump_time, "jump_test": m.test.jump_time,
                 "relative_gap": m.relative_gap, "relative_sharpness": m.relative_sharpness,
                 "absolute_sharpness": m.absolute_sharpness}
    lower, upper = m.intervals.lower, m.intervals.upper
    has = np.all([np.isfinite(lower[k]) & np.isfinite(upper[k]) for k in MEASURES], axis=0)
    out = {"coverage": {}, "contains_estimate": {}, "width": {}, "bias": {}, "n": int(has.sum())}
    for k in MEASURES:
        lo, hi, est = lower[k][has], upper[k][has], np.asarray(estimates[k])[has]
        out["coverage"][k] = float(np.mean((lo <= truth[k]) & (truth[k] <= hi)))
        out["contains_estimate"][k] = float(np.mean((lo <= est) & (est <= hi)))
        out["width"][k] = float(np.median(hi - lo) / abs(truth[k]))
        out["bias"][k] = float((np.median(est) - truth[k]) / abs(truth[k]))
    return out


def all_cases() -> list[CoverageCase]:
    """Every row of the table: each family × noise model × fixed/free ``c, d`` with the wild
    bootstrap, and the binomial rows again with the parametric binomial bootstrap."""
    cases = [CoverageCase(f, n, fixed) for f in SHAPES for n in NOISE_MODELS for fixed in (True, False)]
    cases += [CoverageCase(f, n, fixed, "binomial") for f in SHAPES for n in NOISE_MODELS
              if n.startswith("binomial") for fixed in (True, False)]
    return cases
