"""Kumar et al.'s Figure 2 (their §2 and Appendix 8.3): modular addition grokked by a quadratic
two-layer perceptron under full-batch gradient descent without weight decay, the weight norm
growing while it groks; constants from their notebook (``docs/theory.md`` §22)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.curves import Curves
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, measure_runs
from linear_grok.settings.modular.task import ModularTask, argmax_accuracy, equations, one_hot_pairs, split
from linear_grok.validation import require

__all__ = ["KumarConfig", "kumar_forward", "kumar_loss", "kumar_train", "kumar_problem",
           "kumar_sweep", "KUMAR_PRESETS", "kumar_curves", "run_kumar", "kumar_table"]

Array = jax.Array

@dataclass(frozen=True)
class KumarConfig:
    """Kumar et al.'s modular-addition runs (their §2, Figure 2; notebook cells "Figure 2").

    The network ``f(x) = α²·W2ᵀ(W1ᵀx)²/(D·N)`` on one-hot pairs ``x`` (``D = 2p`` inputs, ``N``
    hidden units, bias-free layers, entries of ``W1`` (D, N) and ``W2`` (N, p) drawn N(0, 1)),
    trained on the mean squared error to the one-hot answer, divided by ``α²``, by full-batch
    gradient descent at ``η = lr/α²`` without weight decay.

    Attributes:
      p, op, train_fraction: the task (theirs: p = 23, +, 90 % of the pairs for training).
      hidden: ``N`` (100). alphas: output scales α (their sweep: 0.5, 1, 1.5, 2).
      seeds: draws of the split and the weights. lr: ``η·α²`` (100).
      epochs: full-batch steps (50 000 for their panels a–b, 100 000 for the α sweep).
      record_every: epochs between records.
    """

    p: int = 23
    op: str = "+"
    train_fraction: float = 0.9
    hidden: int = 100
    alphas: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    seeds: tuple[int, ...] = (1,)
    lr: float = 100.0
    epochs: int = 100_000
    record_every: int = 100

    def __post_init__(self):
        require("hidden", self.hidden, lambda a: (a >= 1) & (a <= 10**5) & (a == np.round(a)),
                "a whole number in [1, 10**5]")
        require("alphas", np.asarray(self.alphas), lambda a: np.isfinite(a) & (a > 0) & (a <= 1e3),
                "in (0, 1000]")
        require("lr", self.lr, lambda a: np.isfinite(a) & (a > 0) & (a <= 1e6), "in (0, 1e6]")
        require("epochs", self.epochs, lambda a: (a >= 1) & (a <= 10**8) & (a == np.round(a)),
                "a whole number in [1, 10**8]")
        require("record_every", self.record_every,
                lambda a: (a >= 1) & (a <= self.epochs) & (a == np.round(a)),
                f"a whole number in [1, epochs = {self.epochs}]")
        if not self.alphas or not self.seeds:
            raise ValueError("alphas and seeds must name at least one value each")
        self.task  # noqa: B018  (checks p, op and train_fraction)

    @property
    def task(self) -> ModularTask:
        """The :class:`ModularTask` of ``p``, ``op``, ``train_fraction``."""
        return ModularTask(p=self.p, op=self.op, train_fraction=self.train_fraction)

    @property
    def records(self) -> np.ndarray:
        """Record epochs (R,): ``0, k, 2k, …`` below ``epochs``."""
        return np.arange(0, self.epochs, self.record_every)


def kumar_forward(w1: Array, w2: Array, x: Array, alpha) -> Array:
    """``α²·(x W1)² W2/(D·N)``: outputs (n, p) of inputs (n, D)."""
    d, n = w1.shape
    return alpha**2 * ((x @ w1) ** 2 @ w2) / (d * n)


def kumar_loss(params: tuple[Array, Array], x: Array, y: Array, alpha) -> Array:
    """Their training objective: the mean over samples and outputs of the squared error, / α²."""
    return jnp.mean((kumar_forward(*params, x, alpha) - y) ** 2) / alpha**2


def kumar_train(params: tuple[Array, Array], data: tuple[Array, ...], alpha, eta,
                cfg: KumarConfig) -> dict[str, Array]:
    """Full-batch GD from ``params``, recorded as their loop records (one run; vmappable).

    At each record epoch ``t``: the train loss (their objective, / α²), the train accuracy and
    the weight norm ``‖W1‖ + ‖W2‖`` (Frobenius norms, not squared) of the weights after ``t``
    steps, which their loop logs before its step; the test loss (the plain mean squared error,
    *not* divided by α²) and the test accuracy of the weights after ``t + 1`` steps, which it
    logs after the step. Returns each as (R,).
    """
    x_tr, y_tr, x_te, y_te = data
    grad = jax.grad(kumar_loss)

    def step(p):
        return jax.tree_util.tree_map(lambda w, g: w - eta * g, p, grad(p, x_tr, y_tr, alpha))

    def segment(p, _):
        out_tr = kumar_forward(*p, x_tr, alpha)
        train = (jnp.mean((out_tr - y_tr) ** 2) / alpha**2, argmax_accuracy(out_tr, y_tr.argmax(-1)),
                 jnp.linalg.norm(p[0]) + jnp.linalg.norm(p[1]))
        p = step(p)
        out_te = kumar_forward(*p, x_te, alpha)
        test = (jnp.mean((out_te - y_te) ** 2), argmax_accuracy(out_te, y_te.argmax(-1)))
        p = jax.lax.fori_loop(1, cfg.record_every, lambda _, q: step(q), p)
        return p, train + test

    _, out = jax.lax.scan(segment, params, None, length=cfg.records.size)
    return dict(zip(("train_loss", "train_acc", "weight_norm", "test_loss", "test_acc"), out,
                    strict=True))


def kumar_problem(key: Array, cfg: KumarConfig, dtype=jnp.float32):
    """One seed's split data ``(x_train, y_train, x_test, y_test)`` (one-hot, ``dtype``) and
    initial weights ``(W1, W2)``, N(0, 1), drawn from ``key`` with JAX (not their PyTorch
    generator)."""
    k_split, k_1, k_2 = jax.random.split(key, 3)
    a, b, c = equations(cfg.task)
    train, test = split(cfg.task, k_split)
    p = cfg.task.p
    x = one_hot_pairs(a, b, p).astype(dtype)
    y = jax.nn.one_hot(c, p, dtype=dtype)
    w1 = jax.random.normal(k_1, (2 * p, cfg.hidden), dtype)
    w2 = jax.random.normal(k_2, (cfg.hidden, p), dtype)
    return (x[train], y[train], x[test], y[test]), (w1, w2)


def kumar_sweep(cfg: KumarConfig) -> dict[str, np.ndarray]:
    """Every (α, seed) of ``cfg`` in one compiled, vmapped program, in float32 as their PyTorch
    ran. Returns the arrays of :func:`kumar_train` as (A, S, R), ``epoch`` (R,), ``alpha`` (A,),
    ``seed`` (S,)."""
    seeds = np.asarray(cfg.seeds)
    problems = [kumar_problem(jax.random.key(int(s)), cfg) for s in seeds]
    data, params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *problems)
    alphas = jnp.asarray(cfg.alphas, jnp.float32)

    def one(alpha, p, d):
        return kumar_train(p, d, alpha, cfg.lr / alpha**2, cfg)

    over_seeds = jax.vmap(one, in_axes=(None, 0, 0))
    out = jax.jit(jax.vmap(over_seeds, in_axes=(0, None, None)))(alphas, params, data)
    return {"epoch": cfg.records, "alpha": np.asarray(cfg.alphas), "seed": seeds,
            **{k: np.asarray(v) for k, v in out.items()}}


KUMAR_PRESETS = {
    # Their constants: p = 23, 90 % of the pairs, N = 100, η = 100/α², 1e5 epochs, their α sweep.
    # The split and the weights are drawn by JAX, not by their PyTorch generator (seed 1 there).
    "paper": KumarConfig(),
    # Two α, 4·10⁴ epochs: α = 1 groks near epoch 24 000 (seed 1).
    "quick": KumarConfig(alphas=(0.5, 1.0), epochs=40_000, record_every=200),
}


def kumar_curves(arrays: dict[str, np.ndarray], p: int) -> Curves:
    """Train and test accuracy of every (α, seed) run for the shared measurement, from chance
    ``1/p`` to 1, against epochs."""
    runs = arrays["train_acc"].shape[:2]
    alpha, seed = np.meshgrid(arrays["alpha"], arrays["seed"], indexing="ij")
    return Curves(time=arrays["epoch"].astype(np.float64), train=arrays["train_acc"],
                  test=arrays["test_acc"], labels={"alpha": alpha, "seed": seed}, chance=1.0 / p,
                  time_unit="epochs", skip=np.full(runs, ""))


def run_kumar(cfg: KumarConfig, options: MeasureOptions = DEFAULT_OPTIONS) -> dict[str, np.ndarray]:
    """Train every run (:func:`kumar_sweep`) and measure its accuracy curves."""
    arrays = kumar_sweep(cfg)
    arrays.update(measure_runs(kumar_curves(arrays, cfg.p), options))
    return arrays


def kumar_table(arrays: dict[str, np.ndarray]) -> str:
    """One row per run: jump times, gap, relative sharpness, final accuracies and weight norms."""
    head = (f"{'alpha':>6} {'seed':>4} {'b_train':>9} {'b_test':>9} {'gap':>7} {'R_rel':>7} "
            f"{'acc tr/te':>11} {'|W| start':>9} {'|W| end':>9}  note")
    lines = [head, "-" * len(head)]
    for i, k in np.ndindex(arrays["ok"].shape):
        norm = arrays["weight_norm"][i, k]
        lines.append(
            f"{arrays['alpha'][i]:6.3g} {arrays['seed'][k]:4d} {arrays['b_train'][i, k]:9.4g} "
            f"{arrays['b_test'][i, k]:9.4g} {arrays['relative_gap'][i, k]:7.3g} "
            f"{arrays['relative_sharpness'][i, k]:7.3g} "
            f"{arrays['train_acc'][i, k, -1]:5.3f}/{arrays['test_acc'][i, k, -1]:.3f} "
            f"{norm[0]:9.4g} {norm[-1]:9.4g}  {arrays['reason'][i, k][:50]}")
    return "\n".join(lines)
