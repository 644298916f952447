"""Analytic against simulated curves of the linear model on one λ grid (``experiments.compare``):
the discrete-GD Marchenko–Pastur average (``form="discrete"``) against the exact spectral GD
engine, and the largest deviation of the seeds' mean from the theory in windows of τ = η·t."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from linear_grok.settings.linear import simulator, theory
from linear_grok.validation import require, require_memory

__all__ = ["CompareConfig", "PRESETS", "compare", "deviations", "deviation_table"]


@dataclass(frozen=True)
class CompareConfig:
    """One comparison of theory and simulation (docs/theory.md §9).

    Attributes:
      lams: the λ grid (λ > 1 is compared too: the theory holds there, the model just does not grok).
      d_in, d_out: the simulator's input and output dimensions.
      eta: learning rate per GD step. eps: accuracy threshold on the squared error.
      seeds: number of seeds (0, 1, ...). steps: the last GD step (log-spaced records up to it).
      windows: τ = η·t windows of the deviation table. n_test: test samples of the simulator.
    """

    lams: tuple[float, ...] = (0.1, 0.5, 0.9, 1.05, 1.5, 2.0)
    d_in: int = 400
    d_out: int = 1
    eta: float = 0.01
    eps: float = 1e-3
    seeds: int = 8
    steps: int = 3000
    windows: tuple[float, ...] = (1, 3, 10, 30)
    n_test: int = 4000

    def __post_init__(self):
        finite_positive = lambda a: np.isfinite(a) & (a > 0)  # noqa: E731
        require("lams", np.asarray(self.lams), finite_positive, "> 0 and finite")
        require("eps", self.eps, finite_positive, "> 0 and finite")
        require("seeds", self.seeds, lambda a: (a >= 1) & (a <= 1000), "in [1, 1000]")
        require("windows", np.asarray(self.windows), finite_positive, "> 0 and finite")
        require("steps", self.steps, lambda a: (a >= 1) & (a <= 10**9), "in [1, 10**9]")
        _ = self.simulator  # the simulator's own checks: sizes, eta, n_test
        theory.check_gd_stability(np.asarray(self.lams), self.eta, self.d_out)
        # The simulator keeps the d_in × d_in data covariance of every (λ, seed), and a few copies.
        require_memory(f"{len(self.lams)} λ × {self.seeds} seeds at d_in = {self.d_in}",
                       4.0 * 8 * len(self.lams) * self.seeds * self.d_in**2)

    @property
    def simulator(self) -> simulator.SimConfig:
        return simulator.SimConfig(d_in=self.d_in, d_out=self.d_out, eta=self.eta, eps=(self.eps,),
                                   n_test=self.n_test)


PRESETS = {
    "quick": CompareConfig(lams=(0.5, 0.9, 1.5), d_in=200, seeds=4, steps=2000),
    "paper": CompareConfig(),  # the setting of docs/theory.md §9
}


def compare(cfg: CompareConfig) -> dict[str, np.ndarray]:
    """Simulated and theoretical losses and accuracies: ``lam`` (L,), ``step`` (R,), ``sim_*``
    (L, S, R) and ``theory_*`` (L, R); losses as mean squared errors, accuracies in [0, 1]."""
    steps = simulator.record_schedule(cfg.steps, 150)
    lams = np.asarray(cfg.lams, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # λ > 1 is compared on purpose
        sim = simulator.simulate_sweep(cfg.simulator, lams, np.arange(cfg.seeds), steps)
    kw = dict(eta=cfg.eta, d_out=cfg.d_out, form="discrete")
    log_tr, log_te = theory.log_losses(steps[None, :], lams[:, None], **kw)
    acc_tr, acc_te = theory.accuracy_curves(steps[None, :], lams[:, None], cfg.eps, **kw)
    return dict(lam=lams, step=steps, sim_train_loss=sim.train_loss, sim_test_loss=sim.gen_loss,
                sim_train_acc=sim.train_acc[..., 0], sim_test_acc=sim.test_acc[..., 0],
                theory_train_loss=np.exp(np.asarray(log_tr)),
                theory_test_loss=np.exp(np.asarray(log_te)),
                theory_train_acc=np.asarray(acc_tr), theory_test_acc=np.asarray(acc_te))


def deviations(res: dict, eta: float, windows) -> list[dict]:
    """Largest deviation of the seed mean from theory within each τ window, per λ."""
    norm = res["sim_test_loss"][..., :1] / res["theory_test_loss"][:, None, :1]
    rows = []
    for i, lam in enumerate(res["lam"]):
        for w in windows:
            sel = eta * res["step"] <= w
            row = {"lam": float(lam), "tau_max": float(w)}
            for which in ("train", "test"):
                sim_loss = (res[f"sim_{which}_loss"][i] / norm[i]).mean(0)[sel]
                rel = np.abs(sim_loss / res[f"theory_{which}_loss"][i, sel] - 1)
                row[f"loss_{which}"] = float(rel.max())
                acc = res[f"sim_{which}_acc"][i].mean(0)[sel]
                row[f"acc_{which}"] = float(np.abs(acc - res[f"theory_{which}_acc"][i, sel]).max())
            rows.append(row)
    return rows




def deviation_table(rows: list[dict]) -> str:
    """:func:`deviations` as text: losses relative (after normalising by ‖D₀‖²), accuracies absolute."""
    lines = ["max deviation of the seed mean from theory (losses relative, normalised by ‖D₀‖²; "
             "accuracies absolute)",
             f"{'lambda':>7} {'tau<=':>6} {'L_tr':>8} {'L_gen':>8} {'A_tr':>8} {'A_gen':>8}"]
    lines += [f"{r['lam']:7.3g} {r['tau_max']:6g} {r['loss_train']:8.3%} {r['loss_test']:8.3%} "
              f"{r['acc_train']:8.4f} {r['acc_test']:8.4f}" for r in rows]
    return "\n".join(lines)
