"""The λ sweep of the sharpness paper's linear setting: accuracy curves to gap–sharpness trends.

Three modes (docs/theory.md §13, §7):

* ``paper``: the paper's grid λ ∈ [1.003, 1.1] with the long-time forms (12)–(13) *without* the
  ``(1−1/λ)`` plateau, as its Figure 1 was drawn. For λ > 1 the real model never generalises at
  ε = 1e-10, so this reproduces the published figure, not the model's dynamics.
* ``exact``: the mirrored grid ``λ' = (2 − √λ)² ∈ [0.905, 0.997]`` (same ``(1−√λ)²``, so the same
  exponents) with the exact MP theory, where the model really groks.
* ``simulate``: the simulator (exact spectral solution of full-batch GD, finite ``d_in``, several
  seeds) on the same grid as ``exact``.

Every mode measures its curves with :func:`linear_grok.grokking.measure_grokking` (``c = d = ½``)
and, as a fit-free reference, takes the theory's jump times and slopes at the midpoint directly.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from linear_grok.cli import stop_point
from linear_grok.curves import Curves
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, measure_runs
from linear_grok.precision import float64
from linear_grok.settings.linear import simulator, theory
from linear_grok.validation import require, require_memory

__all__ = ["MODES", "mirror", "LambdaSweepConfig", "PRESETS", "preset", "lambda_curves",
           "fit_free_measures", "run_lambda_sweep", "lambda_table"]

MODES = ("paper", "exact", "simulate")
_THEORY_FORM = {"paper": "paper", "exact": "exact", "simulate": "discrete"}
_SIM_CHUNK = 8  # λ values simulated together


def mirror(lam) -> np.ndarray:
    """``(2 − √λ)²``: maps λ > 1 to λ' < 1 with the same ``(1 − √λ)²`` (docs/theory.md §13)."""
    return (2.0 - np.sqrt(np.asarray(lam, dtype=np.float64))) ** 2


@dataclass(frozen=True)
class LambdaSweepConfig:
    """One λ sweep. Times are GD steps; ``t ∈ [1, horizon/(λ_p − 1)²]`` on ``n_time`` points,
    with ``λ_p`` the paper-grid value (``λ`` itself above 1, its mirror below 1).

    Attributes:
      mode: ``"paper"``, ``"exact"`` or ``"simulate"`` (module docstring).
      lam_min, lam_max, n_lam: the paper's grid (exact/simulate use its mirror).
      lams: an explicit grid instead (any λ > 0; λ < 1 for a model that groks).
      eps, eta, d_out: accuracy threshold, learning rate, output dimension.
      horizon: the paper's ``5000``. n_time: points per curve (theory modes).
      n_time_simulate: records per simulated curve (each costs a matrix product).
      d_in, seeds, n_test: simulator size, seeds and test-set size.
      min_r2: fits below this R² are recorded as failed.
    """

    mode: str = "exact"
    lam_min: float = 1.003
    lam_max: float = 1.1
    n_lam: int = 120
    lams: tuple[float, ...] | None = None
    eps: float = 1e-10
    eta: float = 0.01
    d_out: int = 1
    horizon: float = 5000.0
    n_time: int = 50_000
    n_time_simulate: int = 2000
    d_in: int = 400
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    n_test: int = 2000
    min_r2: float = 0.9

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {self.mode!r}")
        for name in ("eps", "eta", "horizon"):  # inf passes "> 0" and breaks every curve
            require(name, getattr(self, name), lambda a: np.isfinite(a) & (a > 0), "> 0 and finite")
        require("n_lam", self.n_lam, lambda a: a >= 1, ">= 1")
        require("n_time", self.n_time, lambda a: a >= 10, ">= 10")
        require("lam_min", self.lam_min, lambda a: a > 1, "> 1 (the paper's grid; use lams otherwise)")
        require("lam_max", self.lam_max, lambda a: a > self.lam_min, f"> lam_min = {self.lam_min}")
        require("d_out", self.d_out, lambda a: a >= 1, ">= 1")
        require("n_time_simulate", self.n_time_simulate, lambda a: a >= 10, ">= 10")
        require("d_in", self.d_in, lambda a: a >= 1, ">= 1")
        require("n_test", self.n_test, lambda a: a >= 1, ">= 1")
        if len(self.seeds) == 0:
            raise ValueError("seeds must name at least one seed")
        require("seeds", np.asarray(self.seeds), lambda a: (a >= 0) & (a < 2**31), "in [0, 2**31)")
        require("min_r2", self.min_r2, lambda a: (a >= 0) & (a < 1), "in [0, 1)")
        if self.lams is not None and len(self.lams) == 0:
            raise ValueError("lams must name at least one lambda")
        # About 16 float64 values per curve point (times, losses, accuracies, the fits' work).
        n_runs = self.lam.size * (len(self.seeds) if self.mode == "simulate" else 1)
        n_points = self.n_time_simulate if self.mode == "simulate" else self.n_time
        per_run = 16 * 8 * n_points + (3 * 8 * self.d_in**2 if self.mode == "simulate" else 0)
        require_memory(f"a sweep of {n_runs} runs × {n_points} points", float(n_runs) * per_run)

    @property
    def lam(self) -> np.ndarray:
        """The grid actually swept, (L,)."""
        if self.lams is not None:
            return np.asarray(self.lams, dtype=np.float64)
        paper = np.linspace(self.lam_min, self.lam_max, self.n_lam)
        return paper if self.mode == "paper" else mirror(paper)

    @property
    def lam_paper(self) -> np.ndarray:
        """The paper-grid value of each λ: λ above 1, its mirror below 1. (L,)"""
        lam = self.lam
        return np.where(lam < 1, mirror(lam), lam)

    @property
    def t_max(self) -> np.ndarray:
        """Last time of each curve, ``horizon/(λ_p − 1)²`` steps. (L,)"""
        with np.errstate(divide="ignore"):
            return self.horizon / (self.lam_paper - 1.0) ** 2

    @property
    def times(self) -> np.ndarray:
        """Time grid (L, T): linear in ``[1, t_max]``; integer steps for the simulator."""
        n = self.n_time_simulate if self.mode == "simulate" else self.n_time
        with np.errstate(invalid="ignore"):  # λ = 1 has no window; it is recorded, not run
            t = 1.0 + np.linspace(0.0, 1.0, n)[None, :] * (self.t_max[:, None] - 1.0)
        return np.round(t) if self.mode == "simulate" else t


PRESETS = {
    "quick": LambdaSweepConfig(n_lam=24, n_time=4000, n_time_simulate=800, d_in=300, seeds=(0, 1, 2),
                               n_test=1000),
    "paper": LambdaSweepConfig(n_lam=120, n_time=50_000, n_time_simulate=2000, d_in=400,
                               seeds=(0, 1, 2, 3), n_test=2000),
}


def preset(name: str, **overrides) -> LambdaSweepConfig:
    """A named preset (``"quick"``, ``"paper"``) with optional field overrides."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}; got {name!r}")
    return dataclasses.replace(PRESETS[name], **overrides)


def _invalid_reasons(cfg: LambdaSweepConfig) -> np.ndarray:
    """Per-λ reason to skip a grid point before computing anything ('' when valid)."""
    lam = cfg.lam
    reasons = np.full(lam.shape, "", dtype=object)
    reasons[~(lam > 0)] = "lam must be > 0"
    reasons[(lam > 0) & ~np.isfinite(cfg.t_max)] = "lam = 1 has no finite time window"
    if cfg.mode == "simulate":
        limit = theory.gd_stability_limit(lam, cfg.d_out)
        reasons[(reasons == "") & (cfg.eta >= limit)] = (
            f"eta = {cfg.eta:g} beyond GD stability d_out/lambda_+")
    return reasons


@float64
def lambda_curves(cfg: LambdaSweepConfig, progress: bool = True) -> Curves:
    """The sweep's accuracy curves: train and test (L, S, T) on the λ grid × seeds (one seed but
    for ``simulate``), time in GD steps (L, 1, T); invalid λ are NaN rows with their reason."""
    skip = _invalid_reasons(cfg)
    acc_tr, acc_te = _accuracies(cfg, skip == "", progress)
    n_lam, n_seed, _ = acc_tr.shape
    runs = (n_lam, n_seed)
    seeds = np.asarray(cfg.seeds[:n_seed]) if cfg.mode == "simulate" else np.zeros(1, dtype=int)
    return Curves(time=cfg.times[:, None, :], train=acc_tr, test=acc_te,
                  labels={"lam": np.broadcast_to(cfg.lam[:, None], runs),
                          "seed": np.broadcast_to(seeds[None, :], runs)},
                  chance=0.0, time_unit="GD steps", skip=np.broadcast_to(skip[:, None], runs))


def _accuracies(cfg: LambdaSweepConfig, valid: np.ndarray, progress: bool):
    """Train and test accuracy (L, S, T) for the valid λ (NaN rows elsewhere)."""
    lam, times = cfg.lam, cfg.times
    n_seed = len(cfg.seeds) if cfg.mode == "simulate" else 1
    acc = np.full((2, lam.size, n_seed, times.shape[1]), np.nan)
    idx = np.flatnonzero(valid)
    if cfg.mode == "simulate":
        sim_cfg = simulator.SimConfig(d_in=cfg.d_in, d_out=cfg.d_out, eta=cfg.eta,
                                      eps=(cfg.eps,), n_test=cfg.n_test)
        n_max = int(sim_cfg.n_train(lam[idx]).max()) if idx.size else 1
        chunks = [idx[k:k + _SIM_CHUNK] for k in range(0, idx.size, _SIM_CHUNK)]
        for chunk in tqdm(chunks, desc=f"simulate ({_SIM_CHUNK} λ a chunk)", disable=not progress):
            stop_point()  # an interrupted command stops between chunks
            # Chunks bound memory; a fixed n_max and chunk size keep one compiled program.
            padded = np.resize(chunk, _SIM_CHUNK)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out = simulator.simulate_sweep(sim_cfg, lam[padded], cfg.seeds,
                                               times[padded].astype(np.int64),
                                               check_finite=False, n_max=n_max)
            acc[0, chunk] = out.train_acc[:chunk.size, ..., 0]
            acc[1, chunk] = out.test_acc[:chunk.size, ..., 0]
        return acc[0], acc[1]
    if idx.size:  # every curve in one compiled call
        a_tr, a_te = theory.accuracy_curves(times[idx], lam[idx, None], cfg.eps,
                                            form=_THEORY_FORM[cfg.mode], eta=cfg.eta,
                                            d_out=cfg.d_out)
        acc[0, idx, 0], acc[1, idx, 0] = np.asarray(a_tr), np.asarray(a_te)
    return acc[0], acc[1]


@float64
def fit_free_measures(cfg: LambdaSweepConfig, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Theory's jump times and slopes at the midpoint ``A = ½`` (no fit), per λ.

    ``gap = t*_test/t*_train − 1``, ``relative = slope_test/slope_train``, ``absolute =
    slope_test`` (the maximum slope of an erf-shaped curve is at its midpoint).
    """
    lam = np.where(valid, cfg.lam, 0.5)
    kw = dict(form=_THEORY_FORM[cfg.mode], eta=cfg.eta, d_out=cfg.d_out)
    out = {}
    for which in ("train", "test"):
        t_star = np.asarray(theory.jump_time(0.5, lam, cfg.eps, which=which, **kw))
        t_eval = np.where(np.isfinite(t_star), t_star, 1.0)
        slope = np.asarray(theory.accuracy_slope(t_eval, lam, cfg.eps, which=which, **kw))
        out[f"t_{which}"] = np.where(valid & np.isfinite(t_star), t_star, np.nan)
        out[f"slope_{which}"] = np.where(valid & np.isfinite(t_star), slope, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["gap"] = out["t_test"] / out["t_train"] - 1.0
        out["relative"] = out["slope_test"] / out["slope_train"]
    out["absolute"] = out["slope_test"]
    return {f"nofit_{k}": v for k, v in out.items()}


@float64
def run_lambda_sweep(cfg: LambdaSweepConfig, progress: bool = True,
                     options: MeasureOptions = DEFAULT_OPTIONS) -> dict[str, np.ndarray]:
    """Curves, fits and measures of a whole sweep, as arrays ready for :func:`save_results`.

    A bad λ (invalid, unstable, a curve without a jump, a failed fit, a diverged run) is recorded
    in ``reason`` (L, S) and the sweep goes on. Measures are NaN where ``ok`` is False; the
    measurement is :func:`linear_grok.pipeline.measure_runs` with ``options`` (``c = d = ½``).
    """
    curves = lambda_curves(cfg, progress)
    arrays = measure_runs(curves, options, min_r2=cfg.min_r2)
    arrays.update(fit_free_measures(cfg, _invalid_reasons(cfg) == ""))
    arrays.update(lam=cfg.lam, lam_paper=cfg.lam_paper, t=curves.time[:, 0], acc_train=curves.train,
                  acc_test=curves.test)
    return arrays


def lambda_table(arrays: dict[str, np.ndarray], max_rows: int = 30) -> str:
    """Per-λ table (seed means), thinned to at most ``max_rows`` rows."""
    lam = arrays["lam"]
    step = max(1, math.ceil(lam.size / max_rows))
    head = (f"{'lambda':>9} {'b_train':>11} {'b_test':>11} {'gap':>8} {'R_rel':>8} "
            f"{'R_abs':>10} {'R2_tr':>7} {'R2_te':>7}  ok/seeds  note")
    lines = [head, "-" * len(head)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are failed λ
        for i in range(0, lam.size, step):
            mean = {k: np.nanmean(arrays[k][i]) for k in (
                "b_train", "b_test", "relative_gap", "relative_sharpness", "absolute_sharpness",
                "r2_train", "r2_test")}
            n_ok, n_seed = int(arrays["ok"][i].sum()), arrays["ok"].shape[1]
            note = next((r for r in arrays["reason"][i] if r), "")
            lines.append(
                f"{lam[i]:9.5f} {mean['b_train']:11.5g} {mean['b_test']:11.5g} "
                f"{mean['relative_gap']:8.4g} {mean['relative_sharpness']:8.4g} "
                f"{mean['absolute_sharpness']:10.4g} {mean['r2_train']:7.4f} "
                f"{mean['r2_test']:7.4f}  {n_ok:>2}/{n_seed:<2}     {note[:60]}")
    return "\n".join(lines)
