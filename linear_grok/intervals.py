"""Bootstrap confidence intervals for the grokking measures (docs/theory.md §17).

An accuracy is a fraction of a finite evaluation set: it lies in [0, 1], its noise has variance
``p(1 − p)/n`` (none on a plateau at 0 or 1, most in the middle of the jump), and a curve clipped
at 0 and 1 has one-signed residuals on its plateaus. A bootstrap that resamples residuals across
the curve moves the jump's large residuals onto the plateaus and the plateaus' tiny ones into the
jump, which makes the intervals too narrow exactly where the measures are decided. So every
replicate here keeps each residual at its own time:

* ``method="wild"`` (default; Wu 1986, Liu 1988, Davidson & Flachaire 2008): replicate
  ``y* = Â + w·r̃`` with ``r̃`` the residual scaled by ``1/√(1 − h)`` (``h`` the fit's leverage at
  that point, so the jump's residuals, which the fit absorbs most, are restored to the noise's
  size) and ``w = ±1`` with probability ½ (Rademacher). The same sign is drawn for a block of
  ``block`` consecutive points (the block wild bootstrap), which keeps the residuals' serial
  correlation; the block length is the AR(1) plug-in of Politis & White (2004) on the residuals,
  1 (the plain wild bootstrap) for independent ones.
* ``method="binomial"``: with a known evaluation-set size ``n_eval``, the parametric bootstrap
  ``y* = Binomial(n_eval, Â)/n_eval``: exactly how a fraction of ``n_eval`` correct answers is made.

Replicates stay valid accuracies: wild replicates are clipped to the data's own range (``[0, 1]``
for accuracies; wider only where the data are), as the data were. Each replicate is refitted with
the same family and settings and the interval is the *basic* bootstrap interval on the log scale
of the measure (all are positive; the gap through ``1 + gap = b_test/b_train``):
``[θ̂²/q_hi, θ̂²/q_lo]`` with ``q`` the replicates' quantiles. Unlike the percentile interval
``[q_lo, q_hi]``, it corrects for the fit's bias where the replicates reproduce it (clipped
plateaus pull every fit the same way: the percentile interval then lies beside the estimate and
misses the truth by twice the bias). Finally the interval is widened to contain its own estimate.

All replicates of all curves are drawn in one jitted call per chunk and refitted as one batch of
the shared Levenberg–Marquardt (:func:`linear_grok.fitting.fit_curve`). Reproducible from ``seed``.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.fitting import (
    CurveFit,
    as_batch,
    as_single,
    fit_curve,
    take_rows,
    time_axis,
    validate_curves,
    window_mask,
)
from linear_grok.grokking import MEASURES, GrokkingMeasure, Intervals, pair_bounds, pair_measures
from linear_grok.precision import float64
from linear_grok.validation import require

__all__ = ["MIN_OK_FRACTION", "METHODS", "MAX_AR_ORDER", "ar_sieve", "leverage", "fit_mask",
           "wild_replicates", "wild_sampler", "binomial_sampler", "binomial_replicates",
           "NOTE_CORRELATED", "NOTE_HELD_AT_BOUND", "HELD_FRACTION", "coverage_notes", "basic_interval",
           "bootstrap"]

MIN_OK_FRACTION = 0.8  # fewer ok replicates than this: no interval (NaN), the pair is too fragile
METHODS = ("wild", "binomial")
MAX_AR_ORDER = 10  # the sieve's largest autoregressive order
_CHUNK_VALUES = 2**24  # replicate curves are drawn and refitted this many values (128 MiB) at a time


def ar_sieve(residuals: np.ndarray, max_order: int = MAX_AR_ORDER) -> np.ndarray:
    """Autoregressive coefficients ``φ`` (n, max_order) of each curve's residuals (n, T), zero
    beyond the order that minimises ``n_eff·ln σ̂²_p + 2p`` (AIC) over ``p = 0 … max_order``:
    Yule–Walker estimates by the Levinson–Durbin recursion (Bühlmann's 1997 AR sieve). A curve
    with independent residuals gets ``φ = 0``.

    ``n_eff = (Σr²)²/Σr⁴`` counts the points that carry the residuals' variance: all ``T`` for
    homoscedastic noise, a few dozen for a binomial accuracy curve whose noise lives in its jump.
    With ``T`` in its place AIC would read the sampling noise of those few products as structure."""
    n, n_points = residuals.shape
    r = residuals - residuals.mean(axis=1, keepdims=True)
    acov = np.stack([np.sum(r[:, k:] * r[:, :n_points - k], axis=1) / n_points
                     for k in range(max_order + 1)], axis=1)  # (n, p + 1)
    phi = np.zeros((n, max_order))
    best = np.zeros((n, max_order))
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.sum(r**2, axis=1) ** 2 / np.sum(r**4, axis=1)
        var = acov[:, 0].copy()
        best_aic = n_eff * np.log(var)
        for p in range(1, max_order + 1):
            k = (acov[:, p] - np.sum(phi[:, :p - 1] * acov[:, p - 1:0:-1], axis=1)) / var
            k = np.where(np.isfinite(k), np.clip(k, -0.999, 0.999), 0.0)
            prev = phi[:, :p - 1].copy()
            phi[:, :p - 1] = prev - k[:, None] * prev[:, ::-1]
            phi[:, p - 1] = k
            var = var * (1.0 - k**2)
            aic = n_eff * np.log(var) + 2 * p
            better = aic < best_aic
            best[better] = phi[better]
            best_aic = np.where(better, aic, best_aic)
    return best


@float64
def leverage(fit: CurveFit, t: np.ndarray, free_cd: tuple[bool, bool]) -> np.ndarray:
    """Leverages ``h`` (B, T) of batch fits at times ``t`` (B, T): the diagonal of the hat matrix
    ``J (JᵀJ)⁻¹ Jᵀ`` of the fitted model in its free parameters (``a, b``, ``c`` and ``d`` where
    ``free_cd`` says so, the shape parameters), over each fit's window ``[start, end)`` (0
    outside it). NaN rows for failed fits."""
    x = np.nan_to_num(time_axis(t, fit.log_time))
    inside = fit_mask(fit, x.shape[1])
    out = np.full(x.shape, np.nan)
    for family, rows, theta in fit._by_family():
        theta = theta[np.isfinite(fit.a[rows])]
        rows = rows & np.isfinite(fit.a)  # failed fits have no parameters
        p = np.column_stack([np.log(fit.a[rows]), fit.b[rows], fit.c[rows], fit.d[rows], theta])
        free = [0, 1] + [2 + i for i, f in enumerate(free_cd) if f] + list(range(4, family.n_params))
        jacobian = partial(_jacobian, family=family)
        jac = np.asarray(jax.vmap(jacobian)(jnp.asarray(p), jnp.asarray(x[rows])))[:, free]  # (n, P, T)
        jac = jac * inside[rows][:, None, :]
        gram = np.einsum("npt,nqt->npq", jac, jac)
        with np.errstate(invalid="ignore"):
            out[rows] = np.einsum("npt,npq,nqt->nt", jac, np.linalg.pinv(gram), jac)
    return out


def fit_mask(fit: CurveFit, n_points: int) -> np.ndarray:
    """(B, T) True inside each batch fit's window ``[start, end)``."""
    return window_mask(np.atleast_1d(fit.start), np.atleast_1d(fit.end), n_points)


def _jacobian(p, x, family):
    """The Jacobian (P, T) of ``family``'s model at ``x`` (T,) in ``p = (log a, b, c, d, θ)``."""
    return family.residuals_and_jacobian(p, x, x)[1]


def wild_replicates(rng: np.random.Generator, fitted: np.ndarray, innovations: np.ndarray,
                    phi: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_boot: int) -> np.ndarray:
    """Sieve wild bootstrap curves ``clip(Â + r*, lo, hi)`` (n_boot, n, T), with ``r*`` the AR
    filter ``φ`` applied to the innovations times independent signs ``±1`` (Rademacher).

    Args:
      rng: NumPy generator of the signs. fitted, innovations: (n, T) (the innovations are the
        residuals where ``φ = 0``). phi: (n, p) each curve's AR coefficients. lo, hi: (n,) each
        curve's valid range. n_boot: replicates.
    """
    from scipy import signal  # imported here: it costs a command half a second to start

    star = rng.choice(np.array([-1.0, 1.0]), size=(n_boot, *innovations.shape)) * innovations
    for i in np.flatnonzero(np.any(phi != 0, axis=1)):  # independent residuals need no filter
        star[:, i] = signal.lfilter([1.0], np.concatenate([[1.0], -phi[i]]), star[:, i], axis=-1)
    return np.clip(fitted + star, lo[:, None], hi[:, None])


def wild_sampler(rng: np.random.Generator, y: np.ndarray, fitted: np.ndarray, h: np.ndarray,
                 ok: np.ndarray, ar_order: int):
    """The wild bootstrap's draws for curves ``y`` (n, T) with fits ``fitted`` and leverages ``h``:
    ``(draw, φ)``, ``draw(rows, size)`` giving ``size`` replicates of those rows (size, k, T) and
    ``φ`` (n, ar_order) the AR sieve's coefficients (zero rows where not ``ok``)."""
    # Least-squares residuals are smaller than the noise by √(1 − h) at each point.
    scale = 1.0 / np.sqrt(np.clip(1.0 - np.nan_to_num(h), 1e-3, 1.0))
    residuals = np.where(ok[:, None], (y - fitted) * scale, 0.0)
    phi = ar_sieve(residuals, ar_order)
    # e_t = r_t − Σ_k φ_k r_{t−k}, the residuals whitened (r before the first point taken as 0).
    innovations = residuals.copy()
    for k in range(phi.shape[1]):
        innovations[:, k + 1:] -= phi[:, k:k + 1] * residuals[:, :residuals.shape[1] - k - 1]
    lo, hi = np.minimum(0.0, y.min(axis=1)), np.maximum(1.0, y.max(axis=1))

    def draw(rows, size):
        return wild_replicates(rng, fitted[rows], innovations[rows], phi[rows], lo[rows], hi[rows], size)

    return draw, phi


def binomial_sampler(rng: np.random.Generator, fitted: np.ndarray, n_eval, n_pairs: int):
    """The parametric binomial bootstrap's ``draw(rows, size)`` for the train curves' fits
    followed by the test curves' (2B, T), with :func:`bootstrap`'s ``n_eval``."""
    sizes = np.asarray(n_eval, dtype=np.float64)
    if sizes.shape not in ((), (2,), (n_pairs, 2)):
        raise ValueError(f"n_eval must be a number, a pair (train, test) or shaped ({n_pairs}, 2); "
                         f"got shape {sizes.shape}")
    sizes = np.broadcast_to(sizes, (n_pairs, 2))
    require("n_eval", sizes, lambda a: (a >= 1) & (a <= 2**40) & (a == np.round(a)),
            "a whole number in [1, 2**40]")
    sizes = np.concatenate([sizes[:, 0], sizes[:, 1]])

    def draw(rows, size):
        return binomial_replicates(rng, fitted[rows], sizes[rows], size)

    return draw


def binomial_replicates(rng: np.random.Generator, fitted: np.ndarray, n_eval: np.ndarray,
                        n_boot: int) -> np.ndarray:
    """Parametric bootstrap curves ``Binomial(n_eval, Â)/n_eval`` (n_boot, n, T) for fitted
    curves (n, T) and evaluation-set sizes ``n_eval`` (n,)."""
    n = n_eval[:, None]
    return rng.binomial(n.astype(np.int64), np.clip(fitted, 0.0, 1.0), size=(n_boot, *fitted.shape)) / n


# Where the measured coverage (docs/theory.md §17, python -m experiments.interval_coverage --preset
# full) misses 90–98 %: what a curve looks like there, and what was measured.
NOTE_CORRELATED = ("residuals correlated in time with c, d fitted: such intervals covered 83-91 % "
                   "(not 95 %) on AR(1) curves; fix c and d (--chance) if the accuracy range is known")
NOTE_HELD_AT_BOUND = ("accuracies held at 0 or 1 with c fitted: the absolute sharpness's interval "
                      "covered 64-73 % on clipped curves; fix c and d (--chance) if the range is known")
HELD_FRACTION = 0.05  # of a curve's points exactly at 0 or 1


def coverage_notes(y_train: np.ndarray, y_test: np.ndarray, correlated: np.ndarray, *, c_free: bool,
                   d_free: bool) -> np.ndarray:
    """A warning (B,) for each pair of curves (B, T) that looks like a row of the coverage table
    that misses its target ("" for none): residuals with autoregressive structure
    (``correlated``) while ``c`` or ``d`` is fitted, or values held at 0 or 1 while ``c`` is."""
    held = np.maximum(np.mean((y_train == 0) | (y_train == 1), axis=1),
                      np.mean((y_test == 0) | (y_test == 1), axis=1)) >= HELD_FRACTION
    notes = [[NOTE_CORRELATED] * bool(corr and (c_free or d_free)) + [NOTE_HELD_AT_BOUND] * bool(h and c_free)
             for corr, h in zip(correlated, held, strict=True)]
    return np.array(["; ".join(n) for n in notes], dtype=object).astype(str)


def basic_interval(estimate: np.ndarray, replicates: np.ndarray, ok: np.ndarray, level: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The basic bootstrap interval of a positive measure on the log scale, widened to contain
    the estimate: ``[min(θ̂, θ̂²/q_hi), max(θ̂, θ̂²/q_lo)]``, ``q`` the ``(1 ∓ level)/2``
    quantiles of the ok ``replicates`` (n_boot, B). NaN where the estimate is not positive."""
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: failed pairs
        log_rep = np.log(np.where(ok & (replicates > 0), replicates, np.nan))
        q_lo, q_hi = np.nanquantile(log_rep, [alpha, 1.0 - alpha], axis=0)
        log_est = np.log(np.where(estimate > 0, estimate, np.nan))
        lower = np.exp(np.minimum(log_est, 2 * log_est - q_hi))
        upper = np.exp(np.maximum(log_est, 2 * log_est - q_lo))
    return lower, upper


@float64
def bootstrap(t, acc_train, acc_test, m: GrokkingMeasure, *, level: float = 0.95,
              n_boot: int = 200, method: str = "wild", n_eval=None, ar_order: int = MAX_AR_ORDER,
              seed: int = 0) -> GrokkingMeasure:
    """``m`` with bootstrap intervals of its :data:`~linear_grok.grokking.MEASURES` added.

    Args:
      t, acc_train, acc_test: the curves ``m`` was measured on (as
        :func:`~linear_grok.grokking.measure_grokking` took them).
      m: their measures.
      level: the intervals' confidence level, in (0, 1).
      n_boot: bootstrap replicates (≥ 20).
      method: ``"wild"`` (any noise; the default) or ``"binomial"`` (accuracies measured on
        ``n_eval`` samples).
      n_eval: with ``method="binomial"``: the evaluation-set size, one number for both curves,
        a pair ``(train, test)``, or one pair per train/test pair, (B, 2).
      ar_order: the sieve's largest autoregressive order (0: independent residuals, the plain
        wild bootstrap).
      seed: seed of the replicates' draws.
    Returns:
      ``dataclasses.replace(m, intervals=...)``: an :class:`~linear_grok.grokking.Intervals`.
      Each curve is resampled and refitted on its fit's window (``start``, ``end``: after a
      collapse, the rise only). A pair measured with grid bounds (``m.resolution``: a jump
      faster than the log) gets, for each measure, the interval from the ``(1 − level)/2``
      quantile of its replicates' lower bounds to the ``(1 + level)/2`` quantile of their upper
      bounds (``m.bounds`` of each replicate), at least its own bounds; ``n_ok`` then counts the
      replicates measured (ok or limited). A failed pair, or one with fewer than 80 % of its
      replicates measured, gets NaN.
    """
    require("level", level, lambda a: (a > 0) & (a < 1), "in (0, 1)")
    require("n_boot", n_boot, lambda a: (a >= 20) & (a <= 100_000), "in [20, 100000]")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if (method == "binomial") != (n_eval is not None):
        raise ValueError("n_eval (the evaluation-set size) is needed by method='binomial' only")
    settings = m.settings
    t, y_tr = validate_curves(t, acc_train, "acc_train", settings["log_time"])
    _, y_te = validate_curves(t, acc_test, "acc_test", settings["log_time"])
    n_pairs, n_points = y_tr.shape
    single = np.ndim(m.ok) == 0
    batch = as_batch(m) if single else m
    # Pairs measured with grid bounds (a jump faster than the log) get intervals of bounds.
    measured = np.asarray(batch.ok)
    limited = measured & (np.asarray(batch.resolution) != "")
    y = np.concatenate([y_tr, y_te])
    window = (np.concatenate([np.atleast_1d(batch.train.start), np.atleast_1d(batch.test.start)]),
              np.concatenate([np.atleast_1d(batch.train.end), np.atleast_1d(batch.test.end)]))
    inside = window_mask(*window, n_points)
    with np.errstate(divide="ignore", invalid="ignore"):  # log time at t = 0: outside the window
        fitted = np.concatenate([batch.train.predict(t), batch.test.predict(t)])  # (2B, T)
    fitted = np.where(inside, fitted, y)  # no residual outside the windows
    both_ok = np.concatenate([measured, measured])
    tt = np.concatenate([t, t])
    rng = np.random.default_rng(seed)
    if method == "wild":
        free_cd = (settings["c"] is None, settings["d"] is None)
        h = np.concatenate([leverage(batch.train, t, free_cd), leverage(batch.test, t, free_cd)])
        require("ar_order", ar_order, lambda a: (a >= 0) & (a <= n_points // 4), f"in [0, {n_points // 4}]")
        draw, phi = wild_sampler(rng, y, fitted, h, both_ok, ar_order)
    else:
        draw, phi = binomial_sampler(rng, fitted, n_eval, n_pairs), np.zeros((2 * n_pairs, 0))

    # Each replicate's bounds (pair_bounds): for a replicate whose fits are ok, lo = hi = its
    # measures, so the lower bounds where both are ok are the replicates' measures.
    stats_lo = {name: np.full((n_boot, n_pairs), np.nan) for name in MEASURES}
    stats_hi = {name: np.full((n_boot, n_pairs), np.nan) for name in MEASURES}
    rep_ok = np.zeros((n_boot, n_pairs), dtype=bool)  # both fits ok
    rep_measured = np.zeros((n_boot, n_pairs), dtype=bool)  # both ok or resolution-limited
    fit_kwargs = {k: settings[k] for k in ("c", "d", "log_time", "min_r2", "max_iter")}
    shapes = np.atleast_1d(batch.shape)
    for name in np.unique(shapes[measured]):
        pairs = np.flatnonzero(measured & (shapes == name))
        rows = np.concatenate([pairs, n_pairs + pairs])
        h_pairs = pairs.size
        chunk = max(1, min(n_boot, _CHUNK_VALUES // (rows.size * n_points)))
        for start in range(0, n_boot, chunk):
            size = min(chunk, n_boot - start)
            star = draw(rows, size)  # (size, 2h, T)
            times = np.broadcast_to(tt[rows], (size, rows.size, n_points))
            fits = fit_curve(times.reshape(-1, n_points), star.reshape(-1, n_points), shape=str(name),
                             window=(np.tile(window[0][rows], size), np.tile(window[1][rows], size)),
                             **fit_kwargs)
            # Replicate r's curves are rows r·2h … r·2h + 2h − 1: h train curves, then h test curves.
            train_rows = (np.arange(size)[:, None] * 2 * h_pairs + np.arange(h_pairs)[None, :]).ravel()
            fit_tr, fit_te = take_rows(fits, train_rows), take_rows(fits, train_rows + h_pairs)
            done = slice(start, start + size)
            for k, (lo_k, hi_k) in pair_bounds(fit_tr, fit_te).items():
                stats_lo[k][done, pairs] = np.asarray(lo_k).reshape(size, h_pairs)
                stats_hi[k][done, pairs] = np.asarray(hi_k).reshape(size, h_pairs)
            rep_ok[done, pairs] = (fit_tr.ok & fit_te.ok).reshape(size, h_pairs)
            rep_measured[done, pairs] = ((fit_tr.ok | fit_tr.limited)
                                         & (fit_te.ok | fit_te.limited)).reshape(size, h_pairs)

    n_ok = np.where(limited, rep_measured.sum(axis=0), rep_ok.sum(axis=0))
    enough = measured & (n_ok >= MIN_OK_FRACTION * n_boot)
    estimates = pair_measures(batch.train, batch.test)
    alpha = (1.0 - level) / 2.0
    lower, upper = {}, {}
    for k in MEASURES:
        # The gap through the positive ratio b_test/b_train = 1 + gap.
        shift = 1.0 if k == "relative_gap" else 0.0
        lo_k, hi_k = basic_interval(np.asarray(estimates[k]) + shift, stats_lo[k] + shift, rep_ok, level)
        # A grid-limited pair: from the low quantile of the replicates' lower bounds to the high
        # quantile of their upper bounds, and never inside the data's own bounds.
        bound_lo, bound_hi = (np.atleast_1d(v) for v in batch.bounds[k])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: other pairs
            q_lo = np.nanquantile(np.where(rep_measured, stats_lo[k], np.nan), alpha, axis=0)
            q_hi = np.nanquantile(np.where(rep_measured, stats_hi[k], np.nan), 1.0 - alpha, axis=0)
        lo_k = np.where(limited, np.fmin(q_lo, bound_lo), lo_k - shift)
        hi_k = np.where(limited, np.fmax(q_hi, bound_hi), hi_k - shift)
        lower[k], upper[k] = np.where(enough, lo_k, np.nan), np.where(enough, hi_k, np.nan)
    has_ar = np.any(phi != 0, axis=1) & both_ok
    correlated = has_ar[:n_pairs] | has_ar[n_pairs:]
    order = int(np.max(np.flatnonzero(np.any(phi[both_ok] != 0, axis=0)) + 1, initial=0))
    notes = coverage_notes(y_tr, y_te, correlated, c_free=settings["c"] is None,
                           d_free=settings["d"] is None)
    intervals = Intervals(level=level, n_boot=n_boot, ar_order=order, seed=seed, lower=lower,
                          upper=upper, n_ok=n_ok, method=method, notes=np.where(enough, notes, ""))
    return dataclasses.replace(m, intervals=as_single(intervals) if single else intervals)

