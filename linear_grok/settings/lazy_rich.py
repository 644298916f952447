"""Grokking as the lazy→rich transition (Kumar, Bordelon, Gershman & Pehlevan, ICLR 2024).

The setting, as the authors' notebook runs it (``grokking-feature-timescales-anon-final.ipynb``,
Figure 1; docs/theory.md §18):

* inputs ``x ∈ R^D`` with entries ``N(0, 1/D)``; target ``y = (β·x)²/2``, ``β ~ N(0, I_D)``;
  ``P`` training samples and a test set of ``n_test``;
* a committee machine without trained readouts, ``f(x) = α·mean_i φ(w_i·x)``,
  ``φ(z) = z + εz²/2``, ``w_i ~ N(0, I_D)``, ``N`` hidden units; the predictor is centred,
  ``f(x; W) − f(x; W₀)`` is what is fitted;
* loss ``mean_μ (f_μ − f₀_μ − y_μ)²``, full-batch gradient descent on ``W`` with learning rate
  ``η = lr_scale·N/α²``, no weight decay; the losses are recorded after each step.

Because ``mean_i φ(w_i·x) = m·x + (ε/2) xᵀMx`` with ``m = mean_i w_i`` and ``M = mean_i w_i w_iᵀ``, and
the gradient step is linear in each ``w_i`` (``w_i ← A w_i − c g``, ``A = I − cεG``,
``g = Σ_μ r_μ x_μ``, ``G = Σ_μ r_μ x_μ x_μᵀ``, ``c = 2ηα/(NP)``), gradient descent closes exactly on
``(m, M)``: ``m ← A m − c g``, ``M ← A M Aᵀ − c(A m gᵀ + g mᵀAᵀ) + c² g gᵀ``. That is the fast engine
(:func:`train_reduced`); :func:`train_direct` trains ``W`` itself, as the authors do, and is the
reference. The linearised (lazy, kernel) model closes on ``(Δm, C)`` the same way, and gradient
descent on it converges to ridgeless regression with the initial neural tangent kernel
(:func:`kernel_regression_mse`). The population test loss has a closed form in ``(Δm, ΔM)``
(:func:`population_loss`).

Accuracy, for the shared measurement: the fraction of samples whose squared error is below
``τ·Var(y)`` (``Var(y) = ½|β|⁴/D²``, about ½), for each ``τ`` of ``cfg.taus``.
Everything runs in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.pipeline import Curves
from linear_grok.validation import require, require_positive

Array = jax.Array


@dataclass(frozen=True)
class LazyRichConfig:
    """One α sweep (ε fixed, or a grid of both) of the lazy→rich committee machine.

    Attributes:
      d_in, n_train, hidden, n_test: ``D``, ``P``, ``N`` and the test-set size.
      alphas, epsilons: output scale α (laziness) and the activation's quadratic part ε; every
        pair is run.
      seeds: one draw of data, teacher and initial weights each.
      steps: gradient steps per run. n_records: log-spaced record steps (1 … ``steps``).
      lr_scale: ``η = lr_scale·N/α²`` (1 in the authors' Figure 1, 20 in their heat map).
      taus: accuracy thresholds as fractions of ``Var(y)``; the first is the one measured.
    """

    d_in: int = 100
    n_train: int = 550
    hidden: int = 500
    n_test: int = 1000
    alphas: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    epsilons: tuple[float, ...] = (0.02,)
    seeds: tuple[int, ...] = (0,)
    steps: int = 100_000
    n_records: int = 400
    lr_scale: float = 1.0
    taus: tuple[float, ...] = (0.05, 0.01, 0.1)

    def __post_init__(self):
        for name in ("d_in", "n_train", "hidden", "n_test", "steps"):
            require(name, getattr(self, name), lambda a: a >= 1, ">= 1")
        require("n_records", self.n_records, lambda a: a >= 10, ">= 10")
        require_positive("alphas", np.asarray(self.alphas))
        require("epsilons", np.asarray(self.epsilons), lambda a: a >= 0, ">= 0")
        require_positive("lr_scale", self.lr_scale)
        require("taus", np.asarray(self.taus), lambda a: (a > 0) & (a < 1), "in (0, 1)")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")

    @property
    def records(self) -> np.ndarray:
        """Record steps (R,), log-spaced integers from 1 to ``steps``."""
        return np.unique(np.round(np.geomspace(1, self.steps, self.n_records))).astype(np.int64)


PRESETS = {
    # The authors' Figure 1 procedure (η = N/α², 1e5 steps) over four α.
    "paper": LazyRichConfig(),
    # Their sizes with their heat map's η = 20N/α²: every run's test accuracy rises within reach.
    "sweep": LazyRichConfig(lr_scale=20.0, steps=100_000),
    "quick": LazyRichConfig(d_in=40, n_train=220, hidden=100, n_test=500, lr_scale=20.0,
                            steps=20_000, n_records=200),
}


@partial(jax.tree_util.register_dataclass, data_fields=["x", "y", "x_test", "y_test", "beta", "w0"],
         meta_fields=[])
@dataclass(frozen=True)
class Problem:
    """One draw: inputs (P, D), targets (P,), test set, teacher β (D,), initial weights (N, D)."""

    x: Array
    y: Array
    x_test: Array
    y_test: Array
    beta: Array
    w0: Array


def target(beta: Array, x: Array) -> Array:
    """``y = (β·x)²/2`` for rows of ``x``."""
    return (x @ beta) ** 2 / 2.0


def make_problem(key: Array, cfg: LazyRichConfig) -> Problem:
    """Data, teacher and initial weights of one seed, distributed as in the authors' notebook."""
    k_x, k_test, k_beta, k_w = jax.random.split(key, 4)
    scale = 1.0 / math.sqrt(cfg.d_in)
    x = scale * jax.random.normal(k_x, (cfg.n_train, cfg.d_in), jnp.float64)
    x_test = scale * jax.random.normal(k_test, (cfg.n_test, cfg.d_in), jnp.float64)
    beta = jax.random.normal(k_beta, (cfg.d_in,), jnp.float64)
    return Problem(x=x, y=target(beta, x), x_test=x_test, y_test=target(beta, x_test), beta=beta,
                   w0=jax.random.normal(k_w, (cfg.hidden, cfg.d_in), jnp.float64))


def predict(dm: Array, dM: Array, x: Array, alpha, eps) -> Array:
    """Centred output ``f(x) − f₀(x) = α[Δm·x + (ε/2) xᵀΔMx]`` for rows of ``x``; ``ΔM`` may be any
    square matrix (only its symmetric part counts)."""
    return alpha * (x @ dm + 0.5 * eps * jnp.einsum("pi,ij,pj->p", x, dM, x))


def population_loss(dm: Array, dM: Array, beta: Array, alpha, eps) -> Array:
    """Expected squared error over ``x ~ N(0, I/D)`` (docs/theory.md (L3)):
    ``α²|Δm|²/D + (tr Q)²/D² + 2‖Q‖²_F/D²``, ``Q = (αε/2)·sym(ΔM) − ββᵀ/2``."""
    d = beta.shape[0]
    q = 0.25 * alpha * eps * (dM + dM.T) - 0.5 * jnp.outer(beta, beta)
    return (alpha**2 * dm @ dm / d + jnp.trace(q) ** 2 / d**2 + 2.0 * jnp.sum(q * q) / d**2)


def _metrics(err_train: Array, err_test: Array, pop: Array, var_y: Array, taus: Array):
    """Train/test/population loss and train/test accuracy (one per τ) from signed errors."""
    sq_tr, sq_te = err_train**2, err_test**2
    return (jnp.mean(sq_tr), jnp.mean(sq_te), pop,
            jnp.mean(sq_tr[:, None] < taus * var_y, axis=0),
            jnp.mean(sq_te[:, None] < taus * var_y, axis=0))


def output_variance(beta: Array) -> Array:
    """``Var(y)`` over ``x ~ N(0, I/D)``: ``y = z²/2`` with ``z ~ N(0, |β|²/D)``, so ``½(|β|²/D)²``."""
    return 0.5 * (beta @ beta / beta.shape[0]) ** 2


def train_reduced(problem: Problem, alpha, eps, records, cfg: LazyRichConfig):
    """Exact gradient descent through the sufficient statistics, with the linearised model beside.

    Returns ``{"rich": metrics, "lazy": metrics}``, each metric ``(R,)`` (accuracies ``(R, E)``)
    at the ``records`` (R,) step counts: train, test and population loss, train and test accuracy.
    """
    x, y, d = problem.x, problem.y, problem.x.shape[1]
    m0, big_m0 = jnp.mean(problem.w0, axis=0), problem.w0.T @ problem.w0 / problem.w0.shape[0]
    eta = cfg.lr_scale * cfg.hidden / alpha**2
    c = 2.0 * eta * alpha / (cfg.hidden * cfg.n_train)
    taus, var_y = jnp.asarray(cfg.taus), output_variance(problem.beta)
    zero_v = jnp.zeros(d) + 0.0 * m0  # built from data: never a compile-time constant
    zero_m = jnp.zeros((d, d)) + 0.0 * big_m0

    def step(_, state):
        m, big_m, dm_lin, c_lin = state
        # Rich: exact GD on W through (m, M).
        r = predict(m - m0, big_m - big_m0, x, alpha, eps) - y
        g, big_g = x.T @ r, (x * r[:, None]).T @ x
        a = jnp.eye(d) - c * eps * big_g
        am = a @ m
        big_m = a @ big_m @ a.T - c * (jnp.outer(am, g) + jnp.outer(g, am)) + c**2 * jnp.outer(g, g)
        m = am - c * g
        # Lazy: GD on the model linearised at W₀, through (Δm, C = mean Δw w₀ᵀ).
        r_lin = alpha * (x @ dm_lin + eps * jnp.einsum("pi,ij,pj->p", x, c_lin, x)) - y
        g_lin, big_g_lin = x.T @ r_lin, (x * r_lin[:, None]).T @ x
        dm_lin = dm_lin - c * (g_lin + eps * big_g_lin @ m0)
        c_lin = c_lin - c * (jnp.outer(g_lin, m0) + eps * big_g_lin @ big_m0)
        return m, big_m, dm_lin, c_lin

    def record(state):
        m, big_m, dm_lin, c_lin = state
        rich = _metrics(predict(m - m0, big_m - big_m0, x, alpha, eps) - y,
                        predict(m - m0, big_m - big_m0, problem.x_test, alpha, eps)
                        - problem.y_test,
                        population_loss(m - m0, big_m - big_m0, problem.beta, alpha, eps),
                        var_y, taus)
        lazy = _metrics(predict(dm_lin, 2.0 * c_lin, x, alpha, eps) - y,
                        predict(dm_lin, 2.0 * c_lin, problem.x_test, alpha, eps) - problem.y_test,
                        population_loss(dm_lin, 2.0 * c_lin, problem.beta, alpha, eps),
                        var_y, taus)
        return rich, lazy

    def segment(carry, n):
        state, done = carry
        state = jax.lax.fori_loop(0, n - done, step, state)
        return (state, n), record(state)

    init = (m0, big_m0, zero_v, zero_m)
    _, (rich, lazy) = jax.lax.scan(segment, (init, jnp.zeros((), records.dtype)), records)
    return {"rich": rich, "lazy": lazy}


def train_direct(problem: Problem, alpha, eps, records, cfg: LazyRichConfig):
    """The reference: gradient descent on ``W`` (N, D) itself, the authors' loop as a scan.
    Returns the ``rich`` metrics of :func:`train_reduced`."""
    eta = cfg.lr_scale * cfg.hidden / alpha**2
    taus, var_y = jnp.asarray(cfg.taus), output_variance(problem.beta)

    def f(w, x):
        h = x @ w.T
        return alpha * jnp.mean(h + 0.5 * eps * h**2, axis=1)

    f0, f0_test = f(problem.w0, problem.x), f(problem.w0, problem.x_test)

    def loss(w):
        return jnp.mean((f(w, problem.x) - f0 - problem.y) ** 2)

    def segment(carry, n):
        w, done = carry
        w = jax.lax.fori_loop(0, n - done, lambda _, w: w - eta * jax.grad(loss)(w), w)
        dm = jnp.mean(w - problem.w0, axis=0)
        d_big_m = (w.T @ w - problem.w0.T @ problem.w0) / w.shape[0]
        out = _metrics(f(w, problem.x) - f0 - problem.y, f(w, problem.x_test) - f0_test
                       - problem.y_test, population_loss(dm, d_big_m, problem.beta, alpha, eps),
                       var_y, taus)
        return (w, n), out

    _, out = jax.lax.scan(segment, (problem.w0, jnp.zeros((), records.dtype)), records)
    return out


def initial_kernel(problem: Problem, a: Array, b: Array, alpha, eps) -> Array:
    """Neural tangent kernel at ``W₀`` between rows of ``a`` and ``b``:
    ``(α²/N)(a·b)[1 + ε m₀·(a + b) + ε² aᵀM₀b]``, from ``∇_{w_i} f = (α/N)(1 + εw_i·x)x``."""
    n = problem.w0.shape[0]
    m0, big_m0 = jnp.mean(problem.w0, axis=0), problem.w0.T @ problem.w0 / n
    cross = 1.0 + eps * ((a @ m0)[:, None] + (b @ m0)[None, :]) + eps**2 * a @ big_m0 @ b.T
    return alpha**2 / n * (a @ b.T) * cross


def kernel_regression_mse(problem: Problem, alpha, eps) -> tuple[Array, Array]:
    """Train and test MSE of ridgeless regression with the initial kernel: where gradient descent
    on the linearised model ends (the authors' "K₀ regression MSE" line)."""
    k = initial_kernel(problem, problem.x, problem.x, alpha, eps)
    coef = jnp.linalg.solve(k, problem.y)
    pred_test = initial_kernel(problem, problem.x_test, problem.x, alpha, eps) @ coef
    return (jnp.mean((k @ coef - problem.y) ** 2),
            jnp.mean((pred_test - problem.y_test) ** 2))


@partial(jax.jit, static_argnames=("cfg",))
def _sweep_program(keys, alphas, epsilons, records, cfg: LazyRichConfig):
    def one(key, alpha, eps):
        problem = make_problem(key, cfg)
        out = train_reduced(problem, alpha, eps, records, cfg)
        return out, kernel_regression_mse(problem, alpha, eps)

    return jax.vmap(one)(keys, alphas, epsilons)


def train_sweep(cfg: LazyRichConfig) -> dict[str, np.ndarray]:
    """Every (α, ε, seed) of ``cfg`` in one compiled, vmapped program (exact reduced dynamics).

    Returns arrays with leading axes ``(A, E, S)``: ``step`` (R,); ``{rich,lazy}_{train,test,pop}
    _loss`` ``(A, E, S, R)``; ``{rich,lazy}_{train,test}_acc`` ``(A, E, S, R, T)`` (one per τ);
    ``kernel_{train,test}_mse`` ``(A, E, S)``; and the grid ``alpha``, ``epsilon``, ``seed``.
    """
    grid = np.stack(np.meshgrid(np.arange(len(cfg.alphas)), np.arange(len(cfg.epsilons)),
                                np.arange(len(cfg.seeds)), indexing="ij"), -1).reshape(-1, 3)
    alphas = np.asarray(cfg.alphas, dtype=np.float64)[grid[:, 0]]
    epsilons = np.asarray(cfg.epsilons, dtype=np.float64)[grid[:, 1]]
    keys = jnp.stack([jax.random.key(int(s)) for s in np.asarray(cfg.seeds)[grid[:, 2]]])
    out, (k_train, k_test) = jax.device_get(_sweep_program(
        keys, jnp.asarray(alphas), jnp.asarray(epsilons), jnp.asarray(cfg.records), cfg))
    shape = (len(cfg.alphas), len(cfg.epsilons), len(cfg.seeds))
    arrays = {"step": cfg.records, "alpha": np.asarray(cfg.alphas),
              "epsilon": np.asarray(cfg.epsilons), "seed": np.asarray(cfg.seeds),
              "tau": np.asarray(cfg.taus),
              "kernel_train_mse": k_train.reshape(shape), "kernel_test_mse": k_test.reshape(shape)}
    names = ("train_loss", "test_loss", "pop_loss", "train_acc", "test_acc")
    for regime in ("rich", "lazy"):
        for name, value in zip(names, out[regime], strict=True):
            arrays[f"{regime}_{name}"] = np.asarray(value).reshape(*shape, *value.shape[1:])
    return arrays


def accuracy_curves(arrays: dict[str, np.ndarray], tau_index: int = 0) -> Curves:
    """The rich network's train and test accuracy at threshold ``tau[tau_index]``, one run per
    (α, ε, seed), for the shared measurement. The accuracy does not start at a fixed chance level
    (the centred network predicts 0, right for the samples whose target is small, then first moves
    towards the mean target), so the S-curve's ``c`` and ``d`` are fitted (``chance=None``)."""
    runs = arrays["rich_train_loss"].shape[:3]
    alpha, eps, seed = np.meshgrid(arrays["alpha"], arrays["epsilon"], arrays["seed"],
                                   indexing="ij")
    return Curves(time=arrays["step"].astype(np.float64),
                  train=arrays["rich_train_acc"][..., tau_index],
                  test=arrays["rich_test_acc"][..., tau_index],
                  labels={"alpha": alpha, "epsilon": eps, "seed": seed}, chance=None,
                  time_unit="GD steps", skip=np.full(runs, ""))


def loss_gap(arrays: dict[str, np.ndarray], level: float = 0.1) -> np.ndarray:
    """The authors' "amount of grokking", ``max(0, t_test − t_train)`` with ``t`` the first record
    at which the loss is below ``level`` (NaN where a loss never gets there). ``(A, E, S)``."""
    steps = arrays["step"].astype(np.float64)

    def first(loss):
        below = loss < level
        return np.where(below.any(-1), steps[np.argmax(below, axis=-1)], np.nan)

    return np.maximum(0.0, first(arrays["rich_test_loss"]) - first(arrays["rich_train_loss"]))
