"""The measurement every sweep shares: a setting's accuracy curves in, per-run measures out.

A setting (:mod:`linear_grok.settings`) produces :class:`Curves`: train and test accuracy for its
runs, shaped ``(*runs, T)`` with any leading run shape (λ × seeds, input sizes × seeds), the labels
of each run, and a reason for each run that must not be measured (an invalid grid point, a
diverged run). :func:`measure_runs`
fits one S-curve family to both curves of every other run in one batched call
(:func:`linear_grok.grokking.measure_grokking`), adds bootstrap intervals when asked
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
from scipy import special

from linear_grok.curves import Curves
from linear_grok.grokking import MEASURES, measure_grokking
from linear_grok.intervals import bootstrap
from linear_grok.precision import float64
from linear_grok.results import atomic_write
from linear_grok.scurves import DEFAULT_SHAPE, ERF, SHAPE_CHOICES, SHAPES, chance_to_cd, check_shape_choice
from linear_grok.validation import require

__all__ = ["FIT_FIELDS", "RUN_MEASURES", "GRID_MEASURES", "MeasureOptions", "DEFAULT_OPTIONS",
           "DEFAULT_LEVEL", "add_arguments", "options_from_args", "measure_runs", "SEED_MEASURES",
           "seed_intervals", "saved_fit", "interval_bars", "write_tables", "write_csv"]

FIT_FIELDS = ("a", "b", "c", "d", "r2", "rmse")
RUN_MEASURES = ("relative_gap", "relative_sharpness", "absolute_sharpness", "midpoint_gap")
# Measures that a jump faster than the time grid leaves bounded (``<name>_grid_lo``/``_grid_hi``).
GRID_MEASURES = ("relative_gap", "relative_sharpness", "absolute_sharpness")


@dataclass(frozen=True)
class MeasureOptions:
    """How curves are measured (the same for every setting and for ``linear_grok.measure``).

    Attributes:
      shape: S-curve family (:data:`linear_grok.scurves.SHAPES`) or ``"auto"``.
      ci: confidence level of bootstrap intervals in (0, 1), or ``None`` for none.
      n_boot, seed: bootstrap replicates and the seed of their draws.
      n_eval: evaluation-set sizes ``(train, test)`` of the accuracies: the parametric binomial
        bootstrap instead of the wild one (:func:`linear_grok.intervals.bootstrap`); ``None``
        when unknown.
    """

    shape: str = DEFAULT_SHAPE
    ci: float | None = None
    n_boot: int = 200
    seed: int = 0
    n_eval: tuple[int, int] | None = None

    def __post_init__(self):
        check_shape_choice(self.shape)
        if self.ci is not None:
            require("ci", self.ci, lambda a: (a > 0) & (a < 1), "in (0, 1), or 0 for none")
        require("n_boot", self.n_boot, lambda a: (a >= 20) & (a <= 100_000), "in [20, 100000]")
        require("boot_seed", self.seed, lambda a: (a >= 0) & (a < 2**63), "in [0, 2**63)")
        if self.n_eval is not None:
            require("n_eval", np.asarray(self.n_eval), lambda a: (a >= 1) & (a <= 2**40) & (a == np.round(a)),
                    "a whole number in [1, 2**40]")

    @property
    def method(self) -> str:
        """The bootstrap: ``"binomial"`` when the evaluation-set sizes are known, else ``"wild"``."""
        return "wild" if self.n_eval is None else "binomial"


DEFAULT_OPTIONS = MeasureOptions()  # the paper's measurement: erf, point estimates
DEFAULT_LEVEL = 0.95  # the level of a bare --ci


def add_arguments(parser) -> None:
    """The measurement flags every command shares: ``--shape``, and the intervals' ``--ci
    [LEVEL]``, ``--n-boot``, ``--boot-seed``, ``--n-eval``."""
    group = parser.add_argument_group("measurement")
    group.add_argument("--shape", choices=SHAPE_CHOICES, default=DEFAULT_SHAPE,
                       help=f"S-curve family fitted to both curves; auto: the smallest BIC per run "
                            f"(default: {DEFAULT_SHAPE}, the paper's)")
    group.add_argument("--ci", type=float, nargs="?", const=DEFAULT_LEVEL, default=None, metavar="LEVEL",
                       help=f"bootstrap confidence intervals at this level in (0, 1); a bare --ci is "
                            f"{DEFAULT_LEVEL}; 0 or absent: none (docs/theory.md §17). A sweep with "
                            f"several seeds also gets intervals over its seeds")
    group.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates (default 200)")
    group.add_argument("--boot-seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    group.add_argument("--n-eval", type=int, nargs="+", default=None, metavar="N",
                       help="evaluation-set size of the accuracies (one N, or N_TRAIN N_TEST): the "
                            "parametric binomial bootstrap instead of the wild bootstrap")


def options_from_args(args) -> MeasureOptions:
    """:class:`MeasureOptions` from :func:`add_arguments`' flags (``ValueError`` names a bad one)."""
    n_eval = args.n_eval
    if n_eval is not None:
        if len(n_eval) not in (1, 2):
            raise ValueError(f"n_eval takes one size or two (train, test); got {len(n_eval)} values")
        n_eval = (n_eval[0], n_eval[-1])
        if not args.ci:
            raise ValueError("n_eval applies to the intervals: add --ci")
    return MeasureOptions(shape=args.shape, ci=args.ci or None, n_boot=args.n_boot,
                          seed=args.boot_seed, n_eval=n_eval)


@float64
def measure_runs(curves: Curves, options: MeasureOptions = DEFAULT_OPTIONS, *,
                 log_time: bool = False, min_r2: float = 0.9) -> dict[str, np.ndarray]:
    """Measure every run of a sweep.

    Args:
      curves: the setting's :class:`Curves`; ``c, d`` follow from its chance level.
      options: the family and the intervals (:class:`MeasureOptions`).
      log_time, min_r2: as :func:`~linear_grok.grokking.measure_grokking`.
    Returns:
      ``runs``-shaped arrays: the four :data:`RUN_MEASURES`; ``{field}_train`` and
      ``{field}_test`` for ``a, b, c, d, r2, rmse`` and ``theta_*`` (``(*runs, k)``, NaN-padded
      shape parameters); ``shape`` (the family), ``ok`` and ``reason``; ``resolution`` (which
      curve's jump is faster than the time grid: ``""``, ``"train"``, ``"test"``, ``"both"``) and
      the bounds the grid allows, ``{measure}_grid_lo``/``_grid_hi`` for :data:`GRID_MEASURES`
      (equal to the measure for a resolved run); ``collapse_{train,test}_{time,depth}`` (NaN
      where the curve did not collapse after grokking); with ``options.ci``,
      ``{measure}_lo`` and ``{measure}_hi`` for each of :data:`~linear_grok.grokking.MEASURES`
      and ``interval_note`` (where the curves look like a case whose measured coverage misses
      the level), and with several seeds the intervals over seeds (:func:`seed_intervals`).
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
    out.update({f"{k}_grid_{end}": np.full(runs, np.nan) for k in GRID_MEASURES for end in ("lo", "hi")})
    out.update({f"collapse_{w}_{k}": np.full(runs, np.nan) for w in ("train", "test")
                for k in ("time", "depth")})
    out["resolution"] = np.full(runs, "", dtype=object)
    out["shape"] = np.full(runs, "", dtype=object)
    todo = reason == ""
    if todo.any():
        m = measure_grokking(times[todo], acc_train[todo], acc_test[todo], shape=options.shape,
                             chance=chance, log_time=log_time, min_r2=min_r2)
        if options.ci is not None:
            m = bootstrap(times[todo], acc_train[todo], acc_test[todo], m, level=options.ci,
                          n_boot=options.n_boot, method=options.method, n_eval=options.n_eval,
                          seed=options.seed)
            for k in MEASURES:
                for end, values in (("lo", m.intervals.lower[k]), ("hi", m.intervals.upper[k])):
                    out.setdefault(f"{k}_{end}", np.full(runs, np.nan))[todo] = values
            out["interval_note"] = np.full(runs, "", dtype=object)
            out["interval_note"][todo] = m.intervals.notes
        for k in RUN_MEASURES:
            out[k][todo] = getattr(m, k)
        for w, fit in (("train", m.train), ("test", m.test)):
            for k in FIT_FIELDS:
                out[f"{k}_{w}"][todo] = getattr(fit, k)
            theta = np.asarray(fit.theta, dtype=np.float64)
            out[f"theta_{w}"] = np.full((*runs, theta.shape[-1]), np.nan)
            out[f"theta_{w}"][todo] = theta
        out["shape"][todo] = m.shape
        out["resolution"][todo] = m.resolution
        for k in GRID_MEASURES:
            out[f"{k}_grid_lo"][todo], out[f"{k}_grid_hi"][todo] = m.bounds[k]
        for k in ("train_time", "train_depth", "test_time", "test_depth"):
            out[f"collapse_{k}"][todo] = getattr(m, f"collapse_{k}")
        reason[todo] = m.reason
    out["shape"] = out["shape"].astype(str)
    out["resolution"] = out["resolution"].astype(str)
    if "interval_note" in out:
        out["interval_note"] = out["interval_note"].astype(str)
    out["ok"] = reason == ""
    out["reason"] = reason.astype(str)
    seeds = np.asarray(curves.labels.get("seed", np.zeros(runs)))
    if options.ci is not None and np.unique(seeds).size > 1:
        out.update(seed_intervals(out, curves.labels, options.ci))
    return out


SEED_MEASURES = ("relative_gap", "relative_sharpness", "absolute_sharpness")


def seed_intervals(arrays: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                   level: float) -> dict[str, np.ndarray]:
    """Intervals over seeds: for each group of runs whose labels differ only in ``"seed"`` (one
    λ, one input size), the mean of each of :data:`SEED_MEASURES` over the group's ok runs where
    the measure has a value, their standard deviation, and Student's t interval
    ``mean ± t_{(1+level)/2, n−1}·sd/√n`` on the measure's own scale (the seeds are the
    replication unit: each draws its own data and initialisation).

    Args:
      arrays: :func:`measure_runs`' runs-shaped output (``ok`` and the measures).
      labels: the runs' labels (broadcastable to the runs' shape), ``"seed"`` among them.
      level: the confidence level.
    Returns:
      runs-shaped ``{measure}_seeds_mean``, ``_seeds_sd``, ``_seeds_lo``, ``_seeds_hi`` (each run
      carries its group's values; NaN where fewer than two of the group's seeds are ok) and
      ``n_seeds_ok``.
    """
    runs = arrays["ok"].shape
    keys = [np.broadcast_to(v, runs).ravel() for k, v in labels.items() if k != "seed"]
    groups = (np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)[1].ravel() if keys
              else np.zeros(int(np.prod(runs)), dtype=int))
    ok = arrays["ok"].ravel()
    out = {"n_seeds_ok": np.bincount(groups, weights=ok.astype(float))[groups].reshape(runs).astype(int)}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in SEED_MEASURES:
            # A run measured with grid bounds may have only a bound for a sharpness: left out.
            valid = ok & np.isfinite(arrays[name].ravel())
            n = np.bincount(groups, weights=valid.astype(float))
            x = np.where(valid, arrays[name].ravel(), 0.0)
            mean = np.bincount(groups, weights=x) / n
            sd = np.sqrt(np.bincount(groups, weights=np.where(valid, (x - mean[groups]) ** 2, 0.0)) / (n - 1))
            half = special.stdtrit(np.maximum(n - 1, 1), 0.5 + level / 2) * sd / np.sqrt(n)
            for suffix, value in (("mean", mean), ("sd", sd), ("lo", mean - half), ("hi", mean + half)):
                out[f"{name}_seeds_{suffix}"] = np.where(n >= 2, value, np.nan)[groups].reshape(runs)
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


def interval_bars(arrays: dict[str, np.ndarray], name: str, rows, over: str = "replicates"
                  ) -> np.ndarray | None:
    """Error bars ``(2, n)`` (distance down, distance up) of measure ``name`` at ``rows`` from
    the saved intervals, for ``matplotlib``'s ``errorbar``: each run's bootstrap interval about
    its value (``over="replicates"``), or the interval over seeds about the seeds' mean
    (``over="seeds"``, :func:`seed_intervals`); ``None`` when none were computed. Files from
    before intervals held their estimates may hold intervals that miss them: that bar is zero."""
    suffix = "_seeds" if over == "seeds" else ""
    if f"{name}{suffix}_lo" not in arrays:
        return None
    value = np.asarray(arrays[f"{name}_seeds_mean" if over == "seeds" else name])[rows]
    return np.maximum(0.0, np.stack([value - np.asarray(arrays[f"{name}{suffix}_lo"])[rows],
                                     np.asarray(arrays[f"{name}{suffix}_hi"])[rows] - value]))


def write_tables(path, arrays: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                 trend: dict) -> tuple[Path, Path]:
    """The sweep's tables as CSV beside its result pair: ``<path>_runs.csv``, one row per run
    (its labels, family, fitted jump times and rates, the measures with their interval bounds
    and their seed group's mean and interval when computed, R², ok and the reason), and
    ``<path>_trends.csv``, one row per sharpness measure (power law against the gap, Spearman ρ).
    Each is written atomically.

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
        for end in ("lo", "hi", "seeds_mean", "seeds_lo", "seeds_hi"):
            if f"{k}_{end}" in arrays:
                columns[f"{k}_{end}"] = arrays[f"{k}_{end}"]
    for k in ("resolution", "collapse_test_time", "collapse_test_depth"):
        if k in arrays:  # result files from before these were recorded lack them
            columns[k] = arrays[k]
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
