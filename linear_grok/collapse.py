"""Grok, then collapse: a curve that rises through its midpoint, holds, and falls back for good.

Some runs grok and later lose it (test accuracy up to 0.998, then down to 0.37): fitted whole, the
one-jump S-curve puts its jump at the window's edge. :func:`find_collapses` finds such a fall so
that the jump is measured on the rise alone (the fit window ends before the fall) and the fall is
reported: when the curve falls back through its midpoint ``d`` and how deep.

The rule (docs/theory.md §17, "Collapse after grokking") reads each curve as runs of consecutive
samples below ``d`` and at or above it. A run of at least ``k = max(3, ⌈n/100⌉)`` samples (1 % of
the window's ``n``) is *held*; shorter runs are noise and change nothing. A curve collapses when it
starts below ``d``, holds above ``d`` at some point, and its last held run is below ``d``: it fell
and did not come back for ``k`` samples before the log ends. A dip that recovers (a held run above
``d`` after it) is not a collapse, nor is a fall shorter than ``k`` samples at the end of the log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Collapses", "held_length", "find_collapses"]

_MIN_HELD = 3  # samples a run below or above the midpoint must last to count, at the least
_HELD_FRACTION = 0.01  # ... and this fraction of the window's samples


@dataclass(frozen=True)
class Collapses:
    """Collapses of a batch of curves, (B,) each: ``found``; ``time``, the fall back through the
    midpoint ``d`` (linearly interpolated on the fitted axis, caller's time units); ``depth``, the
    peak level before the fall (the 90th percentile of the samples from the rise through ``d`` to
    the fall: the plateau, not a single spike) minus the final level (the median of the last ``k``
    samples); ``end``, the end of the
    fit window that keeps the rise (exclusive: one past the last sample at or above ``d + c/2``
    before the fall, or past the last sample at or above ``d`` when none is). ``time`` and
    ``depth`` are NaN and ``end`` is the window's own end where there is no collapse."""

    found: np.ndarray
    time: np.ndarray
    depth: np.ndarray
    end: np.ndarray


def held_length(n_points) -> np.ndarray:
    """Samples a run must last to be held: ``max(3, ⌈n/100⌉)`` for windows of ``n`` samples."""
    return np.maximum(_MIN_HELD, np.ceil(_HELD_FRACTION * np.asarray(n_points)).astype(int))


def find_collapses(x: np.ndarray, y: np.ndarray, c, d, start: np.ndarray, end: np.ndarray,
                   min_points: int) -> Collapses:
    """Collapses of curves ``y`` (B, T) on the fitted axis ``x`` (B, T), within the windows
    ``[start, end)`` (B,).

    Args:
      x, y: the fitted axis and the accuracies, (B, T); ``x`` finite inside the windows.
      c, d: (B,) or scalars: the S-curve's half-rise and midpoint (fixed, or estimated from the
        window's range).
      start, end: (B,) each curve's window.
      min_points: a window that keeps the rise holds at least this many samples.
    Returns:
      :class:`Collapses` with ``time`` on the axis ``x`` (``log t`` for a log-time fit: the
      caller takes its exponential).
    """
    n_curve = y.shape[0]
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), (n_curve,))
    d = np.broadcast_to(np.asarray(d, dtype=np.float64), (n_curve,))
    found = np.zeros(n_curve, dtype=bool)
    time, depth = np.full(n_curve, np.nan), np.full(n_curve, np.nan)
    new_end = np.array(end, dtype=np.int64, copy=True)
    for i in range(n_curve):
        s, e = int(start[i]), int(end[i])
        hit = _collapse_one(y[i, s:e], c[i], d[i], int(held_length(e - s)))
        if hit is None:
            continue
        fall, last, peak, final = hit  # indices relative to the window's start
        x0, x1, y0, y1 = x[i, s + fall - 1], x[i, s + fall], y[i, s + fall - 1], y[i, s + fall]
        found[i] = True
        time[i] = x0 + (y0 - d[i]) / (y0 - y1) * (x1 - x0)
        depth[i] = peak - final
        new_end[i] = min(e, max(s + last + 1, s + min_points))
    return Collapses(found=found, time=time, depth=depth, end=new_end)


def _collapse_one(y: np.ndarray, c: float, d: float, k: int):
    """``(fall, last, plateau, final)`` for one window's samples ``y``, or ``None``: ``fall`` the
    first sample below ``d`` after the last held run above it, ``last`` the last sample kept for
    the fit, ``peak`` and ``final`` the levels of :class:`Collapses`' ``depth``."""
    below = y < d
    if below.size == 0 or not below[0]:
        return None  # starts above its midpoint: no rise to keep
    change = np.flatnonzero(below[1:] != below[:-1]) + 1
    run_start = np.concatenate([[0], change])
    run_end = np.concatenate([change, [below.size]])
    held = run_end - run_start >= k
    if not held.any():
        return None
    held_runs = np.flatnonzero(held)
    if not below[run_start[held_runs[-1]]]:
        return None  # the last held state is above d: no fall, or a dip that recovered
    held_above = held_runs[~below[run_start[held_runs]]]
    if held_above.size == 0:
        return None  # never held above its midpoint
    fall = int(run_end[held_above[-1]])  # the first sample below d after the last plateau
    rise = int(run_end[0])  # the first sample at or above d
    top = np.flatnonzero(y[rise:fall] >= d + c / 2)
    last = rise + int(top[-1]) if top.size else fall - 1
    return fall, last, float(np.percentile(y[rise:fall], 90)), float(np.median(y[-k:]))
