"""Grokking measures from a train and a test fit: the sharpness paper's §2 (docs/theory.md §17).

Fit the same S-curve to the train and to the test accuracy (:mod:`linear_grok.fitting`); ``b``
is the jump time, ``a`` the (erf-equivalent) sharpness. From the two fits:

* relative grokking gap ``m = b_test/b_train − 1`` (S2);
* relative sharpness ``a_test/a_train`` (S3), the ratio of the curves' maximum slopes;
* absolute sharpness ``2 c a_test/√π`` (S5), the maximum slope of the fitted test curve.

``measure_grokking(shape="auto")`` fits every family of :mod:`linear_grok.scurves` and keeps, per
train/test pair, the one with the smallest BIC summed over both curves. Intervals are added by
:func:`linear_grok.intervals.bootstrap`.

Real logs (docs/theory.md §17): a jump faster than the log's grid is *resolution-limited*
(:class:`linear_grok.fitting.CurveFit`'s ``limited``): the pair is still measured, with bounds
(:func:`pair_bounds`) where the grid leaves a measure open; a curve that groks and later collapses
(:mod:`linear_grok.collapse`) is measured on its rise, and the collapse reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linear_grok.collapse import find_collapses
from linear_grok.fitting import (
    _MIN_POINTS,
    CurveFit,
    as_single,
    first_crossing,
    fit_checked,
    fit_window,
    pick_fits,
    time_axis,
    validate_curves,
    window_cd,
)
from linear_grok.precision import float64
from linear_grok.scurves import (
    DEFAULT_SHAPE,
    SHAPES,
    SQRT_PI,
    chance_to_cd,
    check_shape_choice,
    get_shape,
)

__all__ = ["Intervals", "MEASURES", "pair_measures", "pair_bounds", "GrokkingMeasure", "relative_gap",
           "relative_sharpness", "absolute_sharpness", "measure_grokking"]


@dataclass(frozen=True)
class Intervals:
    """Bootstrap confidence intervals of a batch of measures (:mod:`linear_grok.intervals`).

    ``lower[name]``, ``upper[name]`` are (B,) (scalars for one pair) for each name of
    :data:`MEASURES`; NaN where the pair's fits failed or too few replicates could be fitted.
    ``n_ok`` counts the replicates whose two fits were ok, out of ``n_boot``; ``method`` is the
    bootstrap (``"wild"`` or ``"binomial"``) and ``ar_order`` the largest autoregressive order
    the wild bootstrap's sieve chose for the residuals (0: independent); ``notes`` warns, per
    pair, where the curves look like a case whose measured coverage misses the level (§17).
    """

    level: float
    n_boot: int
    ar_order: int
    seed: int
    lower: dict
    upper: dict
    n_ok: np.ndarray | int
    method: str = "wild"
    notes: np.ndarray | str = ""


# The measures of a train/test pair that get intervals, in the order they are reported.
MEASURES = ("jump_train", "jump_test", "relative_gap", "relative_sharpness", "absolute_sharpness")


def pair_measures(fit_train: CurveFit, fit_test: CurveFit) -> dict[str, np.ndarray]:
    """The :data:`MEASURES` of train/test fit pairs: jump times, (S2), (S3), (S5); NaN where a
    fit failed, and the sharpness measures NaN where the curves they need are resolution-limited
    (their bounds: :func:`pair_bounds`)."""
    return {"jump_train": fit_train.jump_time, "jump_test": fit_test.jump_time,
            "relative_gap": relative_gap(fit_train.jump_time, fit_test.jump_time),
            "relative_sharpness": relative_sharpness(fit_train.sharpness, fit_test.sharpness),
            "absolute_sharpness": absolute_sharpness(fit_test.sharpness, fit_test.c)}


def pair_bounds(fit_train: CurveFit, fit_test: CurveFit) -> dict[str, tuple]:
    """``{name: (lo, hi)}`` for the :data:`MEASURES` of train/test fit pairs: what the time grid
    allows. A resolved fit contributes its point (``b``, its sharpness); a resolution-limited one
    its bracket ``[jump_lo, jump_hi]`` and sharpness ``[sharpness_lo, ∞)``; the bounds are
    interval arithmetic on those: the gap ``[b_te,lo/b_tr,hi − 1, b_te,hi/b_tr,lo − 1]`` (``∞``
    when the train bracket starts at ``t = 0``), the relative sharpness
    ``[a_te,lo/a_tr,hi, a_te,hi/a_tr,lo]`` (a lower bound ``(x, ∞)`` when only test is limited,
    an upper bound ``(0, x)`` when only train is, ``(0, ∞)`` when both are), the absolute
    sharpness ``[max_slope_lo, ∞)`` when test is limited. ``lo = hi`` = the measure for a
    resolved pair; NaN where a fit failed."""
    jump = {w: _jump_bounds(f) for w, f in (("train", fit_train), ("test", fit_test))}
    rate = {w: _sharpness_bounds(f) for w, f in (("train", fit_train), ("test", fit_test))}
    with np.errstate(divide="ignore", invalid="ignore"):
        slope_te = np.where(fit_test.limited, fit_test.max_slope_lo, fit_test.max_slope)
        return {
            "jump_train": jump["train"], "jump_test": jump["test"],
            "relative_gap": (jump["test"][0] / jump["train"][1] - 1.0,
                             jump["test"][1] / jump["train"][0] - 1.0),
            "relative_sharpness": (rate["test"][0] / rate["train"][1],
                                   rate["test"][1] / rate["train"][0]),
            "absolute_sharpness": (slope_te[()],
                                   np.where(fit_test.limited, np.inf, fit_test.max_slope)[()])}


def _jump_bounds(fit: CurveFit) -> tuple:
    """``(lo, hi)`` of a fit's jump time: its bracket if resolution-limited, else ``b`` twice."""
    jump = fit.jump_time
    return (np.where(fit.limited, fit.jump_lo, jump)[()], np.where(fit.limited, fit.jump_hi, jump)[()])


def _sharpness_bounds(fit: CurveFit) -> tuple:
    """``(lo, hi)`` of a fit's erf-equivalent sharpness: ``[sharpness_lo, ∞)`` if
    resolution-limited, else the sharpness twice."""
    rate = fit.sharpness
    return (np.where(fit.limited, fit.sharpness_lo, rate)[()], np.where(fit.limited, np.inf, rate)[()])


@dataclass(frozen=True)
class GrokkingMeasure:
    """Grokking measures from a train and a test fit (floats for one pair, arrays for a batch).

    ``relative_gap = b_test/b_train − 1``; ``relative_sharpness = a_test/a_train``;
    ``absolute_sharpness = 2 c a_test/√π`` (per time unit), with ``a`` the erf-equivalent
    sharpness of the fitted family. ``midpoint_*`` are the fit-free first crossings of the
    midpoint ``d``, as a cross-check. NaN where ``ok`` is False. ``shape`` names the family of
    each pair's fits; ``candidates`` maps every family that was fitted to the AIC and BIC summed
    over the pair's two curves and whether both fits were ok (one entry unless ``shape="auto"``).
    ``settings`` are the fit's options (``c``, ``d``, ``log_time``, ``min_r2``, ``max_iter``);
    ``intervals`` the bootstrap intervals, once :func:`linear_grok.intervals.bootstrap` added them.

    A pair whose fits are ok or resolution-limited (``train.limited``, ``test.limited``) is a
    measurement: ``ok``, ``reason`` empty, and ``resolution`` names the limited curve(s): ``""``
    (none), ``"train"``, ``"test"`` or ``"both"``. ``bounds`` maps each name of :data:`MEASURES`
    to ``(lo, hi)`` (:func:`pair_bounds`; ``lo = hi`` = the measure when nothing is limited, NaN
    for a failed pair). A limited curve's jump time is a point of its bracket, so the gap keeps a
    value; a measure that the grid only bounds (the sharpness of a limited curve and ratios of
    it) is NaN here and its bound is in ``bounds``, the open side ``0`` or ``inf``.

    ``collapse_train_time``, ``collapse_test_time``: when the curve, having grokked, fell back
    through its midpoint for good (:mod:`linear_grok.collapse`; the fit then used its rise only:
    ``train.end``, ``test.end``); ``collapse_*_depth``: its plateau level minus its final level.
    NaN where the curve did not collapse.
    """

    train: CurveFit
    test: CurveFit
    relative_gap: np.ndarray | float
    relative_sharpness: np.ndarray | float
    absolute_sharpness: np.ndarray | float
    midpoint_train: np.ndarray | float
    midpoint_test: np.ndarray | float
    midpoint_gap: np.ndarray | float
    ok: np.ndarray | bool
    reason: np.ndarray | str
    shape: np.ndarray | str
    candidates: dict
    settings: dict
    resolution: np.ndarray | str
    bounds: dict
    collapse_train_time: np.ndarray | float
    collapse_train_depth: np.ndarray | float
    collapse_test_time: np.ndarray | float
    collapse_test_depth: np.ndarray | float
    intervals: Intervals | None = None


def relative_gap(jump_train, jump_test):
    """Relative grokking gap ``b_test/b_train − 1`` (docs/theory.md (S2))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(jump_test) / np.asarray(jump_train) - 1.0


def relative_sharpness(sharpness_train, sharpness_test):
    """Relative sharpness ``a_test/a_train`` (docs/theory.md (S3), the paper's Measure 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(sharpness_test) / np.asarray(sharpness_train)


def absolute_sharpness(sharpness_test, c):
    """Absolute sharpness, the maximum slope ``2c·a_test/√π`` of the fitted test curve (S5)."""
    return 2.0 * np.asarray(c) * np.asarray(sharpness_test) / SQRT_PI


@float64
def measure_grokking(t, acc_train, acc_test, *, shape: str = DEFAULT_SHAPE, c: float | None = None,
                     d: float | None = None, chance: float | None = None, log_time: bool = False,
                     min_r2: float = 0.9, max_iter: int = 200) -> GrokkingMeasure:
    """Fit both curves and return the relative gap, relative and absolute sharpness.

    Args:
      t: times (T,) or (B, T). acc_train, acc_test: (T,) or (B, T) accuracies on the grid ``t``.
      shape: an S-curve family (:data:`linear_grok.scurves.SHAPES`; the paper's ``"erf"`` by
        default), or ``"auto"``: fit every family and keep, per pair, the one with the smallest
        BIC summed over train and test among those whose two fits are ok (erf when none is).
        BIC rather than AIC: accuracy curves have hundreds to thousands of points, where AIC's
        fixed penalty of 2 per parameter admits an extra shape parameter for the slightest
        systematic misfit, and BIC is consistent (it recovers the generating family as the
        curves grow); both are reported in ``candidates``.
      c, d: fixed amplitude and midpoint, or ``chance`` to derive them
        (:func:`linear_grok.scurves.chance_to_cd`); all ``None`` fits c and d separately for
        each curve.
      log_time, min_r2, max_iter: as :func:`linear_grok.fitting.fit_curve` (with ``log_time``,
        the samples at ``t = 0`` are left out of the fits).

    Each curve is fitted on its window: all samples (at ``t > 0`` for ``log_time``), up to the
    start of a collapse after grokking where there is one (:func:`linear_grok.collapse
    .find_collapses`, with ``c``, ``d`` fixed, or estimated from each curve's range when free).
    """
    if chance is not None:
        if c is not None or d is not None:
            raise ValueError("give either chance or c and d, not both")
        c, d = chance_to_cd(chance)
    single = np.ndim(acc_train) == 1
    kwargs = dict(c=c, d=d, log_time=log_time, min_r2=min_r2, max_iter=max_iter)
    t, y_tr = validate_curves(t, acc_train, "acc_train", log_time)
    _, y_te = validate_curves(t, acc_test, "acc_test", log_time)
    if np.any(t[:, 0] < 0):  # the gap b_test/b_train − 1 counts time from the start of training
        raise ValueError(f"t must be >= 0 (time since the start of training); got {t[:, 0].min():g}")
    if y_tr.shape != y_te.shape:
        raise ValueError(f"acc_train and acc_test must have the same shape; got {y_tr.shape} "
                         f"and {y_te.shape}")
    check_shape_choice(shape)
    names = tuple(SHAPES) if shape == "auto" else (shape,)
    x = time_axis(t, log_time)
    start, end = fit_window(t, None, log_time)
    collapses = {}
    for which, y in (("train", y_tr), ("test", y_te)):
        collapses[which] = find_collapses(x, y, *window_cd(y, c, d, start, end), start, end,
                                          _MIN_POINTS)
    pairs, candidates = {}, {}
    for name in names:
        # Train and test curves share one compiled program (same shapes), called on each: no
        # (2B, T) copies of the curves and their grid.
        fit_tr, fit_te = (fit_checked(t, y, get_shape(name), window=(start, collapses[w].end),
                                      **kwargs)
                          for w, y in (("train", y_tr), ("test", y_te)))
        pairs[name] = (fit_tr, fit_te)
        candidates[name] = {"aic": fit_tr.aic + fit_te.aic, "bic": fit_tr.bic + fit_te.bic,
                            "ok": _measured(fit_tr) & _measured(fit_te)}
    bic = np.stack([np.where(candidates[k]["ok"], candidates[k]["bic"], np.inf) for k in names])
    choice = np.argmin(bic, axis=0)  # the first family (erf) where no pair is ok
    fit_tr = pick_fits([pairs[k][0] for k in names], choice)
    fit_te = pick_fits([pairs[k][1] for k in names], choice)
    measured_tr, measured_te = _measured(fit_tr), _measured(fit_te)
    ok = measured_tr & measured_te
    reason = np.array([
        "; ".join(f"{name}: {r}" for name, r, m in (("train", rt, mt), ("test", re, me)) if not m)
        for rt, re, mt, me in zip(fit_tr.reason, fit_te.reason, measured_tr, measured_te,
                                  strict=True)], dtype=str)
    resolution = np.select([ok & fit_tr.limited & fit_te.limited, ok & fit_tr.limited,
                            ok & fit_te.limited], ["both", "train", "test"], "")

    exp = np.exp if log_time else (lambda v: v)
    mid_tr = exp(first_crossing(x, y_tr, fit_tr.d if d is None else d, fit_tr.start, fit_tr.end))
    mid_te = exp(first_crossing(x, y_te, fit_te.d if d is None else d, fit_te.start, fit_te.end))
    measures = pair_measures(fit_tr, fit_te)
    bounds = pair_bounds(fit_tr, fit_te)
    result = GrokkingMeasure(
        train=fit_tr, test=fit_te, relative_gap=measures["relative_gap"],
        relative_sharpness=measures["relative_sharpness"],
        absolute_sharpness=measures["absolute_sharpness"],
        midpoint_train=mid_tr, midpoint_test=mid_te,
        midpoint_gap=relative_gap(mid_tr, mid_te), ok=ok, reason=reason,
        shape=np.asarray(names)[choice], candidates=candidates, settings=kwargs,
        resolution=resolution, bounds=bounds,
        collapse_train_time=exp(collapses["train"].time),
        collapse_train_depth=collapses["train"].depth,
        collapse_test_time=exp(collapses["test"].time),
        collapse_test_depth=collapses["test"].depth)
    return as_single(result) if single else result


def _measured(fit: CurveFit) -> np.ndarray:
    """Fits that measure their curve: ok, or resolution-limited (measured with bounds)."""
    return np.asarray(fit.ok) | np.asarray(fit.limited)
