"""Levi, Beck & Bar-Sinai's figures of the linear model ("Grokking in linear estimators", 2023):
loss and accuracy curves against GD steps as one knob moves, the Marchenko–Pastur theory beside
simulated seeds (docs/theory.md §14 for their parameters).

* Figure 1: λ = 0.1, 0.9, 1.5 (``d_out = 1``, no weight decay);
* Figure 2: ``d_out`` = 1, 50, 700 at λ = 0.9;
* Figure 3: weight decay γ = 1e-5, 1e-3, 1e-2 at λ = 0.9;
* Figure 4: phase diagrams of the grokking time over (γ, d_out), (γ, λ) and (d_out, λ) from the
  exact theory (:mod:`linear_grok.settings.linear.phase`), with simulated seeds on a 3 × 3
  subgrid of each as a check;
* Figure 6: the long-time approximations (docs/theory.md (12)–(13)) against the exact curves at
  λ = 0.9 and 1.5.

Each curve (a *case*: λ, ``d_out``, γ) is computed on one log-spaced grid of steps by the exact MP
average of discrete GD (``form="discrete"``, what the simulator runs; Figure 6 also by the
long-time forms, ``"long_time"``), and simulated with the exact spectral GD engine
(:func:`linear_grok.settings.linear.simulator.simulate_sweep`) on several seeds. The
markers are the steps at which each accuracy first reaches 95 %, as in Levi et al.'s figures.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from linear_grok.cli import stop_point
from linear_grok.precision import float64
from linear_grok.settings.linear import phase, simulator, theory
from linear_grok.validation import require, require_memory

__all__ = ["FIGURES", "LeviConfig", "PRESETS", "MARKER_LEVEL", "figure_cases", "levi_curves", "table",
           "subgrid", "subgrid_cases", "training_rows", "phase_diagrams"]

MARKER_LEVEL = 0.95  # Levi et al.'s markers: 95 % accuracy
THEORY_FORMS = ("discrete", "long_time")


@dataclass(frozen=True)
class LeviConfig:
    """The four figures' curves.

    Attributes:
      lams, d_outs, gammas: the values of Figures 1, 2 and 3 (each figure moves one knob; the
        others at ``lam0``, ``d_out = 1``, ``γ = 0``).
      lam0: λ of Figures 2 and 3. lams6: the λ of Figure 6.
      eta, eps: learning rate per GD step and accuracy threshold (Levi: 0.01, 1e-3).
      d_in: the simulator's input dimension (Levi: 1000). seeds: simulated seeds.
      n_test: the simulator's test samples. max_step, n_records: log-spaced records 1 … max_step.
      phase_n: points per axis of the phase diagrams (Figure 4).
      skip_phase_check: leave out Figure 4's simulated subgrid (the theory's diagrams only).
    """

    lams: tuple[float, ...] = (0.1, 0.9, 1.5)
    d_outs: tuple[int, ...] = (1, 50, 700)
    gammas: tuple[float, ...] = (1e-5, 1e-3, 1e-2)
    lam0: float = 0.9
    lams6: tuple[float, ...] = (0.9, 1.5)
    eta: float = 0.01
    eps: float = 1e-3
    d_in: int = 1000
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    n_test: int = 2000
    max_step: int = 10**6
    n_records: int = 200
    phase_n: int = 64
    skip_phase_check: bool = False

    def __post_init__(self):
        finite_positive = lambda a: np.isfinite(a) & (a > 0)  # noqa: E731
        require("lams", np.asarray(self.lams), finite_positive, "> 0 and finite")
        require("lams6", np.asarray(self.lams6), finite_positive, "> 0 and finite")
        require("lam0", self.lam0, finite_positive, "> 0 and finite")
        require("d_outs", np.asarray(self.d_outs), lambda a: (a >= 1) & (a <= 10**4), "in [1, 10**4]")
        require("gammas", np.asarray(self.gammas), lambda a: np.isfinite(a) & (a >= 0), ">= 0 and finite")
        require("eps", self.eps, finite_positive, "> 0 and finite")
        require("d_in", self.d_in, lambda a: (a >= 2) & (a <= 10**4), "in [2, 10**4]")
        require("seeds", np.asarray(self.seeds), lambda a: (a >= 0) & (a < 2**31), "in [0, 2**31)")
        require("n_test", self.n_test, lambda a: (a >= 1) & (a <= 10**6), "in [1, 10**6]")
        require("max_step", self.max_step, lambda a: (a >= 10) & (a <= 10**12), "in [10, 10**12]")
        require("n_records", self.n_records, lambda a: (a >= 10) & (a <= 10**5), "in [10, 10**5]")
        require("phase_n", self.phase_n, lambda a: (a >= 6) & (a <= 1024), "in [6, 1024]")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        for case in (c for f in FIGURES for c in figure_cases(self, f)):
            theory.check_gd_stability(np.asarray(case["lam"]), self.eta, case["d_out"], case["gamma"])

    def check_memory(self) -> None:
        """``ValueError`` when the simulations need more memory than this machine has (checked by
        the command before any work, not when a preset is defined; the paper preset needs about
        2 GiB)."""
        # Per seed the simulator holds X and its rotation (N × d_in each), the Gram matrix and its
        # eigenvectors, the test inputs and their rotation, and one chunk of records' residuals
        # (simulator.record_chunk, ~3 copies in flight); the seeds of a case run together.
        need = 0.0
        for d_out, n_max in training_rows(self).items():
            rows = n_max + self.n_test
            chunk = simulator.record_chunk(rows, d_out, self.d_in)
            need = max(need, 8.0 * len(self.seeds) * (2 * rows * self.d_in + 2 * self.d_in**2
                                                      + 3 * chunk * (rows + self.d_in) * d_out))
        require_memory(f"simulations at d_in = {self.d_in}, {len(self.seeds)} seeds, d_out up to "
                       f"{max(training_rows(self))}", need)

    @property
    def steps(self) -> np.ndarray:
        """Record steps (R,): 0, then log-spaced integers up to ``max_step``."""
        return simulator.record_schedule(self.max_step, self.n_records)


FIGURES = ("fig1", "fig2", "fig3", "fig6")


def figure_cases(cfg: LeviConfig, figure: str) -> list[dict]:
    """The curves of one figure: ``{"lam", "d_out", "gamma"}`` per case."""
    if figure == "fig1":
        return [dict(lam=lam, d_out=1, gamma=0.0) for lam in cfg.lams]
    if figure == "fig2":
        return [dict(lam=cfg.lam0, d_out=int(d), gamma=0.0) for d in cfg.d_outs]
    if figure == "fig3":
        return [dict(lam=cfg.lam0, d_out=1, gamma=g) for g in cfg.gammas]
    if figure == "fig6":
        return [dict(lam=lam, d_out=1, gamma=0.0) for lam in cfg.lams6]
    raise ValueError(f"figure must be one of {FIGURES}; got {figure!r}")


def _first_above(steps: np.ndarray, acc: np.ndarray, level: float) -> np.ndarray:
    """The first recorded step with ``acc ≥ level`` along the last axis (NaN: never)."""
    above = acc >= level
    return np.where(above.any(-1), steps[np.argmax(above, axis=-1)], np.nan)


@float64
def levi_curves(cfg: LeviConfig, progress: bool = True) -> dict[str, np.ndarray]:
    """Every figure's curves, theory and simulation.

    Returns, for each figure ``f`` of :data:`FIGURES` with ``C`` cases: ``{f}_lam``, ``{f}_d_out``,
    ``{f}_gamma`` (C,); for each theory form ``k``, ``discrete`` and (``fig6`` only) ``long_time``,
    ``{f}_{k}_{train,test}_loss`` and ``_acc`` (C, R); ``{f}_sim_{train,test}_loss`` and ``_acc``
    (C, S, R); the 95 % steps ``{f}_{k}_t95_{train,test}`` (C,) and ``{f}_sim_t95_{train,test}``
    (C, S), NaN where a curve never reaches it in the window. ``step`` (R,) is shared; losses are
    mean squared errors (docs/theory.md (3)), accuracies in [0, 1].
    """
    cfg.check_memory()
    steps = cfg.steps
    t = steps.astype(np.float64)
    out: dict[str, np.ndarray] = {"step": steps}
    n_max = training_rows(cfg)
    for figure in FIGURES:
        cases = figure_cases(cfg, figure)
        out.update({f"{figure}_{k}": np.asarray([c[k] for c in cases], dtype=np.float64)
                    for k in ("lam", "d_out", "gamma")})
        forms = THEORY_FORMS if figure == "fig6" else THEORY_FORMS[:1]
        for form in forms:
            curves = [_theory(t, c, cfg, form) for c in cases]
            for i, key in enumerate(("train_loss", "test_loss", "train_acc", "test_acc")):
                out[f"{figure}_{form}_{key}"] = np.stack([c[i] for c in curves])
            for which in ("train", "test"):
                out[f"{figure}_{form}_t95_{which}"] = _first_above(
                    steps, out[f"{figure}_{form}_{which}_acc"], MARKER_LEVEL)
        sims = []
        for c in cases:
            stop_point()  # an interrupted command stops between simulations
            sims.append(_simulate(steps, c, cfg, n_max[c["d_out"]]))
        for i, key in enumerate(("train_loss", "test_loss", "train_acc", "test_acc")):
            out[f"{figure}_sim_{key}"] = np.stack([s[i] for s in sims])
        for which in ("train", "test"):
            out[f"{figure}_sim_t95_{which}"] = _first_above(steps, out[f"{figure}_sim_{which}_acc"],
                                                           MARKER_LEVEL)
        if progress:
            print(f"  {figure}: {len(cases)} cases, theory and {len(cfg.seeds)} seeds", flush=True)
    out.update(phase_diagrams(cfg, steps, n_max, simulate=not cfg.skip_phase_check))
    return out


def subgrid(n: int) -> np.ndarray:
    """The 3 indices of an ``n``-point axis simulated as Figure 4's check."""
    return np.array([n // 6, n // 2, (5 * n) // 6])


def subgrid_cases(cfg: LeviConfig, x: str, y: str) -> list[tuple[int, int, dict]]:
    """Figure 4's simulated check of the ``(x, y)`` diagram: ``(i, j, case)`` at the subgrid's
    ``y[i]``, ``x[j]``, the other knobs at ``lam0``, ``d_out = 1``, ``γ = 0`` (``d_out`` rounded)."""
    values = phase.fig4_values(cfg.phase_n)
    idx = subgrid(cfg.phase_n)
    cases = []
    for i, yv in enumerate(values[y][idx]):
        for j, xv in enumerate(values[x][idx]):
            case = {"lam": cfg.lam0, "d_out": 1, "gamma": 0.0, x: float(xv), y: float(yv)}
            case["d_out"] = int(round(case["d_out"]))
            cases.append((i, j, case))
    return cases


def training_rows(cfg: LeviConfig) -> dict[int, int]:
    """The padded training-set size of each output dimension simulated: cases of one ``d_out``
    share one compiled program, padded to the size of their smallest λ (and no larger: at
    ``d_out = 700`` every row costs a residual per record)."""
    cases = [c for f in FIGURES for c in figure_cases(cfg, f)]
    if not cfg.skip_phase_check:
        cases += [c for x, y in phase.FIG4_PAIRS for _, _, c in subgrid_cases(cfg, x, y)]
    rows: dict[int, int] = {}
    for c in cases:
        rows[c["d_out"]] = max(rows.get(c["d_out"], 0), int(np.ceil(cfg.d_in / c["lam"])))
    return rows


def phase_diagrams(cfg: LeviConfig, steps: np.ndarray, n_max: dict[int, int],
                   simulate: bool = True) -> dict[str, np.ndarray]:
    """Figure 4: ``fig4_{x}_{y}_{field}`` for each pair of :data:`~linear_grok.settings.linear.
    phase.FIG4_PAIRS` (the fields of :func:`~linear_grok.settings.linear.phase.phase_diagram`,
    (n, n), gradient-flow theory at this config's ε, η and ``lam0``), and the simulated 95 %
    steps on the 3 × 3 :func:`subgrid` (``fig4_{x}_{y}_sim_t95_{train,test}``, (3, 3, S); ``d_out``
    rounded to a whole number; NaN beyond ``max_step``; all NaN without ``simulate``)."""
    out = {}
    diagrams = phase.fig4_diagrams(cfg.phase_n, eps=cfg.eps, eta=cfg.eta, lam=cfg.lam0)
    for (x, y), diagram in diagrams.items():
        key = f"fig4_{x}_{y}"
        out.update({f"{key}_{k}": np.asarray(v) for k, v in diagram.items()})
        sims = np.full((2, 3, 3, len(cfg.seeds)), np.nan)
        for i, j, case in subgrid_cases(cfg, x, y) if simulate else ():
            stop_point()
            _, _, acc_tr, acc_te = _simulate(steps, case, cfg, n_max[case["d_out"]])
            sims[:, i, j] = [_first_above(steps, a, MARKER_LEVEL) for a in (acc_tr, acc_te)]
        out[f"{key}_sim_t95_train"], out[f"{key}_sim_t95_test"] = sims
    return out


def _theory(t: np.ndarray, case: dict, cfg: LeviConfig, form: str):
    kw = dict(form=form, eta=cfg.eta, d_out=case["d_out"], gamma=case["gamma"])
    log_tr, log_te = theory.log_losses(t, case["lam"], **kw)
    acc_tr, acc_te = theory.accuracy_curves(t, case["lam"], cfg.eps, **kw)
    return (np.exp(np.asarray(log_tr)), np.exp(np.asarray(log_te)), np.asarray(acc_tr),
            np.asarray(acc_te))


def _simulate(steps: np.ndarray, case: dict, cfg: LeviConfig, n_max: int):
    sim_cfg = simulator.SimConfig(d_in=cfg.d_in, d_out=case["d_out"], eta=cfg.eta,
                                  gamma=case["gamma"], eps=(cfg.eps,), n_test=cfg.n_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # λ > 1 is drawn on purpose
        m = simulator.simulate_sweep(sim_cfg, [case["lam"]], cfg.seeds, steps, n_max=n_max)
    return m.train_loss[0], m.gen_loss[0], m.train_acc[0, ..., 0], m.test_acc[0, ..., 0]


def table(arrays: dict[str, np.ndarray]) -> str:
    """The 95 % steps of every case: exact discrete-GD theory against the seeds' median."""
    head = (f"{'figure':>6} {'lambda':>7} {'d_out':>5} {'gamma':>7} {'t95 train':>10} {'sim':>10} "
            f"{'t95 test':>10} {'sim':>10}")
    lines = [f"steps at which accuracy first reaches {MARKER_LEVEL:.0%} (theory: discrete-GD MP "
             "average; sim: median over seeds; nan: not within the window)", head, "-" * len(head)]
    for figure in FIGURES:
        for i, lam in enumerate(arrays[f"{figure}_lam"]):
            cells = []
            for which in ("train", "test"):
                th = arrays[f"{figure}_discrete_t95_{which}"][i]
                sim = arrays[f"{figure}_sim_t95_{which}"][i]
                med = np.median(sim) if np.all(np.isfinite(sim)) else np.nan
                cells += [f"{th:10.4g}", f"{med:10.4g}"]
            lines.append(f"{figure:>6} {lam:7.3g} {int(arrays[f'{figure}_d_out'][i]):5d} "
                         f"{arrays[f'{figure}_gamma'][i]:7.0e} " + " ".join(cells))
    return "\n".join(lines)


PRESETS = {
    "quick": LeviConfig(d_in=200, seeds=(0, 1), n_test=500, d_outs=(1, 10, 140), n_records=120,
                        phase_n=32),
    "paper": LeviConfig(),
}
