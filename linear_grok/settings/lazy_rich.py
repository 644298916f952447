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
``(m, M)``: ``m ← A m − c g``, ``M ← A M Aᵀ − c(A m gᵀ + g mᵀAᵀ) + c² g gᵀ`` (docs/theory.md (L1)).
The engine (:func:`train_reduced`, :func:`heatmap`) follows the same dynamics through a factor:
``M = mmᵀ + FFᵀ`` with ``F ← A F`` (``F₀F₀ᵀ`` the initial weights' covariance), so the state is
``V = [m | F]`` (D, 1 + min(N, D)), ``xᵀMx = Σ_k (x·v_k)²``, and one step is two products with the
inputs, ``Z = XV`` and ``V ← V − c Xᵀ(r ∘ [1 + εZ₀ | εZ₁…])``: ``O(PD²)``, no ``D³`` and no ``N``
((L1′)). :func:`train_direct` trains ``W`` itself, as the authors do, and is the reference. The
linearised (lazy, kernel) model is gradient descent in function space with the initial neural tangent
kernel; it is computed in closed form at the record steps from the kernel's eigendecomposition
(:func:`train_linearised`, (L2)) and ends at ridgeless kernel regression
(:func:`kernel_regression_mse`). The population test loss has a closed form in ``(Δm, ΔM)``
(:func:`population_loss`).

The authors' (α, ε) heat map (:func:`heatmap`, :class:`HeatmapConfig`) runs every grid point under
their stopping rule, with the first crossings of the loss level found inside the compiled loop.

Accuracy, for the shared measurement: the fraction of samples whose squared error is below
``τ·Var(y)`` (``Var(y) = ½|β|⁴/D²``, about ½), for each ``τ`` of ``cfg.taus``.
Everything runs in float64.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.curves import Curves
from linear_grok.pipeline import DEFAULT_OPTIONS, measure_runs
from linear_grok.precision import float64
from linear_grok.validation import require, require_finite_positive

__all__ = ["LazyRichConfig", "PRESETS", "Problem", "target", "make_problem", "predict",
           "population_loss", "output_variance", "eta_of", "step_scale", "initial_factors",
           "projections", "train_reduced", "geometric_sum", "train_linearised", "train_direct",
           "initial_kernel", "kernel_regression_mse", "train_sweep", "accuracy_curves", "loss_gap",
           "AUTHORS_ALPHAS", "AUTHORS_EPSILONS", "DRAWS", "HeatmapConfig", "HEATMAP_PRESETS", "RunState",
           "heatmap", "LOSS_LEVEL", "run_sweep", "table", "heatmap_trend", "heatmap_table"]

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
      draws: ``"authors"``: each seed's data, teacher and weights drawn as the authors' notebook
        draws them (:func:`make_problem`); ``"split"``: from one key per seed split four ways.
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
    draws: str = "split"

    def __post_init__(self):
        for name in ("d_in", "n_train", "hidden", "n_test", "steps"):
            require(name, getattr(self, name), lambda a: a >= 1, ">= 1")
        require("n_records", self.n_records, lambda a: a >= 10, ">= 10")
        require_finite_positive("alphas", np.asarray(self.alphas))
        require("epsilons", np.asarray(self.epsilons), lambda a: np.isfinite(a) & (a >= 0), ">= 0 and finite")
        require_finite_positive("lr_scale", self.lr_scale)
        require("taus", np.asarray(self.taus), lambda a: (a > 0) & (a < 1), "in (0, 1)")
        _check_draws(self.draws, self.seeds)
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")

    @property
    def records(self) -> np.ndarray:
        """Record steps (R,), log-spaced integers from 1 to ``steps``."""
        return np.unique(np.round(np.geomspace(1, self.steps, self.n_records))).astype(np.int64)


DRAWS = ("authors", "split")


def _check_draws(draws: str, seeds=()) -> None:
    if draws not in DRAWS:
        raise ValueError(f"draws must be one of {DRAWS}; got {draws!r}")
    if draws == "authors":  # keys 10s, 10s + 1, 10s + 2 must be 32-bit
        require("seeds", np.asarray(seeds), lambda a: a <= _MAX_AUTHORS_SEED,
                f"<= {_MAX_AUTHORS_SEED} with draws='authors'")


_MAX_AUTHORS_SEED = (2**32 - 3) // 10


PRESETS = {
    # The authors' Figure 1 procedure (η = N/α², 1e5 steps, their data draws) over four α.
    "paper": LazyRichConfig(draws="authors"),
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


@float64
def target(beta: Array, x: Array) -> Array:
    """``y = (β·x)²/2`` for rows of ``x``."""
    return (x @ beta) ** 2 / 2.0


@float64
def make_problem(seed, cfg: LazyRichConfig) -> Problem:
    """Data, teacher and initial weights of one seed (an integer, traceable), distributed as in
    the authors' notebook: inputs and test inputs ``N(0, I/D)``, teacher ``β ~ N(0, I)``, weights
    ``W ~ N(0, 1)``.

    ``cfg.draws == "authors"``: drawn as the notebook draws them, in JAX's default float32, then
    widened to float64: ``X = normal(PRNGKey(0), (D, P))/√D`` (transposed to rows), the test set
    from ``PRNGKey(1)`` as ``(D, n_test)``, ``β`` from ``PRNGKey(2)`` and ``W`` again from
    ``PRNGKey(0)`` as ``(N, D)``. Seed ``s`` shifts the keys to ``10s, 10s + 1, 10s + 2`` (their
    own second draw uses 10, 11, 12 for the data), so seed 0 is theirs bit for bit.
    ``"split"``: one key ``key(seed)`` split four ways, drawn in float64.
    """
    if cfg.draws == "authors":
        base = 10 * jnp.asarray(seed, jnp.uint32)
        key = jax.random.PRNGKey

        def normal(k, shape):
            return jax.random.normal(key(base + k), shape, jnp.float32)

        root = jnp.sqrt(jnp.float32(cfg.d_in))  # divided in float32, as theirs
        x, x_test = ((normal(k, (cfg.d_in, n)) / root).T.astype(jnp.float64)
                     for k, n in ((0, cfg.n_train), (1, cfg.n_test)))
        beta = normal(2, (cfg.d_in,)).astype(jnp.float64)
        w0 = normal(0, (cfg.hidden, cfg.d_in)).astype(jnp.float64)
    else:
        k_x, k_test, k_beta, k_w = jax.random.split(jax.random.key(seed), 4)
        scale = 1.0 / math.sqrt(cfg.d_in)
        x = scale * jax.random.normal(k_x, (cfg.n_train, cfg.d_in), jnp.float64)
        x_test = scale * jax.random.normal(k_test, (cfg.n_test, cfg.d_in), jnp.float64)
        beta = jax.random.normal(k_beta, (cfg.d_in,), jnp.float64)
        w0 = jax.random.normal(k_w, (cfg.hidden, cfg.d_in), jnp.float64)
    return Problem(x=x, y=target(beta, x), x_test=x_test, y_test=target(beta, x_test), beta=beta,
                   w0=w0)


@float64
def predict(dm: Array, dM: Array, x: Array, alpha, eps) -> Array:
    """Centred output ``f(x) − f₀(x) = α[Δm·x + (ε/2) xᵀΔMx]`` for rows of ``x``; ``ΔM`` may be any
    square matrix (only its symmetric part counts)."""
    return alpha * (x @ dm + 0.5 * eps * jnp.einsum("pi,ij,pj->p", x, dM, x))


@float64
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


@float64
def output_variance(beta: Array) -> Array:
    """``Var(y)`` over ``x ~ N(0, I/D)``: ``y = z²/2`` with ``z ~ N(0, |β|²/D)``, so ``½(|β|²/D)²``."""
    return 0.5 * (beta @ beta / beta.shape[0]) ** 2


def eta_of(alpha, lr_scale: float, hidden: int):
    """The learning rate ``η = lr_scale·N/α²`` (per step, of the loss ``mean_μ r_μ²``)."""
    return lr_scale * hidden / alpha**2


def step_scale(alpha, cfg):
    """``c = 2ηα/(NP)``, the factor of every weight statistic's gradient step (docs/theory.md
    (L1)); ``cfg`` a :class:`LazyRichConfig` or :class:`HeatmapConfig`."""
    return 2.0 * eta_of(alpha, cfg.lr_scale, cfg.hidden) * alpha / (cfg.hidden * cfg.n_train)


@float64
def initial_factors(w0: Array) -> Array:
    """``V₀ = [m₀ | F₀]``, shape (D, 1 + min(N, D)), of initial weights ``w0`` (N, D): the mean
    weight and a factor of the weights' covariance, ``F₀F₀ᵀ = (1/N) Σ_i (w_i − m₀)(w_i − m₀)ᵀ``, so
    that ``M₀ = V₀V₀ᵀ``. ``F₀ = Rᵀ`` from the QR decomposition of the centred weights over ``√N``
    (no product of the weights is formed, so nothing is squared)."""
    m0 = jnp.mean(w0, axis=0)
    r = jnp.linalg.qr((w0 - m0) / math.sqrt(w0.shape[0]), mode="r")
    return jnp.concatenate([m0[:, None], r.T], axis=1)


@float64
def projections(v: Array, x: Array) -> tuple[Array, Array]:
    """``(x·m, xᵀMx)`` for rows of ``x`` (S, D), both (S,), of the state ``v = [m | F]`` (D, K):
    ``xᵀMx = Σ_k (x·v_k)²`` since ``M = VVᵀ``."""
    xv = x @ v
    return xv[:, 0], jnp.sum(xv**2, axis=1)


def _residual(xv: Array, base: tuple[Array, Array], y: Array, alpha, eps) -> Array:
    """Signed error of the centred network from the projections ``xv = x V`` (S, K) and those of the
    initial state, ``base = (x·m₀, xᵀM₀x)``: exactly ``−y`` at the initial state."""
    h0, q0 = base
    return alpha * ((xv[:, 0] - h0) + 0.5 * eps * (jnp.sum(xv**2, axis=1) - q0)) - y


def _descend(v: Array, x: Array, xv: Array, r: Array, c, eps) -> Array:
    """One gradient step on ``v = [m | F]`` from ``xv = x v`` and the residual ``r`` (P,):
    ``m ← m − c Xᵀ(r ∘ (1 + ε Xm))``, ``F ← F − cε Xᵀ(r ∘ XF)`` (docs/theory.md (L1′))."""
    u = (eps * r)[:, None] * xv
    u = u.at[:, 0].add(r)
    return v - c * (x.T @ u)


def _train_rich(problem: Problem, v0: Array, alpha, eps, records, cfg: LazyRichConfig):
    """The network's metrics at the ``records`` from the initial factors ``v0`` (no decomposition
    inside, so it may be vmapped freely)."""
    x, y = problem.x, problem.y
    base, base_test = projections(v0, x), projections(v0, problem.x_test)
    c = step_scale(alpha, cfg)
    taus, var_y = jnp.asarray(cfg.taus), output_variance(problem.beta)
    big_m0 = v0 @ v0.T

    def step(_, v):
        xv = x @ v
        return _descend(v, x, xv, _residual(xv, base, y, alpha, eps), c, eps)

    def record(v):
        d_big_m = v @ v.T - big_m0
        return _metrics(_residual(x @ v, base, y, alpha, eps),
                        _residual(problem.x_test @ v, base_test, problem.y_test, alpha, eps),
                        population_loss(v[:, 0] - v0[:, 0], d_big_m, problem.beta, alpha, eps),
                        var_y, taus)

    def segment(carry, n):
        v, done = carry
        v = jax.lax.fori_loop(0, n - done, step, v)
        return (v, n), record(v)

    _, rich = jax.lax.scan(segment, (v0, jnp.zeros((), records.dtype)), records)
    return rich


@float64
def train_reduced(problem: Problem, alpha, eps, records, cfg: LazyRichConfig,
                  linearised: bool = True):
    """Exact gradient descent through the factored sufficient statistics, with the linearised model
    beside (unless ``linearised`` is False).

    Returns ``{"rich": metrics}`` (and ``"lazy"``), each metric ``(R,)`` (accuracies ``(R, E)``)
    at the ``records`` (R,) step counts: train, test and population loss, train and test accuracy.
    For many runs use :func:`train_sweep`: vmapping this function batches its two LAPACK calls (QR,
    eigendecomposition), and two batched LAPACK calls running at once can deadlock the CPU
    backend's thread pool (seen with jaxlib 0.10 on 2 cores); the sweep maps them one at a time.
    """
    out = {"rich": _train_rich(problem, initial_factors(problem.w0), alpha, eps, records, cfg)}
    if linearised:
        out["lazy"] = train_linearised(problem, alpha, eps, records, cfg)
    return out


@float64
def geometric_sum(a: Array, t) -> Array:
    """``Σ_{k<t} (1 − a)^k`` for rates ``a`` (any shape) and a step count ``t ≥ 0``, accurate for
    ``|a| ≪ 1`` (through ``expm1``/``log1p``) and for ``a ≥ 1`` (alternating terms)."""
    t = jnp.asarray(t, jnp.float64)
    b = 1.0 - a
    safe = jnp.where(a == 0, 1.0, a)
    below_one = -jnp.expm1(t * jnp.log1p(-jnp.where(b > 0, safe, 0.0))) / safe
    sign = jnp.where(jnp.fmod(t, 2.0) == 1.0, -1.0, 1.0)
    above_one = (1.0 - sign * jnp.abs(b) ** t) / safe
    return jnp.where(a == 0, t, jnp.where(b > 0, below_one, above_one))


def _linearised(problem: Problem, alpha, eps, records, cfg: LazyRichConfig):
    """:func:`train_linearised`'s metrics and, from the same eigendecomposition, the train and test
    MSE of ridgeless regression with the initial kernel (one LAPACK call in all)."""
    x, y, w0 = problem.x, problem.y, problem.w0
    eta, c = eta_of(alpha, cfg.lr_scale, cfg.hidden), step_scale(alpha, cfg)
    m0, big_m0 = jnp.mean(w0, axis=0), w0.T @ w0 / w0.shape[0]
    kernel = initial_kernel(problem, x, x, alpha, eps)
    lam, vecs = jnp.linalg.eigh(kernel)
    rate, coef = 2.0 * eta / cfg.n_train * lam, vecs.T @ -y
    weight_m, weight_c = 1.0 + eps * (x @ m0), m0[None, :] + eps * (x @ big_m0)
    taus, var_y = jnp.asarray(cfg.taus), output_variance(problem.beta)

    def record(t):
        s = vecs @ (geometric_sum(rate, t) * coef)
        dm = -c * (x.T @ (s * weight_m))
        d_big_m = -2.0 * c * ((x * s[:, None]).T @ weight_c)  # 2C: only its symmetric part counts
        return _metrics(predict(dm, d_big_m, x, alpha, eps) - y,
                        predict(dm, d_big_m, problem.x_test, alpha, eps) - problem.y_test,
                        population_loss(dm, d_big_m, problem.beta, alpha, eps), var_y, taus)

    solution = vecs @ (-coef / lam)  # K₀⁻¹y
    pred_test = initial_kernel(problem, problem.x_test, x, alpha, eps) @ solution
    kernel_mse = (jnp.mean((kernel @ solution - y) ** 2),
                  jnp.mean((pred_test - problem.y_test) ** 2))
    return jax.lax.map(record, records), kernel_mse


@float64
def train_linearised(problem: Problem, alpha, eps, records, cfg: LazyRichConfig):
    """Gradient descent on the network linearised at ``W₀``, in closed form at the ``records``.

    On the training set the residual obeys ``r ← (I − κK₀)r`` with ``κ = 2η/P`` and ``K₀`` the
    initial kernel (:func:`initial_kernel`), so the sum of the residuals up to step ``t`` is
    ``s_t = U diag(Σ_{k<t}(1 − κλ)^k) Uᵀ r₀`` (``K₀ = U diag(λ) Uᵀ``, ``r₀ = −y``), and the weights'
    statistics are ``Δm = −c Xᵀ(s ∘ (1 + εXm₀))``, ``C = −c Xᵀ diag(s)(1m₀ᵀ + εXM₀)``
    (docs/theory.md (L2)). Returns the metrics of :func:`train_reduced` for the linearised model;
    ``O(P³)`` once and ``O(PD² + n_test·D²)`` per record, nothing per step.
    """
    return _linearised(problem, alpha, eps, records, cfg)[0]


@float64
def train_direct(problem: Problem, alpha, eps, records, cfg: LazyRichConfig):
    """The reference: gradient descent on ``W`` (N, D) itself, the authors' loop as a scan.
    Returns the ``rich`` metrics of :func:`train_reduced`."""
    eta = eta_of(alpha, cfg.lr_scale, cfg.hidden)
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


@float64
def initial_kernel(problem: Problem, a: Array, b: Array, alpha, eps) -> Array:
    """Neural tangent kernel at ``W₀`` between rows of ``a`` and ``b``:
    ``(α²/N)(a·b)[1 + ε m₀·(a + b) + ε² aᵀM₀b]``, from ``∇_{w_i} f = (α/N)(1 + εw_i·x)x``."""
    n = problem.w0.shape[0]
    m0, big_m0 = jnp.mean(problem.w0, axis=0), problem.w0.T @ problem.w0 / n
    cross = 1.0 + eps * ((a @ m0)[:, None] + (b @ m0)[None, :]) + eps**2 * a @ big_m0 @ b.T
    return alpha**2 / n * (a @ b.T) * cross


@float64
def kernel_regression_mse(problem: Problem, alpha, eps) -> tuple[Array, Array]:
    """Train and test MSE of ridgeless regression with the initial kernel: where gradient descent
    on the linearised model ends (the authors' "K₀ regression MSE" line)."""
    k = initial_kernel(problem, problem.x, problem.x, alpha, eps)
    coef = jnp.linalg.solve(k, problem.y)
    pred_test = initial_kernel(problem, problem.x_test, problem.x, alpha, eps) @ coef
    return (jnp.mean((k @ coef - problem.y) ** 2),
            jnp.mean((pred_test - problem.y_test) ** 2))


@partial(jax.jit, static_argnames=("cfg", "linearised"))
def _sweep_program(seeds, alphas, epsilons, records, cfg: LazyRichConfig, linearised: bool):
    """Seeds (S,) outside, the (α, ε) pairs (G,) inside. The network's runs are vmapped: those of
    one seed share its data, so each step's products with the inputs are one matrix product for
    all of them. The decompositions (a QR per seed, an eigendecomposition per run) go through
    ``lax.map``, one at a time: batched LAPACK calls running at once can deadlock the CPU thread
    pool (:func:`train_reduced`)."""
    problems = jax.vmap(lambda seed: make_problem(seed, cfg))(seeds)
    factors = jax.lax.map(initial_factors, problems.w0)

    def rich(problem, v0):
        return jax.vmap(lambda a, e: _train_rich(problem, v0, a, e, records, cfg))(alphas,
                                                                                   epsilons)

    out = {"rich": jax.vmap(rich)(problems, factors)}
    if not linearised:
        return out, None

    def lazy(problem):
        return jax.lax.map(lambda ae: _linearised(problem, ae[0], ae[1], records, cfg),
                           (alphas, epsilons))

    out["lazy"], kernel = jax.lax.map(lazy, problems)
    return out, kernel


@float64
def train_sweep(cfg: LazyRichConfig, linearised: bool = True) -> dict[str, np.ndarray]:
    """Every (α, ε, seed) of ``cfg`` in one compiled, vmapped program (exact reduced dynamics).

    Returns arrays with leading axes ``(A, E, S)``: ``step`` (R,); ``{rich,lazy}_{train,test,pop}
    _loss`` ``(A, E, S, R)``; ``{rich,lazy}_{train,test}_acc`` ``(A, E, S, R, T)`` (one per τ);
    ``kernel_{train,test}_mse`` ``(A, E, S)``; and the grid ``alpha``, ``epsilon``, ``seed``.
    With ``linearised=False`` the ``lazy_*`` and ``kernel_*`` arrays are left out (and not computed).
    """
    alphas, epsilons = (a.ravel() for a in np.meshgrid(np.asarray(cfg.alphas, dtype=np.float64),
                                                       np.asarray(cfg.epsilons, dtype=np.float64),
                                                       indexing="ij"))
    out, kernel = jax.device_get(_sweep_program(
        jnp.asarray(cfg.seeds, jnp.uint32), jnp.asarray(alphas), jnp.asarray(epsilons),
        jnp.asarray(cfg.records), cfg, linearised))

    def runs_first(value):  # (S, A·E, ...) -> (A, E, S, ...)
        value = np.moveaxis(np.asarray(value), 0, 1)
        return value.reshape(len(cfg.alphas), len(cfg.epsilons), *value.shape[1:])

    arrays = {"step": cfg.records, "alpha": np.asarray(cfg.alphas),
              "epsilon": np.asarray(cfg.epsilons), "seed": np.asarray(cfg.seeds),
              "tau": np.asarray(cfg.taus)}
    if linearised:
        arrays.update(kernel_train_mse=runs_first(kernel[0]), kernel_test_mse=runs_first(kernel[1]))
    names = ("train_loss", "test_loss", "pop_loss", "train_acc", "test_acc")
    for regime, metrics in out.items():
        for name, value in zip(names, metrics, strict=True):
            arrays[f"{regime}_{name}"] = runs_first(value)
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


# --- The authors' (α, ε) heat map ---------------------------------------------------------------

AUTHORS_ALPHAS = tuple(round(0.4 * i, 10) for i in range(1, 15))  # 0.4, 0.8, …, 5.6
AUTHORS_EPSILONS = tuple(round(0.02 * i, 10) for i in range(1, 15))  # 0.02, 0.04, …, 0.28


@dataclass(frozen=True)
class HeatmapConfig:
    """The authors' (α, ε) phase diagram: one data draw, every pair run under their stopping rule.

    Each run takes full-batch gradient steps with ``η = lr_scale·N/α²`` and stops after the first
    step ``s ≥ lookback + 1`` at which the train and the test loss (finite test set) both differ by
    less than ``tol`` from their values ``lookback − 1`` steps earlier (their ``losses[-1]`` against
    ``losses[-lookback]``) and the test loss is below its initial value, or at ``max_steps``. Their
    loop counts from 0 and stops once ``t > 110 000``, i.e. after 110 002 steps: the default.
    ``t_train``, ``t_test``: first step with loss below ``level``. A run whose loss is no longer
    finite stops there, marked diverged (their loop would run on to the cap and cross nothing).
    ``chunk``: steps per compiled call between which stopped runs leave the batch (changes nothing
    but the time taken).

    Attributes:
      d_in, n_train, hidden, n_test: ``D``, ``P``, ``N`` and the test-set size.
      alphas, epsilons: the grid; seed: the one draw of data, teacher and initial weights.
      draws: as :class:`LazyRichConfig` (``"authors"``: their notebook's draws).
    """

    d_in: int = 100
    n_train: int = 550
    hidden: int = 500
    n_test: int = 1000
    alphas: tuple[float, ...] = AUTHORS_ALPHAS
    epsilons: tuple[float, ...] = AUTHORS_EPSILONS
    seed: int = 0
    lr_scale: float = 20.0
    max_steps: int = 110_002
    tol: float = 1e-5
    lookback: int = 5
    level: float = 0.1
    chunk: int = 1000
    draws: str = "split"

    def __post_init__(self):
        for name in ("d_in", "n_train", "hidden", "n_test", "max_steps", "chunk"):
            require(name, getattr(self, name), lambda a: a >= 1, ">= 1")
        require("lookback", self.lookback, lambda a: (a >= 2) & (a == np.round(a)),
                "an integer >= 2")
        require_finite_positive("alphas", np.asarray(self.alphas))
        require("epsilons", np.asarray(self.epsilons), lambda a: np.isfinite(a) & (a >= 0), ">= 0 and finite")
        for name in ("lr_scale", "tol", "level"):
            require_finite_positive(name, getattr(self, name))
        if not self.alphas or not self.epsilons:
            raise ValueError("alphas and epsilons must name at least one value each")
        _check_draws(self.draws, (self.seed,))


HEATMAP_PRESETS = {
    # Their grid, sizes and rule (14 × 14 runs, D = 100, P = 550, N = 500, 1000 test samples).
    "authors": HeatmapConfig(),
    # Their grid and rule at 2/5 of their sizes (P/D = 5.5, N/D = 5, n_test/D = 10 kept), with η
    # scaled by D/100: the largest step of the linearised dynamics, κλ_max ∝ (η/N)(1 + √(D/P))²/D,
    # is then theirs (0.8 of the stability limit 2); 20N/α² at D = 40 diverges.
    "small": HeatmapConfig(d_in=40, n_train=220, hidden=200, n_test=400, lr_scale=8.0),
    # Every other α and ε of their grid at a fifth of their sizes, η scaled the same way.
    "quick": HeatmapConfig(d_in=20, n_train=110, hidden=100, n_test=200, lr_scale=4.0,
                           alphas=AUTHORS_ALPHAS[::2], epsilons=AUTHORS_EPSILONS[::2]),
}


@partial(jax.tree_util.register_dataclass,
         data_fields=["v", "last_train", "last_test", "t_train", "t_test", "stop", "train_loss",
                      "test_loss"], meta_fields=[])
@dataclass(frozen=True)
class RunState:
    """One heat-map run (or a batch, with a leading run axis) between compiled chunks.

    ``v`` (D, K): the factored statistics ``[m | F]``; ``last_train``, ``last_test``
    (lookback − 1,): the losses of the last steps, ring-indexed by step; ``t_train``, ``t_test``:
    first step with loss below the level (−1: none yet); ``stop``: the step at which the rule
    stopped the run (0: running); ``train_loss``, ``test_loss``: the losses at the last step run.
    """

    v: Array
    last_train: Array
    last_test: Array
    t_train: Array
    t_test: Array
    stop: Array
    train_loss: Array
    test_loss: Array


def _initial_run_state(v0: Array, y: Array, y_test: Array, cfg: HeatmapConfig) -> RunState:
    """The state before the first step (losses ``mean y²``)."""
    ring = cfg.lookback - 1
    zero = jnp.zeros((), jnp.int64)
    return RunState(v=v0, last_train=jnp.full(ring, jnp.nan), last_test=jnp.full(ring, jnp.nan),
                    t_train=zero - 1, t_test=zero - 1, stop=zero, train_loss=jnp.mean(y**2),
                    test_loss=jnp.mean(y_test**2))


@partial(jax.jit, static_argnames=("cfg",))
def _heatmap_chunk(problem: Problem, v0: Array, alphas: Array, epsilons: Array, state: RunState,
                   start, cfg: HeatmapConfig) -> RunState:
    """``cfg.chunk`` steps of a batch of runs (leading axis B) sharing ``problem``, from ``start``
    steps done: each iteration takes the losses of the state after ``s`` steps, applies the
    crossing and stopping rules for step ``s``, then steps every run that is still running."""
    x, y, x_test, y_test = problem.x, problem.y, problem.x_test, problem.y_test
    base, base_test = projections(v0, x), projections(v0, x_test)
    init_test = jnp.mean(y_test**2)
    ring = cfg.lookback - 1

    def run_step(alpha, eps, st: RunState, s) -> RunState:
        c = step_scale(alpha, cfg)
        xv = x @ st.v
        r = _residual(xv, base, y, alpha, eps)
        l_tr = jnp.mean(r**2)
        l_te = jnp.mean(_residual(x_test @ st.v, base_test, y_test, alpha, eps) ** 2)
        live = (st.stop == 0) & (s >= 1)
        t_train = jnp.where(live & (st.t_train < 0) & (l_tr < cfg.level), s, st.t_train)
        t_test = jnp.where(live & (st.t_test < 0) & (l_te < cfg.level), s, st.t_test)
        slot = s % ring  # holds the losses of step s − (lookback − 1)
        settled = ((s >= cfg.lookback + 1) & (jnp.abs(l_tr - st.last_train[slot]) < cfg.tol)
                   & (jnp.abs(l_te - st.last_test[slot]) < cfg.tol) & (l_te < init_test))
        # Beyond the authors' rule: a run whose loss is no longer finite stops (it never crosses).
        ended = settled | (s >= cfg.max_steps) | ~jnp.isfinite(l_tr + l_te)
        stop = jnp.where(live & ended, s, st.stop)
        running = stop == 0
        return RunState(
            v=jnp.where(running, _descend(st.v, x, xv, r, c, eps), st.v),
            last_train=st.last_train.at[slot].set(l_tr), last_test=st.last_test.at[slot].set(l_te),
            t_train=t_train, t_test=t_test, stop=stop,
            train_loss=jnp.where(st.stop == 0, l_tr, st.train_loss),
            test_loss=jnp.where(st.stop == 0, l_te, st.test_loss))

    batch_step = jax.vmap(run_step, in_axes=(0, 0, 0, None))

    def body(st, s):
        return batch_step(alphas, epsilons, st, s), None

    steps = start + jnp.arange(cfg.chunk, dtype=jnp.int64)
    state, _ = jax.lax.scan(body, state, steps)
    return state


def _bucket(n: int, total: int) -> int:
    """Batch size for ``n`` running runs of ``total``: the next power of two, at most ``total``
    (few sizes, so few compilations)."""
    return min(total, 1 << (n - 1).bit_length())


@float64
def heatmap(cfg: HeatmapConfig, progress=None) -> dict[str, np.ndarray]:
    """Every (α, ε) of ``cfg`` under the authors' stopping rule, on one draw (seed ``cfg.seed``).

    The runs go through compiled chunks of ``cfg.chunk`` steps, all running runs batched; between
    chunks, the stopped runs leave the batch. ``progress(steps_done, n_running)`` is called after
    each chunk when given.

    Returns ``(A, E)`` arrays: ``t_train``, ``t_test`` (first step with loss below ``cfg.level``,
    −1: never before the stop), ``stop_step``, ``capped`` (stopped by ``max_steps``), ``diverged``
    (loss not finite), ``final_train_loss``, ``final_test_loss``, ``amount`` (``max(0, t_test −
    t_train)``, NaN where a loss never crossed), ``amount_authors`` (their formula with their −1
    for "never", on their 0-based step index: 0 where the test loss never crossed); and the grid
    ``alpha``, ``epsilon``, ``init_test_loss``.
    """
    problem = make_problem(cfg.seed, cfg)
    grid_a, grid_e = np.meshgrid(np.asarray(cfg.alphas, dtype=np.float64),
                                 np.asarray(cfg.epsilons, dtype=np.float64), indexing="ij")
    alphas, epsilons = grid_a.ravel(), grid_e.ravel()
    total = alphas.size
    v0 = jax.jit(initial_factors)(problem.w0)
    one = _initial_run_state(v0, problem.y, problem.y_test, cfg)
    state = jax.tree_util.tree_map(lambda a: np.repeat(np.asarray(a)[None], total, axis=0), one)
    done = 0
    while (running := np.flatnonzero(state.stop == 0)).size:
        idx = np.concatenate([running, np.repeat(running[:1], _bucket(running.size, total)
                                                 - running.size)])
        sub = jax.tree_util.tree_map(lambda a, i=idx: jnp.asarray(a[i]), state)
        out = jax.device_get(_heatmap_chunk(problem, v0, jnp.asarray(alphas[idx]),
                                            jnp.asarray(epsilons[idx]), sub,
                                            jnp.asarray(done, jnp.int64), cfg))
        for field in dataclasses.fields(RunState):
            getattr(state, field.name)[running] = getattr(out, field.name)[:running.size]
        done += cfg.chunk
        if progress is not None:
            progress(done, int(np.sum(state.stop == 0)))
    shape = grid_a.shape
    t_train, t_test = state.t_train.reshape(shape), state.t_test.reshape(shape)
    crossed = (t_train > 0) & (t_test > 0)
    idx_tr, idx_te = np.where(t_train > 0, t_train - 1, -1), np.where(t_test > 0, t_test - 1, -1)
    stop = state.stop.reshape(shape)
    loss = state.train_loss.reshape(shape) + state.test_loss.reshape(shape)
    return {"alpha": np.asarray(cfg.alphas, dtype=np.float64),
            "epsilon": np.asarray(cfg.epsilons, dtype=np.float64),
            "t_train": t_train, "t_test": t_test, "stop_step": stop,
            "capped": (stop >= cfg.max_steps) & np.isfinite(loss), "diverged": ~np.isfinite(loss),
            "final_train_loss": state.train_loss.reshape(shape),
            "final_test_loss": state.test_loss.reshape(shape),
            "amount": np.where(crossed, np.maximum(0, t_test - t_train), np.nan),
            "amount_authors": np.maximum(0, idx_te - idx_tr).astype(np.float64),
            "init_test_loss": np.asarray(float(jnp.mean(problem.y_test**2)))}


LOSS_LEVEL = 0.1  # the authors' threshold for "amount of grokking"


def run_sweep(cfg: LazyRichConfig, options=DEFAULT_OPTIONS) -> dict[str, np.ndarray]:
    """Train every run and measure it on linear time and (``log_*`` arrays) on log time."""
    arrays = train_sweep(cfg)
    curves = accuracy_curves(arrays)
    arrays.update(measure_runs(curves, options))
    arrays.update({f"log_{k}": v for k, v in measure_runs(curves, options, log_time=True).items()})
    arrays["loss_gap"] = loss_gap(arrays, LOSS_LEVEL)
    return arrays


def table(arrays) -> str:
    """One row per run: the loss-threshold gap and both measurements' gap and sharpness."""
    head = (f"{'alpha':>6} {'eps':>5} {'seed':>4} {'loss gap':>9} {'b_train':>9} {'b_test':>9} "
            f"{'gap':>7} {'R_rel':>6} {'log gap':>8} {'log R_rel':>9} {'acc tr/te':>11}  note")
    lines = [head, "-" * len(head)]
    for i, j, k in np.ndindex(arrays["ok"].shape):
        lines.append(
            f"{arrays['alpha'][i]:6.3g} {arrays['epsilon'][j]:5.3g} {arrays['seed'][k]:4d} "
            f"{arrays['loss_gap'][i, j, k]:9.4g} {arrays['b_train'][i, j, k]:9.4g} "
            f"{arrays['b_test'][i, j, k]:9.4g} {arrays['relative_gap'][i, j, k]:7.3g} "
            f"{arrays['relative_sharpness'][i, j, k]:6.3g} {arrays['log_relative_gap'][i, j, k]:8.3g} "
            f"{arrays['log_relative_sharpness'][i, j, k]:9.3g} "
            f"{arrays['rich_train_acc'][i, j, k, -1, 0]:5.3f}/{arrays['rich_test_acc'][i, j, k, -1, 0]:.3f}"
            f"  {arrays['reason'][i, j, k][:50]}")
    return "\n".join(lines)


def heatmap_trend(amount: np.ndarray) -> dict[str, float]:
    """How the amount of grokking ``(A, E)`` moves across the grid: the fraction of neighbouring
    pairs (both finite) in which it grows with α (down a column) and falls with ε (along a row)."""
    def fraction(a, b):
        keep = np.isfinite(a) & np.isfinite(b)
        return float(np.mean(b[keep] > a[keep])) if keep.any() else float("nan")

    return {"grows_with_alpha": fraction(amount[:-1], amount[1:]),
            "falls_with_epsilon": fraction(amount[:, 1:], amount[:, :-1])}


def heatmap_table(arrays) -> str:
    """The amount of grokking (steps) with α down and ε across; ``-``: a loss never crossed."""
    eps = arrays["epsilon"]
    lines = ["amount of grokking max(0, t_test − t_train) in steps (rows α, columns ε; "
             "- : a loss never crossed the level before the stop, c: capped)",
             "   α/ε " + "".join(f"{e:>7.3g}" for e in eps)]
    for i, alpha in enumerate(arrays["alpha"]):
        cells = []
        for j in range(eps.size):
            value = arrays["amount"][i, j]
            cell = "-" if not np.isfinite(value) else f"{value:.0f}"
            cells.append(f"{cell + ('c' if arrays['capped'][i, j] else ''):>7}")
        lines.append(f"{alpha:6.3g} " + "".join(cells))
    return "\n".join(lines)


