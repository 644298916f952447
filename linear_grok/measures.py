"""Grokking measures from a train and a test fit: the sharpness paper's §2 (docs/theory.md §17).

Fit the same S-curve to the train and to the test accuracy (:mod:`linear_grok.fitting`); ``b``
is the jump time, ``a`` the (erf-equivalent) sharpness. From the two fits:

* relative grokking gap ``m = b_test/b_train − 1`` (S2);
* relative sharpness ``a_test/a_train`` (S3), the ratio of the curves' maximum slopes;
* absolute sharpness ``2 c a_test/√π`` (S5), the maximum slope of the fitted test curve.

``measure_grokking(shape="auto")`` fits every family of :mod:`linear_grok.scurves` and keeps, per
train/test pair, the one with the smallest BIC summed over both curves. Intervals are added by
:func:`linear_grok.intervals.bootstrap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linear_grok.fitting import (
    CurveFit,
    as_single,
    first_crossing,
    fit_checked,
    pick_fits,
    validate_curves,
)
from linear_grok.scurves import (
    DEFAULT_SHAPE,
    SHAPES,
    SQRT_PI,
    chance_to_cd,
    check_shape_choice,
    get_shape,
)


@dataclass(frozen=True)
class Intervals:
    """Bootstrap confidence intervals of a batch of measures (:mod:`linear_grok.intervals`).

    ``lower[name]``, ``upper[name]`` are (B,) (scalars for one pair) for each name of
    :data:`MEASURES`; NaN where the pair's fits failed or too few replicates could be fitted.
    ``n_ok`` counts the replicates whose two fits were ok, out of ``n_boot``; ``block`` is the
    residual block length (points).
    """

    level: float
    n_boot: int
    block: int
    seed: int
    lower: dict
    upper: dict
    n_ok: np.ndarray | int


# The measures of a train/test pair that get intervals, in the order they are reported.
MEASURES = ("jump_train", "jump_test", "relative_gap", "relative_sharpness", "absolute_sharpness")


def pair_measures(fit_train: CurveFit, fit_test: CurveFit) -> dict[str, np.ndarray]:
    """The :data:`MEASURES` of train/test fit pairs: jump times, (S2), (S3), (S5)."""
    return {"jump_train": fit_train.jump_time, "jump_test": fit_test.jump_time,
            "relative_gap": relative_gap(fit_train.jump_time, fit_test.jump_time),
            "relative_sharpness": relative_sharpness(fit_train.sharpness, fit_test.sharpness),
            "absolute_sharpness": absolute_sharpness(fit_test.sharpness, fit_test.c)}


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
      log_time, min_r2, max_iter: as :func:`linear_grok.fitting.fit_curve`.
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
    pairs, candidates = {}, {}
    for name in names:
        # Train and test curves share one compiled program (same shapes), called on each: no
        # (2B, T) copies of the curves and their grid.
        fit_tr, fit_te = (fit_checked(t, y, get_shape(name), **kwargs) for y in (y_tr, y_te))
        pairs[name] = (fit_tr, fit_te)
        candidates[name] = {"aic": fit_tr.aic + fit_te.aic, "bic": fit_tr.bic + fit_te.bic,
                            "ok": fit_tr.ok & fit_te.ok}
    bic = np.stack([np.where(candidates[k]["ok"], candidates[k]["bic"], np.inf) for k in names])
    choice = np.argmin(bic, axis=0)  # the first family (erf) where no pair is ok
    fit_tr = pick_fits([pairs[k][0] for k in names], choice)
    fit_te = pick_fits([pairs[k][1] for k in names], choice)
    ok = fit_tr.ok & fit_te.ok
    reason = np.array([
        "; ".join(f"{name}: {r}" for name, r in (("train", rt), ("test", re)) if r)
        for rt, re in zip(fit_tr.reason, fit_te.reason, strict=True)], dtype=str)

    x = np.log(t) if log_time else t
    mid_tr = first_crossing(x, y_tr, fit_tr.d if d is None else d)
    mid_te = first_crossing(x, y_te, fit_te.d if d is None else d)
    if log_time:
        mid_tr, mid_te = np.exp(mid_tr), np.exp(mid_te)
    measures = pair_measures(fit_tr, fit_te)
    result = GrokkingMeasure(
        train=fit_tr, test=fit_te, relative_gap=measures["relative_gap"],
        relative_sharpness=measures["relative_sharpness"],
        absolute_sharpness=measures["absolute_sharpness"],
        midpoint_train=mid_tr, midpoint_test=mid_te,
        midpoint_gap=relative_gap(mid_tr, mid_te), ok=ok, reason=reason,
        shape=np.asarray(names)[choice], candidates=candidates, settings=kwargs)
    return as_single(result) if single else result
