"""Fit S-curves to accuracy curves: one batched, jitted Levenberg–Marquardt for every family.

``fit_curve`` fits ``A(t) = c·S(a(t − b); θ) + d``, with ``S`` one of the families of
:mod:`linear_grok.scurves` (the sharpness paper's erf by default), to one curve or a batch.
``c`` and ``d`` are fixed from the accuracy range (``c = d = ½`` for accuracy from 0 to 1,
``c = ¼, d = ¾`` for chance ½, :func:`linear_grok.scurves.chance_to_cd`) or fitted. All curves
of a batch are solved in one compiled, vmapped program, started from the data (the first crossing
of the midpoint and the width between the quarter levels) and bounded (``a > 0``, ``b`` inside the
observed window, shape parameters in their family's range). Turning two fits into the grokking
measures is :mod:`linear_grok.grokking`' job.

Time units are the caller's (steps, epochs...). With ``log_time=True`` the fit is on ``log t``;
the reported ``jump_time`` is then ``e^b`` and ``sharpness`` is ``a/e^b``, the slope-equivalent
sharpness on the linear axis (``dA/dt`` at the midpoint is ``2c·sharpness/√π`` either way).

Real logs (docs/theory.md §17, "Fit windows", "Resolution-limited jumps"):

* each curve is fitted on a *window*, the half-open sample range ``[start, end)`` (all samples by
  default): the others get zero weight in the solve (one compiled (B, T) program still) and count
  nowhere (starting values, R², AIC/BIC, the resolution test). A log-time fit leaves out the
  samples at ``t <= 0`` (logs start at step 0): its window starts at the first ``t > 0``.
* a jump narrower than the time grid resolves is not a measurement of ``a`` and ``b``, but when the
  curve crosses its midpoint ``d`` inside the window the fit is *resolution-limited*
  (``limited``): its jump lies between the two samples that bracket the crossing
  (``jump_lo``, ``jump_hi``) and its maximum slope is at least the rise between them over their
  distance (``max_slope_lo``, the mean value theorem).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.precision import float64
from linear_grok.scurves import DEFAULT_SHAPE, ERF, SHAPES, SQRT_PI, SCurve, get_shape

__all__ = ["CurveFit", "as_single", "as_batch", "validate_curves", "time_axis", "fit_window",
           "window_mask", "window_cd", "first_crossing", "fit_curve", "fit_checked", "fit_erf",
           "take_rows", "pick_fits"]

_MIN_POINTS = 6
_MIN_JUMP_POINTS = 3  # samples a jump's ramp must span to be measured, not interpolated
# Accuracies outside [0, 1] by more than this are refused (units, not noise: synthetic curves
# with added noise may stray a little).
_RANGE_SLACK = 0.25
_COARSE_POINTS = 2048  # samples of a long curve that the first, cheap solve sees
_COARSE_RAMP_POINTS = 32  # of them across the starting guess's ramp, to trust that solve


@dataclass(frozen=True)
class CurveFit:
    """Result of :func:`fit_curve`. Fields are scalars for one curve, arrays ``(B,)`` for a batch.

    ``family`` names the S-curve (:data:`linear_grok.scurves.SHAPES`); ``a``, ``b`` are in the
    units of the fitted axis (``t`` or ``log t``) and ``theta`` holds the family's shape
    parameters in fitted form (``(k,)`` per curve, NaN-padded in a mixed batch). ``*_se`` are
    standard errors from the Gauss–Newton covariance (NaN for fixed parameters). ``aic`` and
    ``bic`` are ``n·ln(RSS/n) + 2k`` and ``n·ln(RSS/n) + k·ln n`` with ``k`` the free parameters
    plus the noise variance, over the ``n = end − start`` samples of the fit's window
    ``[start, end)`` (ints, sample indices). ``ok`` is True when the fit converged and passed every
    check; otherwise ``reason`` says why (empty when ok), and the parameters are NaN.

    A fit whose jump the time grid does not resolve but whose midpoint crossing is bracketed by two
    samples of the window is ``limited`` (resolution-limited; ``ok`` False, ``reason`` says why):
    ``jump_lo``, ``jump_hi`` are those samples (caller's time units) and ``max_slope_lo`` the rise
    between them over their distance, a lower bound on the curve's maximum slope ``dA/dt``. Its
    least-squares parameters are kept (:meth:`predict` draws them), except that ``b`` is the
    interpolated midpoint crossing where the solve left the bracket; its standard errors are NaN
    and :attr:`sharpness` is NaN (only :attr:`sharpness_lo` is known). ``jump_lo``, ``jump_hi``,
    ``max_slope_lo`` are NaN for fits that are not limited. Pass ``window=(fit.start, fit.end)``
    to :func:`fit_curve` to refit on the same windows.
    """

    family: np.ndarray | str
    a: np.ndarray | float
    b: np.ndarray | float
    c: np.ndarray | float
    d: np.ndarray | float
    theta: np.ndarray
    a_se: np.ndarray | float
    b_se: np.ndarray | float
    c_se: np.ndarray | float
    d_se: np.ndarray | float
    r2: np.ndarray | float
    rmse: np.ndarray | float
    aic: np.ndarray | float
    bic: np.ndarray | float
    converged: np.ndarray | bool
    reason: np.ndarray | str
    start: np.ndarray | int
    end: np.ndarray | int
    limited: np.ndarray | bool
    jump_lo: np.ndarray | float
    jump_hi: np.ndarray | float
    max_slope_lo: np.ndarray | float
    log_time: bool = False

    @property
    def ok(self) -> np.ndarray | bool:
        """Converged and no recorded reason for failure."""
        return np.logical_and(self.converged, np.asarray(self.reason) == "")[()]

    @property
    def jump_time(self) -> np.ndarray | float:
        """Jump time in the caller's time units: ``b``, or ``e^b`` for a log-time fit."""
        return np.exp(self.b) if self.log_time else self.b

    @property
    def sharpness(self) -> np.ndarray | float:
        """Erf-equivalent sharpness in 1/time units (``a`` for erf), over ``e^b`` for log time;
        NaN for a resolution-limited fit (see :attr:`sharpness_lo`)."""
        rate = np.zeros(np.size(self.a))
        for family, rows, theta in self._by_family():
            rate[rows] = family.sharpness(np.atleast_1d(self.a)[rows], theta)
        rate = np.where(np.atleast_1d(self.limited), np.nan, rate)
        rate = rate[0] if np.ndim(self.a) == 0 else rate
        return rate / np.exp(self.b) if self.log_time else rate

    @property
    def sharpness_lo(self) -> np.ndarray | float:
        """Lower bound on the erf-equivalent sharpness of a resolution-limited fit,
        ``max_slope_lo·√π/(2c)``; NaN for other fits."""
        return (np.asarray(self.max_slope_lo) * SQRT_PI / (2.0 * np.asarray(self.c)))[()]

    @property
    def max_slope(self) -> np.ndarray | float:
        """Maximum slope ``dA/dt = 2c·sharpness/√π`` of the fitted curve."""
        return 2.0 * self.c * self.sharpness / SQRT_PI

    @float64
    def predict(self, t: np.ndarray) -> np.ndarray:
        """The fitted curves at times ``t``: (T,) for one fit, (B, T) (or (T,) shared) for a
        batch; NaN for failed fits (not for resolution-limited ones) and, for a log-time fit,
        at ``t <= 0``."""
        x = time_axis(t, self.log_time)
        x = np.broadcast_to(x, (np.size(self.a), np.shape(x)[-1]))
        out = np.full(x.shape, np.nan)
        for family, rows, theta in self._by_family():
            p = np.column_stack([np.log(np.atleast_1d(self.a)[rows]), np.atleast_1d(self.b)[rows],
                                 np.atleast_1d(self.c)[rows], np.atleast_1d(self.d)[rows], theta])
            out[rows] = np.asarray(jax.vmap(family.model)(jnp.asarray(p), jnp.asarray(x[rows])))
        return out[0] if np.ndim(self.a) == 0 else out

    def _by_family(self):
        """``(family, rows, theta (n_rows, k))`` for each S-curve family present in the fits
        (one for a single fit), ``theta`` cut to that family's shape parameters."""
        families = np.atleast_1d(self.family)
        theta = np.asarray(self.theta, dtype=np.float64).reshape(families.size, -1)
        for name in np.unique(families):
            family = SHAPES[str(name)]
            rows = families == name
            yield family, rows, theta[rows][:, :len(family.shape_names)]

def as_single(result):
    """Turn a batch-of-one dataclass into scalars (floats, bools, strings)."""
    def one(v):
        if isinstance(v, np.ndarray):
            return v[0].item() if v.ndim == 1 else v[0]
        if dataclasses.is_dataclass(v):
            return as_single(v)
        if isinstance(v, dict):
            return {k: one(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return tuple(one(x) for x in v)
        return v

    return dataclasses.replace(result, **{f.name: one(getattr(result, f.name))
                                          for f in dataclasses.fields(result)})


def as_batch(result):
    """The inverse of :func:`as_single`: a batch of one from a dataclass of scalars."""
    def one(v):
        if dataclasses.is_dataclass(v):
            return as_batch(v)
        if isinstance(v, dict):
            return {k: one(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return tuple(one(x) for x in v)
        if v is None:
            return v
        return np.asarray(v)[None]

    return dataclasses.replace(result, **{f.name: one(getattr(result, f.name))
                                          for f in dataclasses.fields(result)
                                          if f.name not in ("log_time", "settings")})


def validate_curves(t, acc, name: str, log_time: bool) -> tuple[np.ndarray, np.ndarray]:
    """Check and return ``t`` and ``acc`` as float64 arrays of shape (B, T) (``t`` broadcast)."""
    t = np.asarray(t, dtype=np.float64)
    acc = np.asarray(acc, dtype=np.float64)
    if t.ndim not in (1, 2):
        raise ValueError(f"t must have shape (T,) or (B, T); got {t.shape}")
    n_points = t.shape[-1]
    if acc.ndim not in (1, 2) or acc.shape[-1] != n_points:
        raise ValueError(f"{name} must have shape (T,) or (B, T) with T = {n_points} points of t; "
                         f"got {acc.shape}")
    if n_points < _MIN_POINTS:
        raise ValueError(f"t must have at least {_MIN_POINTS} points; got {n_points}")
    acc = np.atleast_2d(acc)
    if t.ndim == 2 and t.shape[0] != acc.shape[0]:
        raise ValueError(f"t of shape {t.shape} does not match {name} of shape {acc.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t must be finite; it contains NaN or inf")
    if not np.all(t[..., 1:] > t[..., :-1]):
        raise ValueError("t must be strictly increasing")
    t = np.broadcast_to(t, acc.shape)  # a view: a shared grid is checked, not copied, once
    if log_time:  # samples at t <= 0 are left out of a log-time fit (its window starts after them)
        n_positive = int(np.min(np.sum(t > 0, axis=1)))
        if n_positive < _MIN_POINTS:
            raise ValueError(f"t must have at least {_MIN_POINTS} points > 0 for log_time=True "
                             f"(points at t <= 0 are left out of a fit on log t); got {n_positive}")
    if not np.all(np.isfinite(acc)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    lo, hi = float(acc.min()), float(acc.max())
    if lo < -_RANGE_SLACK or hi > 1.0 + _RANGE_SLACK:
        hint = "; percentages? divide them by 100" if hi > 1.0 + _RANGE_SLACK else ""
        raise ValueError(f"{name} must be accuracies in [0, 1]; got values from {lo:.4g} to "
                         f"{hi:.4g}{hint}")
    return t, acc


def time_axis(t, log_time: bool) -> np.ndarray:
    """The fitted axis: ``t``, or ``log t`` with NaN at ``t <= 0`` for a log-time fit."""
    t = np.asarray(t, dtype=np.float64)
    if not log_time:
        return t
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t > 0, np.log(np.where(t > 0, t, 1.0)), np.nan)


def fit_window(t: np.ndarray, window, log_time: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each curve's fit window ``(start, end)`` (B,) ints from :func:`fit_curve`'s ``window`` on
    validated times ``t`` (B, T): all samples by default; a log-time fit starts at the first
    ``t > 0``. Raises ``ValueError`` for bounds outside ``[0, T]`` or a window of fewer than the
    minimum number of points."""
    n_curve, n_points = t.shape
    bounds = (None, None) if window is None else tuple(window)
    if len(bounds) != 2:
        raise ValueError(f"window must be (start, end); got {window!r}")
    out = []
    for name, value, default in (("start", bounds[0], 0), ("end", bounds[1], n_points)):
        value = np.asarray(default if value is None else value)
        if value.dtype.kind not in "iu":
            raise ValueError(f"window {name} must be integer sample indices; got {value!r}")
        if value.ndim > 1 or value.size not in (1, n_curve):
            raise ValueError(f"window {name} must be an int or one per curve ({n_curve}); got "
                             f"shape {value.shape}")
        if np.any(value < 0) or np.any(value > n_points):
            raise ValueError(f"window {name} must be in [0, {n_points}]; got {value!r}")
        out.append(np.broadcast_to(value.astype(np.int64).ravel(), (n_curve,)).copy())
    start, end = out
    if log_time:
        start = np.maximum(start, np.argmax(t > 0, axis=1))
    short = end - start < _MIN_POINTS
    if np.any(short):
        i = int(np.flatnonzero(short)[0])
        raise ValueError(f"a fit window must hold at least {_MIN_POINTS} points; curve {i} has "
                         f"{max(int(end[i] - start[i]), 0)} (samples {start[i]} to {end[i]}"
                         f"{', at t > 0 for log_time=True' if log_time else ''})")
    return start, end


def window_mask(start: np.ndarray, end: np.ndarray, n_points: int) -> np.ndarray:
    """(B, T) mask of the samples inside each curve's window."""
    idx = np.arange(n_points)
    return (idx >= np.asarray(start)[:, None]) & (idx < np.asarray(end)[:, None])


def window_cd(y: np.ndarray, c, d, start: np.ndarray, end: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(c, d)`` (B,) for curves ``y`` (B, T): the fixed values where given, else half the range
    and the middle of each curve's samples in its window ``[start, end)``."""
    n_curve = y.shape[0]
    inside = window_mask(start, end, y.shape[1])
    lo_y = np.where(inside, y, np.inf).min(axis=1)
    hi_y = np.where(inside, y, -np.inf).max(axis=1)
    c = np.full(n_curve, c, dtype=np.float64) if c is not None else (hi_y - lo_y) / 2
    d = np.full(n_curve, d, dtype=np.float64) if d is not None else (hi_y + lo_y) / 2
    return c, d


def _first_above(y_BxT: np.ndarray, level, start, end) -> tuple[np.ndarray, np.ndarray]:
    """Index (B,) of each curve's first sample at or above ``level`` inside its window, and
    whether there is one."""
    level = np.broadcast_to(np.asarray(level, dtype=np.float64), y_BxT.shape[:1])
    above = (y_BxT >= level[:, None]) & window_mask(start, end, y_BxT.shape[1])
    return np.argmax(above, axis=1), above.any(axis=1)


def first_crossing(x: np.ndarray, y_BxT: np.ndarray, level: np.ndarray, start=None,
                   end=None) -> np.ndarray:
    """First ``x`` at which each curve reaches ``level`` (B,), linearly interpolated.

    ``x`` is (T,) or (B, T). Only the samples ``start <= i < end`` count (ints or (B,); all by
    default). NaN where a curve never reaches its level; ``x[start]`` where it starts at or above
    it.
    """
    n_curve, n_points = y_BxT.shape
    x = np.broadcast_to(x, y_BxT.shape)
    start = np.broadcast_to(0 if start is None else start, (n_curve,))
    end = np.broadcast_to(n_points if end is None else end, (n_curve,))
    level = np.broadcast_to(np.asarray(level, dtype=np.float64), (n_curve,))
    j, reached = _first_above(y_BxT, level, start, end)
    jm = np.maximum(j - 1, start)
    rows = np.arange(n_curve)
    y0, y1 = y_BxT[rows, jm], y_BxT[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(y1 > y0, (level - y0) / (y1 - y0), 0.0)
    x0, x1 = x[rows, jm], x[rows, j]
    out = np.where(j == start, x[rows, start], x0 + np.clip(frac, 0, 1) * (x1 - x0))
    return np.where(reached, out, np.nan)


def _levenberg_marquardt(p0, y, w, free, lo, hi, x, family: SCurve, max_iter: int,
                         free_rows: tuple[int, ...], windowed: bool, ftol: float = 1e-10):
    """Bounded LM for one curve of ``family``; returns parameters, final cost, Gauss–Newton
    matrix, converged. ``free_rows`` (static) lists the parameters that ``free`` may leave free.
    With ``windowed`` (static), ``w`` (T,) weighs each sample's residual and Jacobian (1 inside
    the fit window, 0 outside: ``x`` must be finite everywhere); without, every sample counts
    and ``w`` is not read (the program of a fit without windows).

    Stops when a step changes the cost by less than ``ftol`` relative, or the step itself is
    below ``ftol`` relative to the parameters (as scipy's ``ftol``/``xtol``). Each iteration
    evaluates the model once: the candidate's residuals and Jacobian are kept if it is accepted.
    """

    n_params = p0.shape[0]
    rows = np.asarray(free_rows)

    def evaluate(p):
        r, jac = family.residuals_and_jacobian(p, x, y)
        jac = jac[rows]  # only the free parameters' rows are ever computed
        if windowed:
            r, jac = r * w, jac * w
        # Elementwise sums rather than matrix products: XLA fuses them with the model into one
        # pass over the curve.
        k = len(rows)
        sums = {(i, j): jnp.sum(jac[i] * jac[j]) for i in range(k) for j in range(i, k)}
        a_free = jnp.stack([jnp.stack([sums[min(i, j), max(i, j)] for j in range(k)])
                            for i in range(k)])
        grad = jnp.stack([jnp.sum(jac[i] * r) for i in range(k)])
        a_mat = jnp.zeros((n_params, n_params)).at[np.ix_(rows, rows)].set(a_free)
        return 0.5 * jnp.sum(r**2), a_mat, jnp.zeros(n_params).at[rows].set(grad)

    def gauss_newton_step(p, a_mat, grad):
        """The full Gauss–Newton step from ``p`` (parameters at an active bound held) and the
        decrease of the cost it predicts."""
        m = movable(p, grad) * free
        a_eff = a_mat * jnp.outer(m, m) + jnp.diag(1.0 - m) + 1e-300
        g = grad * m
        step = jnp.linalg.solve(a_eff, g) * m
        return step, 0.5 * g @ step

    def movable(p, grad):
        """1 for parameters that may move: not at a bound that the descent direction points past."""
        return jnp.where(((p <= lo) & (grad > 0)) | ((p >= hi) & (grad < 0)), 0.0, 1.0)

    def body(state):
        p, mu, f, a_mat, grad, it, _ = state
        # Active-set step: parameters held at a bound drop out of the solve (for one step).
        m = movable(p, grad)
        a_eff = a_mat * jnp.outer(m, m)
        scale = jnp.diag(a_eff) + 1e-12 * jnp.trace(a_eff) + 1e-300
        damped = a_eff + mu * jnp.diag(scale) + jnp.diag(1.0 - free * m)
        p_new = jnp.clip(p - jnp.linalg.solve(damped, grad * m) * free * m, lo, hi)
        f_new, a_new, g_new = evaluate(p_new)
        better = f_new < f
        tiny_change = jnp.abs(f - f_new) <= ftol * f
        tiny_step = jnp.linalg.norm(p_new - p) <= ftol * (jnp.linalg.norm(p) + ftol)
        # Also done when, from the accepted point, even a full Gauss–Newton step could not
        # lower the cost by ftol: this saves the confirming iteration (MINPACK's test on the
        # predicted reduction).
        polished = better & (gauss_newton_step(p_new, a_new, g_new)[1] <= ftol * f_new)
        done = tiny_change | tiny_step | polished | (mu > 1e12) | (f_new == 0)
        keep = lambda new, old: jnp.where(better, new, old)  # noqa: E731
        return (keep(p_new, p), jnp.where(better, mu * 0.3, mu * 4.0), keep(f_new, f),
                keep(a_new, a_mat), keep(g_new, grad), it + 1, done)

    def cond(state):
        return (state[5] < max_iter) & ~state[6]

    f0, a0, g0 = evaluate(p0)
    p, mu, f, a_mat, grad, it, done = jax.lax.while_loop(
        cond, body, (p0, jnp.asarray(1e-3), f0, a0, g0, 0, False))
    # A minimum has a gradient small next to |J|·|r| (the floor covers exact, zero-residual data);
    # at an active bound only the components that could still move count (projected gradient).
    n_points = jnp.sum(w) if windowed else x.shape[0]
    r_norm = jnp.maximum(jnp.sqrt(2.0 * f), 1e-10 * jnp.sqrt(n_points))
    stationary = (jnp.linalg.norm(grad * movable(p, grad))
                  <= 1e-4 * jnp.sqrt(jnp.trace(a_mat)) * r_norm)
    # The stopping tests leave the parameters a fraction of a standard error from the optimum
    # (~1e-3 of one): the Gauss–Newton step already in hand, whose gain is below ftol and hence
    # inside the quadratic model's accuracy, takes them the rest of the way without another pass
    # over the data.
    step, gain = gauss_newton_step(p, a_mat, grad)
    return jnp.clip(p - step, lo, hi), f - gain, a_mat, done & stationary


def _cost(p, y, x, family: SCurve):
    """Half the residual sum of squares of ``family`` with parameters ``p`` on one curve."""
    return 0.5 * jnp.sum((family.model(p, x) - y) ** 2)


def _coarse_then_full(p0, y, w, free, lo, hi, x, x0, span, coarse, idx, family: SCurve,
                      max_iter: int, free_rows: tuple[int, ...], windowed: bool):
    """:func:`_levenberg_marquardt` on the axis ``(x − x0)/span`` and ``_COARSE_POINTS`` evenly
    spread samples ``idx`` of the curve's window, then on all of it from that solution (where
    ``coarse``: the samples resolve the jump) or from ``p0``: the full-data solve then needs only
    the step or two that polish a nearby optimum. Also returns the total sum of squares of the
    window's samples (``w`` > 0)."""
    solve = partial(_levenberg_marquardt, family=family, max_iter=max_iter, free_rows=free_rows,
                    windowed=windowed)
    x = (x - x0) / span
    if x.shape[0] > 2 * _COARSE_POINTS:
        p_coarse, _, _, converged = solve(p0, y[idx], w[idx], free, lo, hi, x[idx])
        p0 = jnp.where(coarse & converged, p_coarse, p0)
    if not windowed:
        return *solve(p0, y, w, free, lo, hi, x), jnp.sum((y - jnp.mean(y)) ** 2)
    mean = jnp.sum(w * y) / jnp.sum(w)
    return *solve(p0, y, w, free, lo, hi, x), jnp.sum(w * (y - mean) ** 2)


@partial(jax.jit, static_argnames=("family", "max_iter", "free_rows", "windowed", "batch_size"))
def _fit_batch(p0, y, w, free, lo, hi, x, x0, span, coarse, idx, family: SCurve, max_iter: int,
               free_rows: tuple[int, ...], windowed: bool, batch_size: int = 4):
    """:func:`_coarse_then_full` over a batch (B, ...), ``batch_size`` curves at a time; the
    masked program only where ``windowed`` (some curve's window is not all of it)."""
    solve = partial(_coarse_then_full, family=family, max_iter=max_iter, free_rows=free_rows,
                    windowed=windowed)
    return jax.lax.map(lambda args: solve(*args),
                       (p0, y, w, free, lo, hi, x, x0, span, coarse, idx), batch_size=batch_size)


@float64
def fit_curve(t, acc, *, shape: str | SCurve = DEFAULT_SHAPE, c: float | None = None,
              d: float | None = None, log_time: bool = False, min_r2: float = 0.9,
              max_iter: int = 200, window=None) -> CurveFit:
    """Least-squares fit of ``c·S(a(t − b); θ) + d`` to one curve (T,) or a batch (B, T).

    Args:
      t: times (T,) shared by all curves or (B, T) one grid per curve; strictly increasing, any
        unit. With ``log_time``, samples at ``t <= 0`` are left out of the fit (its window starts
        at the first ``t > 0``); at least the minimum number of points must remain.
      acc: accuracies (T,) or (B, T), finite.
      shape: the S-curve family, a name of :data:`linear_grok.scurves.SHAPES` or an
        :class:`~linear_grok.scurves.SCurve`; the paper's ``"erf"`` by default.
      c, d: fixed amplitude and midpoint (e.g. from :func:`linear_grok.scurves.chance_to_cd`);
        ``None`` fits them.
      log_time: fit on ``log t`` (curves spanning decades).
      min_r2: fits with ``R²`` below this are reported with a reason (not ok).
      max_iter: Levenberg–Marquardt iteration cap.
      window: ``None`` (every sample) or ``(start, end)``: the half-open range of sample indices
        ``[start, end)`` each curve's fit uses, each an int, ``None`` (0, resp. T) or (B,) ints,
        one per curve (``window=(fit.start, fit.end)`` refits on a previous fit's windows).
        Samples outside get zero weight and count in nothing: starting values, the [0, 1] axis
        and ``b``'s bounds, R², RMSE, AIC/BIC (``n = end − start``) and the resolution test.
    Returns:
      :class:`CurveFit`, with scalars for a 1-D ``acc`` and ``(B,)`` arrays otherwise. A curve
      with no jump (it starts at or above its midpoint, or never reaches it), or whose jump is
      narrower than the time grid resolves (fewer than ``_MIN_JUMP_POINTS`` samples within its
      ramp ``|t − b| <= c/max A'``), is a recorded failure; the latter, when a pair of samples
      brackets its midpoint crossing, is ``limited`` (resolution-limited, with bounds).
    Raises:
      ValueError: malformed input (shape, NaN, too few points, non-increasing ``t``, unknown
        shape, a window outside the curve or of too few points).
    """
    family = get_shape(shape)
    t, y = validate_curves(t, acc, "acc", log_time)
    result = fit_checked(t, y, family, c=c, d=d, log_time=log_time, min_r2=min_r2,
                         max_iter=max_iter, window=window)
    return as_single(result) if np.ndim(acc) == 1 else result


@float64
def fit_checked(t: np.ndarray, y: np.ndarray, family: SCurve, *, c: float | None, d: float | None,
                log_time: bool, min_r2: float, max_iter: int, window=None) -> CurveFit:
    """:func:`fit_curve` on curves already through :func:`validate_curves` (both (B, T)),
    always as a batch."""
    if c is not None and c <= 0:
        raise ValueError(f"c must be > 0 (a rising curve); got {c!r}")
    n_curve, n_points = y.shape
    start, end = fit_window(t, window, log_time)
    rows = np.arange(n_curve)
    inside = window_mask(start, end, n_points)
    x = time_axis(t, log_time)
    # Each curve on its own window mapped to [0, 1] (inside the solve): conditioning, and b's
    # bounds, per curve. Samples outside the window get weight 0 and a finite abscissa.
    x0 = x[rows, start]
    span = x[rows, end - 1] - x0
    x_fit = np.where(inside, x, x0[:, None])
    p0, free, lo, hi, reason = _start(family, x, y, c, d, start, end)
    # The coarse first solve is trusted where its samples put enough points on the ramp, and
    # used only for windows long enough to be sampled (as for a curve cut to its window).
    ramp = 1.0 / (np.exp(p0[:, 0]) * np.asarray(family.max_unit_slope(p0[:, 4:])))
    coarse = (ramp * _COARSE_POINTS >= _COARSE_RAMP_POINTS) & (end - start > 2 * _COARSE_POINTS)
    idx = (np.round(np.linspace(start, end - 1, _COARSE_POINTS, axis=1)).astype(np.int64)
           if n_points > 2 * _COARSE_POINTS else np.zeros((n_curve, 1), dtype=np.int64))
    windowed = not inside.all()
    weight = inside if windowed else np.ones((n_curve, 1), dtype=bool)  # not read unwindowed
    p, f, a_mat, converged, tss = jax.device_get(_fit_batch(
        jnp.asarray(p0), jnp.asarray(y), jnp.asarray(weight, dtype=y.dtype), jnp.asarray(free),
        jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(x_fit), jnp.asarray(x0),
        jnp.asarray(span), jnp.asarray(coarse), jnp.asarray(idx), family=family,
        max_iter=max_iter, free_rows=tuple(int(i) for i in np.flatnonzero(free[0])),
        windowed=windowed))
    converged = np.asarray(converged) & (reason == "")
    n = end - start
    # A sum of squares: the final Gauss–Newton step's predicted gain can overshoot a cost that
    # is zero to rounding (exact data) by a rounding error.
    stats = _statistics(n, np.maximum(2.0 * f, 0.0), tss, a_mat, free)
    reason, unresolved, at_edge = _check(p, lo, hi, converged, stats["r2"], min_r2, reason,
                                         _points_across_jump(family, p, x, x0, span, start, end))

    # Resolution-limited: the jump is not resolved, but two samples bracket its midpoint
    # crossing and the curve is a jump (the fit, or a step at the crossing, has R² >= min_r2).
    # Unresolved: too few samples on the fitted ramp, or the rate at its upper bound; or the
    # fit pushed b to the window's edge with the crossing in the first or last interval (a
    # train curve at its top from the second logged step on); or the crossing lies between the
    # window's first sample and the one before it, left out of a log-time fit (step 0).
    p = p.copy()
    j, reached = _first_above(y, p[:, 3], start, end)
    before = reached & (j == start) & (start > 0) & (y[rows, np.maximum(start - 1, 0)] < p[:, 3])
    jm = np.where(before, start - 1, np.maximum(j - 1, start))
    edge = at_edge & ((j == start + 1) | (j == end - 1))
    jump_like = np.fmax(stats["r2"], _step_r2(y, jm, j, end)) >= min_r2
    limited = (((unresolved | edge) & reached & (j > start)) | before) & jump_like
    jump_lo = np.where(limited, t[rows, jm], np.nan)
    jump_hi = np.where(limited, t[rows, j], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        max_slope_lo = np.where(limited, (y[rows, j] - y[rows, jm]) / (t[rows, j] - t[rows, jm]),
                                np.nan)
    # Its jump time: the least-squares b where it lies in the bracket (as for resolved fits),
    # else the interpolated crossing of d.
    b_time = np.exp(x0 + span * p[:, 1]) if log_time else x0 + span * p[:, 1]
    off = limited & ~((b_time >= jump_lo) & (b_time <= jump_hi))
    if np.any(off):
        crossing = first_crossing(x, y, p[:, 3], start, end)
        # Before the window (log time): the crossing interpolated on the linear axis, from t <= 0.
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = (p[:, 3] - y[rows, jm]) / (y[rows, j] - y[rows, jm])
            linear = jump_lo + np.clip(frac, 0, 1) * (jump_hi - jump_lo)
            crossing = np.where(before, time_axis(np.where(linear > 0, linear, jump_hi / 2), log_time),
                                crossing)
        p[off, 1] = (crossing[off] - x0[off]) / span[off]

    failed = (reason != "") & ~limited
    nan_if = lambda v, m=failed: np.where(m.reshape(-1, *[1] * (np.ndim(v) - 1)), np.nan, v)  # noqa: E731
    no_se = lambda v: nan_if(v, reason != "")  # noqa: E731
    a, se = np.exp(p[:, 0]) / span, stats["se"]
    result = CurveFit(
        family=np.full(n_curve, family.name), a=nan_if(a), b=nan_if(x0 + span * p[:, 1]),
        c=nan_if(p[:, 2]), d=nan_if(p[:, 3]), theta=nan_if(p[:, 4:]), a_se=no_se(a * se[:, 0]),
        b_se=no_se(span * se[:, 1]), c_se=no_se(se[:, 2]), d_se=no_se(se[:, 3]),
        r2=stats["r2"], rmse=stats["rmse"], aic=nan_if(stats["aic"]), bic=nan_if(stats["bic"]),
        converged=converged, reason=reason.astype(str), start=start, end=end, limited=limited,
        jump_lo=jump_lo, jump_hi=jump_hi, max_slope_lo=max_slope_lo, log_time=log_time)
    return result


def _start(family: SCurve, x: np.ndarray, y: np.ndarray, c, d, start: np.ndarray,
           end: np.ndarray):
    """Starting parameters, free mask and bounds (B, P) on each curve's [0, 1] axis
    ``(x − x[start])/(x[end − 1] − x[start])``, from the samples of its window, and the reason a
    curve cannot be fitted at all (flat, or no midpoint crossing in the window)."""
    n_curve, n_points = y.shape
    rows = np.arange(n_curve)
    x0 = x[rows, start]
    span = x[rows, end - 1] - x0
    c0, d0 = window_cd(y, c, d, start, end)
    reason = np.full(n_curve, "", dtype=object)
    flat = c0 <= 1e-12
    reason[flat] = "flat curve: no jump to fit"
    starts_above = ~flat & (y[rows, start] >= d0)
    reason[starts_above] = "curve starts at or above its midpoint d: the jump is before the window"
    b0 = (first_crossing(x, y, d0, start, end) - x0) / span
    never = ~flat & ~starts_above & np.isnan(b0)
    reason[never] = "curve never reaches its midpoint d: no jump in the window"

    # Starting rate from the width between the quarter levels d ± c/2 around the crossing.
    width = (first_crossing(x, y, d0 + c0 / 2, start, end)
             - first_crossing(x, y, d0 - c0 / 2, start, end)) / span
    a0 = np.where(np.isfinite(width) & (width > 0),
                  2 * family.quarter / np.where(width > 0, width, 1), 10.0)
    b0 = np.where(np.isnan(b0), 0.5, b0)
    log_a_min, log_a_max = _log_a_bounds(end - start)
    n_shape = len(family.shape_names)
    p0 = np.column_stack([np.clip(np.log(a0), log_a_min, log_a_max), b0, c0, d0,
                          np.tile(family.shape_start, (n_curve, 1))])
    free = np.tile([1.0, 1.0, float(c is None), float(d is None)] + [1.0] * n_shape, (n_curve, 1))
    lo = np.tile([0.0, 0.0, 0.0, -np.inf] + [b[0] for b in family.shape_bounds], (n_curve, 1))
    hi = np.tile([0.0, 1.0, np.inf, np.inf] + [b[1] for b in family.shape_bounds], (n_curve, 1))
    lo[:, 0], hi[:, 0] = log_a_min, log_a_max
    lo[:, 2] = np.where(free[:, 2] > 0, 0.0, c0)
    return p0, free, lo, hi, reason


def _log_a_bounds(n_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (B,) of ``log a`` on the [0, 1] axis: from a jump 100 windows wide to 1/100 of a
    point (``n_points`` (B,): the samples of each curve's window)."""
    n_points = np.asarray(n_points, dtype=np.float64)
    return np.full(n_points.shape, -math.log(100.0)), np.log(100.0 * n_points)


def _statistics(n_points: np.ndarray, rss: np.ndarray, tss: np.ndarray, a_mat: np.ndarray,
                free: np.ndarray) -> dict:
    """Standard errors (B, P) on the [0, 1] axis from the Gauss–Newton matrix, R², RMSE, AIC
    and BIC (``k`` = free parameters + the noise variance) of each fit, from the residual and
    total sums of squares (B,) over each window's ``n_points`` (B,) samples."""
    n_curve = rss.shape[0]
    n_free = free.sum(axis=1)
    s2 = rss / np.maximum(n_points - n_free, 1)
    cov = np.full(a_mat.shape, np.nan)
    for i in range(n_curve):
        idx = np.flatnonzero(free[i])
        sub = a_mat[i][np.ix_(idx, idx)]
        if np.all(np.isfinite(sub)) and np.linalg.cond(sub) < 1e14:
            cov[i][np.ix_(idx, idx)] = np.linalg.inv(sub) * s2[i]
    with np.errstate(invalid="ignore"):  # a negative variance of a singular fit: NaN
        se = np.where(free > 0, np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), np.nan)
    k = n_free + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(tss > 0, 1.0 - rss / tss, np.nan)
        log_lik_term = n_points * np.log(rss / n_points)
    return {"se": se, "r2": r2, "rmse": np.sqrt(rss / n_points),
            "aic": log_lik_term + 2 * k, "bic": log_lik_term + k * np.log(n_points)}


def _points_across_jump(family: SCurve, p: np.ndarray, x: np.ndarray, x0: np.ndarray,
                        span: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Samples of each curve's window (B,) inside its fitted jump's ramp ``|x − b| <= c/max A'``
    (``p`` on the [0, 1] axis): the interval of width ``2c/max A' = 2/(a·max S')``, over which a
    straight line at the maximum slope rises by the jump's full ``2c``."""
    slope = np.asarray(family.max_unit_slope(p[:, 4:]), dtype=np.float64)
    half = span / (np.exp(p[:, 0]) * slope)
    mid = x0 + span * p[:, 1]
    return np.array([np.searchsorted(row[s:e], m + h, "right")
                     - np.searchsorted(row[s:e], m - h, "left")
                     for row, m, h, s, e in zip(x, mid, half, start, end, strict=True)])


def _check(p, lo, hi, converged, r2, min_r2: float, reason: np.ndarray,
           points_across: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the reason a converged solve is still not a measurement: the jump at the window's
    edge, the rate at its bound, a jump the grid does not resolve, no convergence, or a poor fit.
    Also returns which curves failed because their jump is narrower than the grid resolves (the
    rate at its upper bound, or too few samples on the ramp), and which because ``b`` reached
    the window's edge."""
    reason = reason.copy()
    log_a_min, log_a_max = lo[:, 0], hi[:, 0]
    ok = reason == ""
    at_edge = ok & ((p[:, 1] <= 1e-9) | (p[:, 1] >= 1 - 1e-9))
    reason[at_edge] = "jump time b at the edge of the window"
    too_sharp = ok & ~at_edge & (p[:, 0] >= log_a_max - 1e-9)
    at_bound = ok & ~at_edge & (too_sharp | (p[:, 0] <= log_a_min + 1e-9))
    reason[at_bound] = "sharpness a at its bound (jump narrower than the sampling or wider than 100 windows)"
    unresolved = (reason == "") & (points_across < _MIN_JUMP_POINTS)
    reason[unresolved] = [f"jump narrower than the time grid resolves: {n} sample(s) across its "
                          f"ramp (< {_MIN_JUMP_POINTS})" for n in points_across[unresolved]]
    ok = reason == ""
    reason[ok & ~converged] = "least squares did not converge"
    poor = (reason == "") & ~(r2 >= min_r2)
    reason[poor] = [f"poor fit: R² = {v:.3g} < min_r2 = {min_r2:g}" for v in r2[poor]]
    return reason, too_sharp | unresolved, at_edge


def _step_r2(y: np.ndarray, first: np.ndarray, j: np.ndarray, end: np.ndarray) -> np.ndarray:
    """R² (B,) of a step at sample ``j``: each curve's samples ``[first, j)`` and ``[j, end)``
    replaced by their means, against the mean of ``[first, end)``. Near 1 for a jump between
    two samples, whatever the fitted curve made of it; low for noise or a curve that falls back."""
    idx = np.arange(y.shape[1])
    low = (idx >= first[:, None]) & (idx < j[:, None])
    high = (idx >= j[:, None]) & (idx < end[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        def centred(mask):
            mean = np.sum(y * mask, axis=1) / np.sum(mask, axis=1)
            return np.where(mask, y - mean[:, None], 0.0)
        rss = np.sum(centred(low) ** 2 + centred(high) ** 2, axis=1)
        tss = np.sum(centred(low | high) ** 2, axis=1)
        return np.where(tss > 0, 1.0 - rss / tss, np.nan)


@float64
def fit_erf(t, acc, **kwargs) -> CurveFit:
    """:func:`fit_curve` with the sharpness paper's erf, ``c·erf(a(t − b)) + d``."""
    return fit_curve(t, acc, shape=ERF, **kwargs)


def take_rows(fit: CurveFit, rows) -> CurveFit:
    """The fits of a batch's ``rows`` (a slice or index array)."""
    return dataclasses.replace(fit, **{f.name: getattr(fit, f.name)[rows]
                                       for f in dataclasses.fields(fit) if f.name != "log_time"})

def pick_fits(fits: list[CurveFit], choice: np.ndarray) -> CurveFit:
    """Row ``i`` of ``fits[choice[i]]`` for every row: fits of several families in one batch
    (``theta`` NaN-padded to the widest family)."""
    width = max(f.theta.shape[-1] for f in fits)
    rows = np.arange(choice.size)

    def field(name):
        values = [getattr(f, name) for f in fits]
        if name == "theta":
            values = [np.pad(v, ((0, 0), (0, width - v.shape[-1])), constant_values=np.nan)
                      for v in values]
        return np.stack(values)[choice, rows]

    return dataclasses.replace(fits[0], **{f.name: field(f.name) for f in dataclasses.fields(fits[0])
                                           if f.name != "log_time"})
