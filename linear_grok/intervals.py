"""Bootstrap confidence intervals for the grokking measures: a moving-block residual bootstrap.

For every train/test pair whose fits are ok, the fitted curves ``Â(t)`` are kept and the residuals
``y − Â`` resampled: each replicate curve is ``Â + r*``, where ``r*`` strings together blocks of
``block`` consecutive residuals starting at random points of the curve (circularly). Each replicate
is refitted with the same family and settings (fixed ``c``, ``d`` stay fixed), and the percentile
interval of every measure over the replicates is reported.

Why residuals and blocks: the time grid of a training curve is the design, not a sample, so the
residual bootstrap (which keeps it) fits better than resampling points (the case bootstrap, which
would drop and duplicate times around the jump); and the residuals of accuracy curves are
correlated in time (slow drifts between evaluations), which resampling single residuals would
ignore, giving intervals that are too narrow. The block length follows the residuals' lag-1
autocorrelation ``ρ`` (:func:`default_block`, the AR(1) plug-in of Politis & White 2004): about
``T^{1/3}`` for moderate ``ρ``, longer for strongly correlated residuals, and 1, the plain residual
bootstrap, for independent ones. The intervals are percentile intervals, conditional on the family
(with ``shape="auto"``, the chosen one).

All replicates of all curves are drawn in one jitted, vmapped call and refitted as one batch of
the shared Levenberg–Marquardt (:func:`linear_grok.fitting.fit_curve`). Reproducible from ``seed``.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.fitting import as_batch, as_single, fit_curve, take_rows, validate_curves
from linear_grok.measures import MEASURES, GrokkingMeasure, Intervals, pair_measures
from linear_grok.scurves import SHAPES
from linear_grok.validation import require

MIN_OK_FRACTION = 0.8  # fewer ok replicates than this: no interval (NaN), the pair is too fragile


def default_block(residuals: np.ndarray) -> int:
    """Block length for residuals (B, T): the AR(1) plug-in of Politis & White (2004),
    ``(2ρ/(1 − ρ²))^{2/3} T^{1/3}``, with ``ρ`` the curves' mean lag-1 autocorrelation (clipped to
    [0, 0.99]); 1 (the plain residual bootstrap) for independent residuals."""
    r = residuals - residuals.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.sum(r[:, 1:] * r[:, :-1], axis=1) / np.sum(r**2, axis=1)
    rho = float(np.clip(np.nanmean(rho) if np.isfinite(rho).any() else 0.0, 0.0, 0.99))
    n_points = residuals.shape[1]
    return int(min(n_points, max(1, round((2 * rho / (1 - rho**2)) ** (2 / 3) * n_points ** (1 / 3)))))


@partial(jax.jit, static_argnames=("n_boot", "block"))
def resample_residuals(key: jax.Array, residuals: jax.Array, n_boot: int, block: int) -> jax.Array:
    """Moving-block resamples of each curve's residuals.

    Args:
      key: a ``jax.random`` key. residuals: (B, T). n_boot: replicates. block: block length.
    Returns:
      (n_boot, B, T): for each replicate and curve, ``⌈T/block⌉`` blocks of consecutive
      residuals (wrapping around the end), each from a uniformly drawn start, cut to ``T``.
    """
    n_curves, n_points = residuals.shape
    n_blocks = -(-n_points // block)

    def one(k, r):
        starts = jax.random.randint(k, (n_blocks,), 0, n_points)
        idx = (starts[:, None] + jnp.arange(block)[None, :]).ravel()[:n_points] % n_points
        return r[idx]

    keys = jax.random.split(key, (n_boot, n_curves))
    return jax.vmap(jax.vmap(one))(keys, jnp.broadcast_to(residuals, (n_boot, n_curves, n_points)))


def bootstrap(t, acc_train, acc_test, m: GrokkingMeasure, *, level: float = 0.95,
              n_boot: int = 200, block: int | None = None, seed: int = 0) -> GrokkingMeasure:
    """``m`` with bootstrap intervals of its :data:`~linear_grok.measures.MEASURES` added.

    Args:
      t, acc_train, acc_test: the curves ``m`` was measured on (as
        :func:`~linear_grok.measures.measure_grokking` took them).
      m: their measures.
      level: the intervals' confidence level, in (0, 1).
      n_boot: bootstrap replicates (≥ 20).
      block: residual block length in points (default :func:`default_block` of the residuals).
      seed: seed of the resampling key.
    Returns:
      ``dataclasses.replace(m, intervals=...)``: an :class:`~linear_grok.measures.Intervals`.
    """
    require("level", level, lambda a: (a > 0) & (a < 1), "in (0, 1)")
    require("n_boot", n_boot, lambda a: a >= 20, ">= 20")
    settings = m.settings
    t, y_tr = validate_curves(t, acc_train, "acc_train", settings["log_time"])
    _, y_te = validate_curves(t, acc_test, "acc_test", settings["log_time"])
    n_pairs, n_points = y_tr.shape
    single = np.ndim(m.ok) == 0
    batch = as_batch(m) if single else m

    ok = np.asarray(batch.ok)
    fitted = np.concatenate([batch.train.predict(t), batch.test.predict(t)])  # (2B, T)
    y = np.concatenate([y_tr, y_te])
    both_ok = np.concatenate([ok, ok])
    # Residuals of a least-squares fit are smaller than the noise by (T − p)/T in variance.
    fixed = (settings["c"] is not None) + (settings["d"] is not None)
    n_free = np.array([4 - fixed + len(SHAPES[str(k)].shape_names) for k in np.atleast_1d(batch.shape)])
    n_free = np.concatenate([n_free, n_free])
    inflate = np.sqrt(n_points / np.maximum(n_points - n_free, 1))
    residuals = np.where(both_ok[:, None], (y - fitted) * inflate[:, None], 0.0)
    block = default_block(residuals[both_ok]) if block is None else block
    require("block", block, lambda a: (a >= 1) & (a <= n_points), f"in [1, {n_points}]")
    star = fitted + np.asarray(resample_residuals(jax.random.key(seed), jnp.asarray(residuals),
                                                  n_boot, block))  # (n_boot, 2B, T)

    stats = {name: np.full((n_boot, n_pairs), np.nan) for name in MEASURES}
    rep_ok = np.zeros((n_boot, n_pairs), dtype=bool)
    fit_kwargs = {k: settings[k] for k in ("c", "d", "log_time", "min_r2", "max_iter")}
    shapes = np.atleast_1d(batch.shape)
    for name in np.unique(shapes[ok]):
        pairs = np.flatnonzero(ok & (shapes == name))
        rows = np.concatenate([pairs, n_pairs + pairs])
        curves = star[:, rows].reshape(-1, n_points)
        times = np.broadcast_to(t[np.concatenate([pairs, pairs])], (n_boot, rows.size, n_points))
        fits = fit_curve(times.reshape(-1, n_points), curves, shape=str(name), **fit_kwargs)
        # Replicate r's curves are rows r·2h … r·2h + 2h − 1: h train curves, then h test curves.
        h = pairs.size
        train_rows = (np.arange(n_boot)[:, None] * 2 * h + np.arange(h)[None, :]).ravel()
        fit_tr, fit_te = take_rows(fits, train_rows), take_rows(fits, train_rows + h)
        for key, value in pair_measures(fit_tr, fit_te).items():
            stats[key][:, pairs] = np.asarray(value).reshape(n_boot, h)
        rep_ok[:, pairs] = (fit_tr.ok & fit_te.ok).reshape(n_boot, h)

    n_ok = rep_ok.sum(axis=0)
    enough = ok & (n_ok >= MIN_OK_FRACTION * n_boot)
    alpha = (1.0 - level) / 2.0
    lower, upper = {}, {}
    for key, values in stats.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: failed pairs
            lo, hi = np.nanquantile(np.where(rep_ok, values, np.nan), [alpha, 1.0 - alpha], axis=0)
        lower[key], upper[key] = np.where(enough, lo, np.nan), np.where(enough, hi, np.nan)
    intervals = Intervals(level=level, n_boot=n_boot, block=block, seed=seed, lower=lower,
                          upper=upper, n_ok=n_ok)
    return dataclasses.replace(m, intervals=as_single(intervals) if single else intervals)
