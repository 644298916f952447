"""What every setting hands to the measurement: its runs' accuracy curves (:class:`Curves`).

Its own module, so that a setting can produce curves without importing the measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Curves", "first_time_above"]


@dataclass(frozen=True)
class Curves:
    """A setting's accuracy curves: what every setting hands to the measurement.

    Attributes:
      time: the time axis, ``(T,)`` shared or ``(*runs, T)``, in ``time_unit``.
      train, test: accuracies in [0, 1], ``(*runs, T)``.
      labels: per-run values that name the runs (``{"lam": ..., "seed": ...}``), each ``runs``-shaped.
      chance: the accuracy at chance (0 for the linear model, ½ for two classes): the S-curve
        then runs from ``chance`` to 1 (:func:`linear_grok.scurves.chance_to_cd`); ``None``
        fits each curve's ``c`` and ``d`` (no fixed chance level).
      time_unit: the unit of ``time`` in words (``"GD steps"``, ``"epochs"``).
      skip: ``runs``-shaped reasons not to measure a run (``""``: measure it), or ``None``.
    """

    time: np.ndarray
    train: np.ndarray
    test: np.ndarray
    labels: dict
    chance: float | None
    time_unit: str
    skip: np.ndarray | None = None

    @property
    def runs(self) -> tuple[int, ...]:
        """The leading (run) shape."""
        return np.shape(self.train)[:-1]


def first_time_above(time: np.ndarray, acc: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """The first time whose accuracy exceeds ``threshold`` (strictly, as the parity authors'
    ``np.where(acc > threshold)[0][0]``), per run; NaN where none does.

    time (T,), acc (..., T) → (...).
    """
    above = np.asarray(acc) > threshold
    first = np.asarray(time, dtype=np.float64)[np.argmax(above, axis=-1)]
    return np.where(above.any(axis=-1), first, np.nan)
