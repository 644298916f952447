"""Levi, Beck & Bar-Sinai's Figure 5: two-layer students (linear and ``tanh``, two hidden widths)
against their rescaled one-layer theory (docs/theory.md §20).

For each activation and hidden width ``d_h`` one :func:`~linear_grok.settings.linear.two_layer.
simulate` call runs every ``(λ, seed)``; the ``tanh`` networks share their draws with the linear
ones (same seeds), so ``tanh`` is also set against the identity network of the same weights and
data. Each run's losses are divided by its own ``‖D0‖²`` and compared, as seed means, with the
mapped theory (T4) on Levi's clock ``τ₂ = η t/(2 d_out²)``: the largest relative deviation over
``τ₂ ≤ w`` for each window ``w``, and the steps at which each accuracy first reaches 95 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linear_grok.cli import stop_point
from linear_grok.precision import float64
from linear_grok.settings.linear import two_layer
from linear_grok.validation import require

__all__ = ["Fig5Config", "PRESETS", "fig5_curves", "fig5_table", "MARKER_LEVEL", "FINER"]

MARKER_LEVEL = 0.95
WINDOWS = (1.0, 3.0, 10.0, 30.0)
FINER = ("one_layer", "linearized")


@dataclass(frozen=True)
class Fig5Config:
    """Figure 5's networks.

    Attributes:
      d_in, d_out: input and output widths (Levi: 1000, 5). d_hs: hidden widths (50, 200).
      activations: among ``"linear"``, ``"tanh"`` (both in Levi's figure).
      lams: aspect ratios (not stated by Levi; 0.5 and 0.9). seeds: draws per λ.
      eta, eps: learning rate (Levi 0.01) and accuracy threshold (1e-4).
      steps, n_records: GD steps and log-spaced records. n_test: fresh test samples (``tanh``).
      references: finer references beside (T4), among :data:`FINER`: ``"one_layer"``, the
        one-layer GD of the same draw (the mapping without the MP average), and ``"linearized"``,
        the network linearised at initialisation (docs/theory.md §20 (T6); linear networks only).
    """

    d_in: int = 1000
    d_hs: tuple[int, ...] = (50, 200)
    d_out: int = 5
    activations: tuple[str, ...] = ("linear", "tanh")
    lams: tuple[float, ...] = (0.5, 0.9)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    eta: float = 0.01
    eps: float = 1e-4
    steps: int = 200_000
    n_records: int = 200
    n_test: int = 2000
    references: tuple[str, ...] = ()

    def __post_init__(self):
        require("d_hs", np.asarray(self.d_hs), lambda a: (a >= 1) & (a <= 10**4), "in [1, 10**4]")
        if not self.d_hs or not self.activations:
            raise ValueError("d_hs and activations must name at least one value each")
        for activation in self.activations:
            if activation not in two_layer.ACTIVATIONS:
                raise ValueError(f"activations must be among {two_layer.ACTIVATIONS}; "
                                 f"got {activation!r}")
        for ref in self.references:
            if ref not in FINER:
                raise ValueError(f"references must be among {FINER}; got {ref!r}")
        for d_h in self.d_hs:  # every field checked, GD's stability included, before any work
            self.network(d_h, self.activations[0])

    def network(self, d_h: int, activation: str) -> two_layer.TwoLayerConfig:
        """The :class:`~linear_grok.settings.linear.two_layer.TwoLayerConfig` of one panel."""
        return two_layer.TwoLayerConfig(
            d_in=self.d_in, d_h=int(d_h), d_out=self.d_out, activation=activation,
            lams=self.lams, seeds=self.seeds, eta=self.eta, eps=(self.eps,), n_test=self.n_test,
            steps=self.steps, n_records=self.n_records)

    @property
    def tau_per_step(self) -> float:
        """Levi's clock ``τ₂`` per GD step, ``η/(2 d_out²)``."""
        return self.network(self.d_hs[0], "linear").tau_per_step


PRESETS = {
    # Levi's sizes and learning rate: 2·10⁵ steps reach τ₂ = 40. On 2 CPU cores the linear
    # networks take 6 and 16 min (d_h = 50, 200), the tanh ones 5.5 and 15 h (docs/theory.md §20.5);
    # a GPU runs the tanh steps in minutes.
    "paper": Fig5Config(),
    # A tenth of d_in, one λ, two seeds; η ten times Levi's (the same τ₂ window, ten times fewer
    # steps): ~30 s on 2 cores.
    "quick": Fig5Config(d_in=100, lams=(0.5,), seeds=(0, 1), eta=0.1, steps=5_000, n_records=80,
                        n_test=500),
}


@float64
def fig5_curves(cfg: Fig5Config, progress: bool = True) -> dict[str, np.ndarray]:
    """Every panel's curves and its agreement with the mapped theory.

    Returns, for each activation ``a`` and width ``h``, prefix ``{a}_{h}_``: ``train_loss``,
    ``gen_loss`` (test-set loss for ``tanh``), ``train_acc``, ``test_acc`` (L, S, R) and ``d0_sq``
    (L, S); ``dev_levi`` (L, 2, W) the largest relative deviation of the seed means of
    ``L/‖D0‖²`` (train, gen) from (T4) (likewise ``dev_one_layer``, ``dev_linearized`` for
    ``cfg.references``) over ``τ₂ ≤ w`` for each of ``windows`` (those of
    ``WINDOWS`` within the run, then its last τ₂); for ``tanh`` beside a linear run,
    ``dev_linear`` likewise against the identity network of the same draws; ``t95`` (L, 2, 2, S):
    [train, test] × [simulated, (T4) with the seed's ‖D0‖²] steps to 95 % (NaN: not reached).
    Shared: ``step`` (R,), ``tau`` (R,), ``lams`` (L,), ``windows`` (W,), and the theory's
    ``theory_train``, ``theory_gen`` (L, R) of ``L/‖D0‖²``.
    """
    first = cfg.network(cfg.d_hs[0], cfg.activations[0])
    step = first.records
    tau = first.tau_per_step * step
    # Windows beyond the run's last τ₂ would repeat the last one.
    windows = tuple(w for w in WINDOWS if w < tau[-1]) + (float(tau[-1]),)
    out: dict[str, np.ndarray] = {"step": step, "tau": tau,
                                  "lams": np.asarray(cfg.lams, dtype=np.float64),
                                  "windows": np.asarray(windows)}
    theory = [two_layer.mapped_losses(step, lam, first) for lam in cfg.lams]
    out["theory_train"] = np.stack([t[0] for t in theory])
    out["theory_gen"] = np.stack([t[1] for t in theory])
    for d_h in cfg.d_hs:
        linear = None
        for activation in cfg.activations:
            stop_point()  # an interrupted command stops between panels
            net = cfg.network(d_h, activation)
            m = two_layer.simulate(net)
            key = f"{activation}_{d_h}_"
            gen = m.gen_loss if activation == "linear" else m.test_loss
            out.update({key + "train_loss": m.train_loss, key + "gen_loss": gen,
                        key + "train_acc": m.train_acc[..., 0], key + "test_acc": m.test_acc[..., 0],
                        key + "d0_sq": m.d0_sq})
            refs = ("levi", *(r for r in cfg.references
                              if r == "one_layer" or activation == "linear"))
            refs += ("linear",) if linear is not None else ()
            rows = two_layer.agreement(m, net, windows=windows, level=MARKER_LEVEL,
                                       references=refs, linear=linear)
            for ref in refs:
                out[key + f"dev_{ref}"] = np.stack([
                    np.stack([row["dev"][(ref, w)] for w in ("train", "gen")]) for row in rows])
            out[key + "t95"] = np.stack([
                np.stack([np.stack([row["t95"][(source, w)] for source in ("sim", "levi")])
                          for w in ("train", "test")]) for row in rows])
            if activation == "linear":
                linear = m
            if progress:
                print(f"  {activation} d_h = {d_h}: {len(cfg.lams)} λ × {len(cfg.seeds)} seeds, "
                      f"{cfg.steps} steps", flush=True)
    return out


def fig5_table(arrays: dict[str, np.ndarray], cfg: Fig5Config) -> str:
    """Per panel and λ: the largest deviation from (T4) per window, and the 95 % steps."""
    windows = arrays["windows"]
    head = " ".join(f"{'τ₂≤' + format(w, 'g'):>13}" for w in windows)
    lines = [f"largest |sim − ref|/ref of the seed mean of L/‖D0‖², train / gen; steps to "
             f"{MARKER_LEVEL:.0%} accuracy (median over seeds): simulated / (T4)",
             f"{'network':>18} {'λ':>5} {'ref':>10} {head}   train steps     test steps"]
    for d_h in cfg.d_hs:
        for activation in cfg.activations:
            key = f"{activation}_{d_h}_"
            for i, lam in enumerate(arrays["lams"]):
                t95 = arrays[key + "t95"][i]
                steps = "   ".join(f"{_median(t95[w, 0]):>6} / {_median(t95[w, 1]):<6}"
                                   for w in range(2))
                for ref in ("levi", *FINER, "linear"):
                    if key + f"dev_{ref}" not in arrays:
                        continue
                    dev = arrays[key + f"dev_{ref}"][i]
                    cells = " ".join(f"{100 * dev[0, j]:5.1f}/{100 * dev[1, j]:5.1f}%"
                                     for j in range(windows.size))
                    name = f"{cfg.d_in}-{d_h}-{cfg.d_out} {activation}"
                    lines.append(f"{name:>18} {lam:5.2g} {ref:>10} {cells}   "
                                 + (steps if ref == "levi" else ""))
    return "\n".join(lines)


def _median(t: np.ndarray) -> str:
    """Median of the finite steps, with the count when some seeds never got there."""
    finite = np.isfinite(t)
    if not finite.any():
        return "never"
    text = f"{np.median(t[finite]):.0f}"
    return text if finite.all() else f"{text} ({finite.sum()}/{t.size})"

