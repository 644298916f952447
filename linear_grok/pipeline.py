"""The measurement every sweep shares: a setting's accuracy curves in, per-run measures out.

A setting (:mod:`linear_grok.settings`) produces :class:`Curves`: train and test accuracy for its
runs, shaped ``(*runs, T)`` with any leading run shape (λ × seeds, input sizes × seeds), the labels
of each run, and a reason for each run that must not be measured (an invalid grid point, a
diverged run). :func:`measure_runs`
fits one S-curve family to both curves of every other run in one batched call
(:func:`linear_grok.measures.measure_grokking`), adds bootstrap intervals when asked
(:func:`linear_grok.intervals.bootstrap`), and returns flat arrays shaped ``runs`` ready for
:func:`linear_grok.results.save_results`, :func:`linear_grok.trends.trends` and the figures. A run
that cannot be measured keeps NaN measures and its reason; the sweep goes on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linear_grok.intervals import bootstrap
from linear_grok.measures import MEASURES, measure_grokking
from linear_grok.results import atomic_write
from linear_grok.scurves import DEFAULT_SHAPE, ERF, SHAPE_CHOICES, SHAPES, chance_to_cd, check_shape_choice
from linear_grok.validation import require

FIT_FIELDS = ("a", "b", "c", "d", "r2", "rmse")
RUN_MEASURES = ("relative_gap", "relative_sharpness", "absolute_sharpness", "midpoint_gap")


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


@dataclass(frozen=True)
class MeasureOptions:
    """How a sweep's curves are measured (the same for every setting).

    Attributes:
      shape: S-curve family (:data:`linear_grok.scurves.SHAPES`) or ``"auto"``.
      ci: confidence level of bootstrap intervals in (0, 1), or ``None`` for none.
      n_boot, seed: bootstrap replicates and the seed of their resampling.
    """

    shape: str = DEFAULT_SHAPE
    ci: float | None = None
    n_boot: int = 200
    seed: int = 0

    def __post_init__(self):
        check_shape_choice(self.shape)
        if self.ci is not None:
            require("ci", self.ci, lambda a: (a > 0) & (a < 1), "in (0, 1)")
        require("n_boot", self.n_boot, lambda a: a >= 20, ">= 20")


DEFAULT_OPTIONS = MeasureOptions()  # the paper's measurement: erf, point estimates


def add_arguments(parser) -> None:
    """``--shape``, ``--ci``, ``--n-boot``, ``--boot-seed``: the sweeps' measurement flags."""
    group = parser.add_argument_group("measurement")
    group.add_argument("--shape", choices=SHAPE_CHOICES, default=DEFAULT_SHAPE,
                       help=f"S-curve family fitted to both curves (default: {DEFAULT_SHAPE}, the paper's)")
    group.add_argument("--ci", type=float, default=None,
                       help="confidence level of bootstrap intervals, e.g. 0.95 (default: none)")
    group.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates")
    group.add_argument("--boot-seed", type=int, default=0, help="seed of the bootstrap")


def options_from_args(args) -> MeasureOptions:
    return MeasureOptions(shape=args.shape, ci=args.ci, n_boot=args.n_boot, seed=args.boot_seed)


def measure_runs(curves: Curves, options: MeasureOptions = DEFAULT_OPTIONS, *,
                 log_time: bool = False, min_r2: float = 0.9) -> dict[str, np.ndarray]:
    """Measure every run of a sweep.

    Args:
      curves: the setting's :class:`Curves`; ``c, d`` follow from its chance level.
      options: the family and the intervals (:class:`MeasureOptions`).
      log_time, min_r2: as :func:`~linear_grok.measures.measure_grokking`.
    Returns:
      ``runs``-shaped arrays: the four :data:`RUN_MEASURES`; ``{field}_train`` and
      ``{field}_test`` for ``a, b, c, d, r2, rmse`` and ``theta_*`` (``(*runs, k)``, NaN-padded
      shape parameters); ``shape`` (the family), ``ok`` and ``reason``; with ``options.ci``,
      ``{measure}_lo`` and ``{measure}_hi`` for each of :data:`~linear_grok.measures.MEASURES`.
    """
    acc_train = np.asarray(curves.train, dtype=np.float64)
    acc_test = np.asarray(curves.test, dtype=np.float64)
    runs = curves.runs
    times = np.broadcast_to(np.asarray(curves.time, dtype=np.float64), acc_train.shape)
    reason = (np.full(runs, "", dtype=object) if curves.skip is None
              else np.array(np.broadcast_to(curves.skip, runs), dtype=object))
    chance = curves.chance
    finite = np.isfinite(acc_train).all(-1) & np.isfinite(acc_test).all(-1)
    reason[(reason == "") & ~finite] = "non-finite accuracy (diverged run)"

    out = {k: np.full(runs, np.nan) for k in RUN_MEASURES}
    out.update({f"{k}_{w}": np.full(runs, np.nan) for k in FIT_FIELDS for w in ("train", "test")})
    out["shape"] = np.full(runs, "", dtype=object)
    todo = reason == ""
    if todo.any():
        m = measure_grokking(times[todo], acc_train[todo], acc_test[todo], shape=options.shape,
                             chance=chance, log_time=log_time, min_r2=min_r2)
        if options.ci is not None:
            m = bootstrap(times[todo], acc_train[todo], acc_test[todo], m, level=options.ci,
                          n_boot=options.n_boot, seed=options.seed)
            for k in MEASURES:
                for end, values in (("lo", m.intervals.lower[k]), ("hi", m.intervals.upper[k])):
                    out.setdefault(f"{k}_{end}", np.full(runs, np.nan))[todo] = values
        for k in RUN_MEASURES:
            out[k][todo] = getattr(m, k)
        for w, fit in (("train", m.train), ("test", m.test)):
            for k in FIT_FIELDS:
                out[f"{k}_{w}"][todo] = getattr(fit, k)
            theta = np.asarray(fit.theta, dtype=np.float64)
            out[f"theta_{w}"] = np.full((*runs, theta.shape[-1]), np.nan)
            out[f"theta_{w}"][todo] = theta
        out["shape"][todo] = m.shape
        reason[todo] = m.reason
    out["shape"] = out["shape"].astype(str)
    out["ok"] = reason == ""
    out["reason"] = reason.astype(str)
    return out


def saved_fit(arrays: dict[str, np.ndarray], which: str, index, chance: float) -> tuple[str, tuple]:
    """``(shape, (a, b, c, d, *theta))`` of one run's ``which`` fit (``"train"`` or ``"test"``),
    read from :func:`measure_runs`' arrays. Result files from before S-curve families were saved
    hold erf fits with ``c, d`` fixed by ``chance``."""
    a, b = arrays[f"a_{which}"][index], arrays[f"b_{which}"][index]
    if "shape" not in arrays:
        return ERF.name, (a, b, *chance_to_cd(chance))
    shape = str(arrays["shape"][index]) or DEFAULT_SHAPE  # "" for a run that was not measured
    k = len(SHAPES[shape].shape_names)
    theta = tuple(arrays[f"theta_{which}"][index][:k]) if k else ()
    return shape, (a, b, arrays[f"c_{which}"][index], arrays[f"d_{which}"][index], *theta)


def interval_bars(arrays: dict[str, np.ndarray], name: str, rows) -> np.ndarray | None:
    """Error bars ``(2, n)`` (distance down, distance up) of measure ``name`` at ``rows`` from
    the saved intervals, for ``matplotlib``'s ``errorbar``; ``None`` when none were computed.
    A percentile interval can miss its own estimate (a skewed bootstrap distribution): the bar
    on that side is then zero."""
    if f"{name}_lo" not in arrays:
        return None
    value = np.asarray(arrays[name])[rows]
    return np.maximum(0.0, np.stack([value - np.asarray(arrays[f"{name}_lo"])[rows],
                                     np.asarray(arrays[f"{name}_hi"])[rows] - value]))


def write_tables(path, arrays: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                 trend: dict) -> tuple[Path, Path]:
    """The sweep's tables as CSV beside its result pair: ``<path>_runs.csv``, one row per run
    (its labels, family, fitted jump times and rates, the measures with their interval bounds
    when computed, R², ok and the reason), and ``<path>_trends.csv``, one row per sharpness
    measure (power law against the gap, Spearman ρ). Each is written atomically.

    Args:
      path: the result pair's path without suffix.
      arrays: :func:`measure_runs`' output (runs-shaped).
      labels: ``{name: array}`` broadcastable to the runs' shape (λ and seed, input size...).
      trend: :func:`linear_grok.trends.trends` of ``arrays``.
    """
    path = Path(path)
    runs = arrays["ok"].shape
    columns = {k: np.broadcast_to(v, runs) for k, v in labels.items()}
    columns["shape"] = arrays["shape"]
    for k in ("b", "a"):
        columns.update({f"{k}_{w}": arrays[f"{k}_{w}"] for w in ("train", "test")})
    for k in RUN_MEASURES:
        columns[k] = arrays[k]
        for end in ("lo", "hi"):
            if f"{k}_{end}" in arrays:
                columns[f"{k}_{end}"] = arrays[f"{k}_{end}"]
    columns.update(r2_train=arrays["r2_train"], r2_test=arrays["r2_test"], ok=arrays["ok"],
                   reason=arrays["reason"])
    rows = zip(*(np.ravel(v) for v in columns.values()), strict=True)
    runs_csv = path.with_name(path.name + "_runs.csv")
    write_csv(runs_csv, list(columns), rows)

    head = ["measure", "slope", "slope_se", "intercept", "intercept_se", "r2", "n", "spearman"]
    lines = []
    for name in ("relative_sharpness", "absolute_sharpness"):
        law = trend[name].get("power_law") or {}
        lines.append([name, *(law.get(k, "") for k in head[1:7]), trend[name].get("spearman", "")])
    trends_csv = path.with_name(path.name + "_trends.csv")
    write_csv(trends_csv, head, lines)
    return runs_csv, trends_csv


def write_csv(path: Path, header: list[str], rows) -> None:
    """Atomically write a CSV table: ``header``, then ``rows`` (iterables of cells), floats in
    full precision and NaN as an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    atomic_write(path, lambda fh: fh.write(out.getvalue().encode()))


def _cell(value):
    """A CSV cell: floats in full precision (``repr``), NaN as empty, the rest as text."""
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else repr(float(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    return value.item() if isinstance(value, np.generic) else value
