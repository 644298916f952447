"""One gap–sharpness law across the linear model's knobs, or several (docs/theory.md §21).

Each knob of the linear student–teacher model — the aspect ratio λ, the output dimension
``d_out``, the weight decay γ, the accuracy threshold ε and the student's initial scale α — is
swept on its own from one base point (Levi et al.'s λ = 0.9, ``d_out = 1``, γ = 0, ε = 1e-3,
α = 1, η = 0.01). Every point's accuracy curves come from the exact gradient-flow MP theory
(:func:`linear_grok.settings.linear.phase.loss_curves`, one compiled program with every
parameter traced) and are measured twice:

* by the shared pipeline (:func:`linear_grok.pipeline.measure_runs`, the S-curve fits with
  ``c = d = ½``) on a linear time grid from 0 to ``window`` times the step at which the test
  accuracy reaches ``window_level``;
* fit-free: the steps at which each accuracy reaches ½ and its slopes there
  (``nofit_*``; :func:`linear_grok.settings.linear.phase.crossing_times`,
  :func:`~linear_grok.settings.linear.phase.accuracy_slopes`).

**The argument** (docs/theory.md §21). The accuracy (17) depends on a loss only through
``d_out ε/L``, and without weight decay the losses are ``L = (1 + α²)/(2 d_out) · ℓ(ηt/d_out; λ)``.
At the midpoint ``A = ½`` the accuracy's slope is a common factor times ``d log L/dt``, so the
fit-free gap and relative sharpness depend on ε, ``d_out``, α (and η) only through one number, the
normalised loss at the midpoint ``ℓ* = 2 d_out L*(½)/(1 + α²)`` (:func:`midpoint_loss`): those
knobs trace one curve per λ, the *ε-law*. λ changes the shape of ``ℓ`` and γ adds a decay and a
fixed point, so they leave it. :func:`collapse` measures both statements point by point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from linear_grok.cli import stop_point
from linear_grok.curves import Curves
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, measure_runs
from linear_grok.settings.linear import phase, theory
from linear_grok.validation import require

__all__ = ["KNOBS", "SYMBOL", "KnobSweepConfig", "PRESETS", "knob_points", "midpoint_loss",
           "fit_free", "knob_curves", "run_knob_sweep", "knob_views", "collapse", "law_curve",
           "law_distance", "small_gap_coefficient", "knob_table", "summary"]

KNOBS = ("lam", "d_out", "gamma", "eps", "init_scale")
SYMBOL = {"lam": "λ", "d_out": "d_out", "gamma": "γ", "eps": "ε", "init_scale": "α"}
MIDPOINT = 0.5  # the fit-free measures are taken where each accuracy reaches ½
# The knobs that act on the accuracies only through ℓ* (γ = 0): the ε-law holds them exactly.
THROUGH_LOSS_LEVEL = ("d_out", "eps", "init_scale")


def _grid(lo: float, hi: float, n: int, log: bool = True) -> tuple[float, ...]:
    values = np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class KnobSweepConfig:
    """Five one-knob sweeps from one base point.

    Attributes:
      lam, d_out, gamma, eps, init_scale: the base point (λ = d_in/N_tr; output dimension;
        coupled weight decay per step; threshold on a sample's squared error; student scale α
        relative to the teacher's).
      lam_values, d_out_values, gamma_values, eps_values, init_scale_values: each knob's values
        (the other four at the base).
      eta: learning rate; times are GD steps and scale as ``1/eta`` (gradient flow).
      n_time: points per curve on the linear grid ``[0, window · t(window_level)]``.
      window, window_level: the grid ends at ``window`` times the step at which the test
        accuracy reaches ``window_level``.
      min_r2: fits below this R² are recorded as failed.
    """

    lam: float = 0.9
    d_out: float = 1.0
    gamma: float = 0.0
    eps: float = 1e-3
    init_scale: float = 1.0
    lam_values: tuple[float, ...] = _grid(0.3, 0.97, 24, log=False)
    d_out_values: tuple[float, ...] = tuple(float(d) for d in np.unique(
        np.round(np.geomspace(1, 300, 24))))
    gamma_values: tuple[float, ...] = _grid(1e-6, 2e-3, 24)
    eps_values: tuple[float, ...] = _grid(1e-30, 1e-2, 24)
    init_scale_values: tuple[float, ...] = _grid(0.1, 10.0, 24)
    eta: float = 0.01
    n_time: int = 4000
    window: float = 1.5
    window_level: float = 0.99
    min_r2: float = 0.9

    def __post_init__(self):
        positive = lambda a: np.isfinite(a) & (a > 0)  # noqa: E731
        for name in ("lam", "eps", "init_scale"):
            require(name, getattr(self, name), positive, "> 0 and finite")
            require(f"{name}_values", np.asarray(getattr(self, f"{name}_values")), positive,
                    "> 0 and finite")
        require("lam", self.lam, lambda a: a < 1, "< 1 (λ ≥ 1 never generalises, §7)")
        require("eps", self.eps, lambda a: a <= 1, "<= 1")
        require("eps_values", np.asarray(self.eps_values), lambda a: a <= 1, "<= 1")
        require("init_scale_values", np.asarray(self.init_scale_values), lambda a: a <= 1e3,
                "<= 1e3")
        for name in ("d_out", "d_out_values"):
            require(name, np.asarray(getattr(self, name)),
                    lambda a: np.isfinite(a) & (a >= 1) & (a <= 10**4), "in [1, 10**4]")
        for name in ("gamma", "gamma_values"):
            require(name, np.asarray(getattr(self, name)),
                    lambda a: np.isfinite(a) & (a >= 0) & (a <= 1), "in [0, 1]")
        require("eta", self.eta, lambda a: np.isfinite(a) & (a > 0) & (a <= 10), "in (0, 10]")
        require("n_time", self.n_time, lambda a: (a >= 20) & (a <= 10**6), "in [20, 10**6]")
        require("window", self.window, lambda a: np.isfinite(a) & (a >= 1) & (a <= 100),
                "in [1, 100]")
        require("window_level", self.window_level, lambda a: (a > 0.5) & (a < 1), "in (0.5, 1)")
        require("min_r2", self.min_r2, lambda a: (a >= 0) & (a <= 1), "in [0, 1]")
        for knob in KNOBS:
            if not getattr(self, f"{knob}_values"):
                raise ValueError(f"{knob}_values must name at least one value")

    @property
    def base(self) -> dict[str, float]:
        """The base point, ``{knob: value}``."""
        return {knob: float(getattr(self, knob)) for knob in KNOBS}


PRESETS = {
    "quick": KnobSweepConfig(lam_values=_grid(0.3, 0.97, 8, log=False),
                             d_out_values=(1.0, 3.0, 10.0, 30.0, 100.0, 300.0),
                             gamma_values=_grid(1e-6, 2e-3, 6), eps_values=_grid(1e-30, 1e-2, 8),
                             init_scale_values=_grid(0.1, 10.0, 6), n_time=1000),
    "paper": KnobSweepConfig(),
}


def knob_points(cfg: KnobSweepConfig) -> dict[str, np.ndarray]:
    """Every point of the five sweeps, in order of :data:`KNOBS`: ``knob`` (P,) its name,
    ``value`` (P,) the swept value, and the five parameters (P,) of each point."""
    rows = [dict(cfg.base, **{knob: float(v)}, knob=knob, value=float(v))
            for knob in KNOBS for v in getattr(cfg, f"{knob}_values")]
    return {k: np.asarray([r[k] for r in rows], dtype=object if k == "knob" else np.float64)
            for k in ("knob", "value", *KNOBS)}


def midpoint_loss(eps, d_out, init_scale) -> np.ndarray:
    """``ℓ* = 2 d_out L*(½)/(1 + α²)``: the normalised loss ``ℓ`` at which an accuracy (17) is ½,
    with ``L*`` from :func:`~linear_grok.settings.linear.phase.loss_at_level`. Without weight
    decay the fit-free gap and relative sharpness depend on ``(ε, d_out, α)`` only through it
    (docs/theory.md §21). Shapes broadcast."""
    return (2.0 * np.asarray(d_out, dtype=np.float64) * phase.loss_at_level(MIDPOINT, eps, d_out)
            / (1.0 + np.asarray(init_scale, dtype=np.float64) ** 2))


def fit_free(points: dict[str, np.ndarray], eta: float) -> dict[str, np.ndarray]:
    """The exact theory's measures without a fit, per point (P,): the steps ``t_train``,
    ``t_test`` at which each accuracy reaches ½, the slopes there (per step), ``relative_gap =
    t_test/t_train − 1``, ``relative_sharpness = slope_test/slope_train`` and
    ``absolute_sharpness = slope_test`` (an erf's steepest slope is at its midpoint); ``ok``
    where both times are finite and positive."""
    args = [points[k] for k in ("lam", "d_out", "gamma")]
    kw = dict(eps=points["eps"], eta=eta, init_scale=points["init_scale"])
    times = phase.crossing_times(*args, level=MIDPOINT, **kw)
    t_tr, t_te = times["t_train"], times["t_test"]
    ok = np.isfinite(t_tr) & np.isfinite(t_te) & (t_tr > 0)
    slopes = phase.accuracy_slopes(np.stack([np.where(ok, t_tr, 1.0), np.where(ok, t_te, 1.0)]),
                                   *args, **kw)
    nan = np.full(ok.shape, np.nan)
    slope_tr, slope_te = (np.where(ok, s[i], nan) for i, s in enumerate(slopes))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"t_train": np.where(ok, t_tr, nan), "t_test": np.where(ok, t_te, nan),
                "slope_train": slope_tr, "slope_test": slope_te,
                "relative_gap": np.where(ok, t_te / t_tr - 1.0, nan),
                "relative_sharpness": slope_te / slope_tr, "absolute_sharpness": slope_te,
                "ok": ok}


def knob_curves(cfg: KnobSweepConfig, points: dict[str, np.ndarray] | None = None) -> Curves:
    """Train and test accuracy (P, 1, T) of every point on its own linear grid of steps
    (P, 1, T); a point whose accuracies never reach ``window_level`` is a NaN row with its reason.
    """
    points = knob_points(cfg) if points is None else points
    args = [points[k] for k in ("lam", "d_out", "gamma")]
    kw = dict(eta=cfg.eta, init_scale=points["init_scale"])
    ends = phase.crossing_times(*args, eps=points["eps"], level=cfg.window_level, **kw)
    n = points["lam"].size
    skip = np.full(n, "", dtype=object)
    level = f"{cfg.window_level:.0%}"
    skip[~np.isfinite(ends["t_test"])] = f"test accuracy never reaches {level} (window)"
    skip[~np.isfinite(ends["t_train"])] = f"train accuracy never reaches {level} (window)"
    t_end = np.where(skip == "", cfg.window * ends["t_test"], 1.0)
    t = np.linspace(0.0, 1.0, cfg.n_time)[None, :] * t_end[:, None]
    stop_point()
    losses = phase.loss_curves(t, *(a[:, None] for a in args), **dict(kw, init_scale=kw[
        "init_scale"][:, None]))
    acc = [np.asarray(theory.accuracy(loss, points["eps"][:, None], points["d_out"][:, None]))
           for loss in losses]
    acc = [np.where((skip == "")[:, None], a, np.nan)[:, None, :] for a in acc]
    return Curves(time=t[:, None, :], train=acc[0], test=acc[1],
                  labels={"knob": points["knob"][:, None], "value": points["value"][:, None]},
                  chance=0.0, time_unit="GD steps", skip=skip[:, None])


def run_knob_sweep(cfg: KnobSweepConfig, options: MeasureOptions = DEFAULT_OPTIONS,
                   progress: bool = True) -> dict[str, np.ndarray]:
    """Curves, fits, fit-free measures and the collapse check of all five sweeps.

    Returns the runs' arrays of :func:`~linear_grok.pipeline.measure_runs` (P, 1), the points'
    parameters (P,), ``nofit_*`` (P,) of :func:`fit_free`, ``midpoint_loss`` (P,), the collapse
    check of :func:`collapse` (``law_*``, P), the curves ``t``/``acc_train``/``acc_test``
    (P, 1, T), and per knob ``{knob}_*`` and ``nofit_{knob}_*`` views of the measures, whose
    power laws the command prints.
    """
    points = knob_points(cfg)
    if progress:
        print(f"  {points['lam'].size} points: " + ", ".join(
            f"{SYMBOL[k]} ×{len(getattr(cfg, f'{k}_values'))}" for k in KNOBS), flush=True)
    curves = knob_curves(cfg, points)
    arrays = measure_runs(curves, options, min_r2=cfg.min_r2)
    arrays.update({k: np.asarray(v, dtype=str if k == "knob" else None)
                   for k, v in points.items()})
    free = fit_free(points, cfg.eta)
    arrays.update({f"nofit_{k}": v for k, v in free.items()})
    arrays["midpoint_loss"] = midpoint_loss(points["eps"], points["d_out"], points["init_scale"])
    arrays.update(collapse(points, free, cfg))
    arrays.update(law_curve(cfg))
    arrays["law_distance"] = law_distance(arrays["nofit_relative_gap"],
                                          arrays["nofit_relative_sharpness"], arrays)
    arrays.update(t=curves.time, acc_train=curves.train, acc_test=curves.test)
    arrays.update(knob_views(arrays))
    return arrays


def knob_views(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{knob}_{m}`` (fits) and ``nofit_{knob}_{m}`` (fit-free) for the trends of each knob:
    ``m`` in ``ok``, ``relative_gap``, ``relative_sharpness``, ``absolute_sharpness``."""
    out = {}
    names = ("ok", "relative_gap", "relative_sharpness", "absolute_sharpness")
    for knob in KNOBS:
        mine = arrays["knob"] == knob
        for m in names:
            out[f"{knob}_{m}"] = np.asarray(arrays[m])[mine].ravel()
            out[f"nofit_{knob}_{m}"] = np.asarray(arrays[f"nofit_{m}"])[mine]
    return out


def collapse(points: dict[str, np.ndarray], free: dict[str, np.ndarray],
             cfg: KnobSweepConfig) -> dict[str, np.ndarray]:
    """Each point against the ε-law of the base λ: the fit-free measures of the point with the
    base's λ, ``d_out = 1``, γ = 0, α = 1 and the ε that gives the same ``ℓ*``
    (:func:`midpoint_loss`).

    Returns (P,): ``law_eps`` (that ε), ``law_relative_gap``, ``law_relative_sharpness`` and
    ``law_deviation``, the larger relative difference of the two measures from the point's own.
    Zero up to the root finder's precision for the knobs of :data:`THROUGH_LOSS_LEVEL`; for λ and
    γ it measures how far they leave the ε-law.
    """
    ell = midpoint_loss(points["eps"], points["d_out"], points["init_scale"])
    eps = ell / midpoint_loss(1.0, 1.0, 1.0)  # ℓ* is linear in ε at d_out = 1, α = 1
    n = eps.size
    law_points = dict(points, lam=np.full(n, cfg.lam), d_out=np.ones(n), gamma=np.zeros(n),
                      init_scale=np.ones(n), eps=eps)
    law = fit_free(law_points, cfg.eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.maximum(
            *(np.abs(law[m] / free[m] - 1.0) for m in ("relative_gap", "relative_sharpness")))
    return {"law_eps": eps, "law_relative_gap": law["relative_gap"],
            "law_relative_sharpness": law["relative_sharpness"], "law_deviation": deviation}


def law_curve(cfg: KnobSweepConfig, n: int = 256) -> dict[str, np.ndarray]:
    """The ε-law of the base λ drawn densely: the fit-free measures at ``n`` log-spaced ``ℓ*``
    from 1e-40 to 0.4 (above ~0.45 the train accuracy starts at ½). Keys ``law_curve_eps``,
    ``law_curve_midpoint_loss``, ``law_curve_relative_gap``, ``law_curve_relative_sharpness``,
    each (n,)."""
    ell = np.geomspace(1e-40, 0.4, n)
    eps = ell / midpoint_loss(1.0, 1.0, 1.0)
    points = {"lam": np.full(n, cfg.lam), "d_out": np.ones(n), "gamma": np.zeros(n),
              "init_scale": np.ones(n), "eps": eps}
    free = fit_free(points, cfg.eta)
    return {"law_curve_eps": eps, "law_curve_midpoint_loss": ell,
            "law_curve_relative_gap": free["relative_gap"],
            "law_curve_relative_sharpness": free["relative_sharpness"]}


def law_distance(gap, sharpness, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Distance (in decades, Euclidean in ``(log10 G, log10 R)``) of each point from the polyline
    of :func:`law_curve` in ``arrays``; NaN for a point without finite measures. The curve folds
    (the gap rises with ``ℓ*`` and falls again), so this is a distance to a curve, not a
    difference at equal gap."""
    curve = np.stack([np.log10(arrays["law_curve_relative_gap"]),
                      np.log10(arrays["law_curve_relative_sharpness"])], -1)
    curve = curve[np.isfinite(curve).all(-1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.stack([np.log10(gap), np.log10(sharpness)], -1)[:, None, :]  # (P, 1, 2)
    a, b = curve[None, :-1], curve[None, 1:]  # segments (1, S, 2)
    ab = b - a
    u = np.clip(np.sum((p - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-300), 0.0, 1.0)
    d = np.linalg.norm(p - (a + u[..., None] * ab), axis=-1).min(-1)
    return np.where(np.isfinite(p).all(-1)[:, 0], d, np.nan)


def small_gap_coefficient(lam) -> np.ndarray:
    """``k(λ)`` of the ε-law's small-gap limit ``1 − R ≈ k G²`` (docs/theory.md (32)):
    ``k = (3/2)(Δ + 1)/Δ²`` with ``Δ = 2 ln(1/(1 − √λ))``, the log of the long-time ratio
    ``L_gen/L_tr → 1/(1 − √λ)²``. λ in (0, 1)."""
    delta = -2.0 * np.log1p(-np.sqrt(np.asarray(lam, dtype=np.float64)))
    return 1.5 * (delta + 1.0) / delta**2


def knob_table(arrays: dict[str, np.ndarray]) -> str:
    """Per point: the knob's value, the fitted and fit-free gap and relative sharpness, ``ℓ*``
    and the deviation from the ε-law; then one summary line per knob."""
    head = (f"{'knob':>10} {'value':>10} {'gap':>9} {'R_rel':>9} {'gap*':>9} {'R_rel*':>9} "
            f"{'ell*':>9} {'off law':>8}  note")
    lines = ["fits (gap, R_rel) and fit-free values at A = 1/2 (gap*, R_rel*); ell*: normalised "
             "loss at the midpoint; off law: distance of (gap*, R_rel*) from the base lambda's "
             "epsilon-law, in decades", head, "-" * len(head)]
    for i, knob in enumerate(arrays["knob"]):
        lines.append(
            f"{knob:>10} {arrays['value'][i]:10.4g} {arrays['relative_gap'][i, 0]:9.4g} "
            f"{arrays['relative_sharpness'][i, 0]:9.4g} {arrays['nofit_relative_gap'][i]:9.4g} "
            f"{arrays['nofit_relative_sharpness'][i]:9.4g} {arrays['midpoint_loss'][i]:9.3g} "
            f"{arrays['law_distance'][i]:8.2g}  {arrays['reason'][i, 0][:50]}")
    lines.append("")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a knob with no finite point
        for knob in KNOBS:
            mine = arrays["knob"] == knob
            text = (f"{SYMBOL[knob]:>6}: up to {np.nanmax(arrays['law_distance'][mine]):.2g} "
                    "decades from the epsilon-law")
            if knob in THROUGH_LOSS_LEVEL:
                text += (f"; its point at the same ell* differs by at most "
                         f"{np.nanmax(arrays['law_deviation'][mine]):.1e} (exact collapse)")
            lines.append(text)
    k = small_gap_coefficient(_base_lam(arrays))
    lines.append(f"small-gap limit of the epsilon-law at the base lambda: 1 - R = {k:.4f} G^2")
    return "\n".join(lines)


def summary(arrays: dict[str, np.ndarray]) -> dict:
    """The sidecar's answer: per knob the largest distance from the ε-law (decades) and, for the
    knobs of :data:`THROUGH_LOSS_LEVEL`, the largest relative difference from the ε-law's point
    at the same ``ℓ*``; the small-gap coefficient of the base λ."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for knob in KNOBS:
            mine = arrays["knob"] == knob
            entry = {"law_distance_max": float(np.nanmax(arrays["law_distance"][mine]))}
            if knob in THROUGH_LOSS_LEVEL:
                entry["same_level_difference_max"] = float(np.nanmax(arrays["law_deviation"][mine]))
            out[knob] = entry
    return {"epsilon_law": out, "small_gap_coefficient": float(small_gap_coefficient(
        _base_lam(arrays)))}


def _base_lam(arrays: dict[str, np.ndarray]) -> float:
    """The base λ: the λ of any point that does not sweep λ."""
    return float(arrays["lam"][arrays["knob"] != "lam"][0])

