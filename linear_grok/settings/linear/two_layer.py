"""Two-layer student–teacher networks and Levi et al.'s rescaled theory (their §4, Fig. 5).

The setting (Levi eq. 17, App. A and E; docs/theory.md §20.1):

* inputs ``x ~ N(0, I_{d_in})``; ``N_tr = round(d_in/λ)`` training samples and ``n_test`` fresh
  test samples;
* student ``f(x) = S1ᵀ σ(S0ᵀ x)`` with ``S0`` (d_in, d_h), ``S1`` (d_h, d_out) and ``σ`` the identity
  or ``tanh``; the teacher has the same architecture and activation, ``y = T1ᵀ σ(T0ᵀ x)``
  (``teacher="linear"``: ``y = (T0 T1)ᵀ x`` whatever the student's ``σ``);
* every initial weight is Gaussian with variance ``1/(2 d_l d_{l+1})`` of its layer's two sizes,
  ``S0, T0 ~ N(0, 1/(2 d_in d_h))`` and ``S1, T1 ~ N(0, 1/(2 d_h d_out))`` (times ``weight_scale``);
* loss: the package's mean over samples and outputs without ½ (docs/theory.md (3)); full-batch
  gradient descent on ``(S0, S1)`` with learning rate ``η``, time in GD steps;
* accuracy at ``ε``: the fraction of samples whose squared error averaged over the outputs,
  ``‖f(x) − y‖²/d_out``, is below ``ε`` (docs/theory.md §8, as :mod:`.simulator`).

With ``σ`` the identity the network is linear, ``D = S0 S1 − T0 T1``, and in gradient flow

    ``Ḋ = −(2η/d_out) (Σ D S1ᵀS1 + S0 S0ᵀ Σ D)``   (docs/theory.md §20 (T2)).

With ``S1ᵀS1 ≈ (‖S1‖²/d_out) I = I/(2 d_out)`` and the ``S0 S0ᵀ`` term neglected this is the
one-layer model at the package learning rate ``η' = η‖S1‖²/d_out = η/(2 d_out)`` — Levi's
``η₀ → η₀/(2 d_out²)`` on the ``d_out = 1`` clock — with prefactor ``‖D0‖²``:

    ``L_tr/gen(t) = ‖D0‖² · exp(theory.log_losses(t, λ, eta=η/(2 d_out), d_out=d_out))``
    ``            = (‖D0‖²/d_out) ℒ⁽¹⁾_tr/gen(η t/(2 d_out²); λ)``   (docs/theory.md §20 (T4)).

Levi's eq. 19 prints the prefactor as ``‖D0‖²`` without the ``1/d_out`` of the losses' definition
(docs/theory.md §20.2). :func:`mapped_losses` evaluates (T4). Finer references, per seed:
:func:`one_layer_losses` (the mapping on the same draw, without the Marchenko–Pastur average) and
:func:`linearized_losses` (the network linearised at initialisation, (T6)); :func:`agreement`
compares a simulation with any of them.

Engines: with ``σ`` the identity the step is taken in the eigenbasis of ``Σ``, where ``ΣD`` is
``ν ⊙ D`` (``3 d_in d_h d_out`` multiply–adds a step, whatever ``N_tr``); with ``tanh`` it needs
the data (``≈ 4 N_tr d_in d_h``). Both are one ``lax.scan`` over the record segments (a
``fori_loop`` inside each), so only the records are kept; :func:`simulate` vmaps every
``(λ, seed)`` run in one compiled program, the training set padded to the largest ``N_tr`` and
masked. Everything runs in float64 (:func:`linear_grok.precision.float64`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.precision import float64
from linear_grok.settings.linear import simulator, theory
from linear_grok.validation import require, require_finite_positive

__all__ = ["Array", "ACTIVATIONS", "TEACHERS", "TwoLayerConfig", "PRESETS", "Problem",
           "TwoLayerMetrics", "make_problem", "forward", "make_simulate", "simulate",
           "mapped_eta", "mapped_losses", "one_layer_losses", "linearized_losses",
           "accuracy_time", "REFERENCES", "agreement", "format_agreement"]

Array = jax.Array

ACTIVATIONS = ("linear", "tanh")
TEACHERS = ("same", "linear")


@dataclass(frozen=True)
class TwoLayerConfig:
    """A sweep of two-layer student–teacher networks over ``lams`` × ``seeds``.

    Attributes:
      d_in, d_h, d_out: input, hidden and output widths (Levi's Fig. 5: 1000, 50 or 200, 5).
      activation: ``"linear"`` (identity) or ``"tanh"``, in the student's hidden layer.
      teacher: ``"same"``: the student's architecture and activation (Levi eq. 17);
        ``"linear"``: ``y = (T0 T1)ᵀ x`` from the same draw (only differs for ``tanh``).
      lams: aspect ratios ``λ = d_in/N_tr > 0``. seeds: one draw of data, teacher and student
        each (``jax.random.key(seed)``, shared by every λ: common random numbers).
      eta: learning rate per GD step (Levi: 0.01). eps: accuracy thresholds on the per-sample
        squared error (Levi's Fig. 5: 1e-4); the first is the one :func:`agreement` uses.
      n_test: fresh test samples per seed.
      steps: GD steps per run. n_records: log-spaced record steps (plus step 0).
      weight_scale: every initial weight (student and teacher, both layers) times this; 1 in Levi.
      train_readout: ``False`` freezes ``S1`` (only ``S0`` is trained; docs/theory.md §20 (T6)).
    """

    d_in: int = 1000
    d_h: int = 200
    d_out: int = 5
    activation: str = "linear"
    teacher: str = "same"
    lams: tuple[float, ...] = (0.5, 0.9)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    eta: float = 0.01
    eps: tuple[float, ...] = (1e-4,)
    n_test: int = 2000
    steps: int = 200_000
    n_records: int = 200
    weight_scale: float = 1.0
    train_readout: bool = True

    def __post_init__(self):
        for name in ("d_in", "d_h", "d_out", "n_test", "steps"):
            require(name, getattr(self, name), lambda a: (a >= 1) & (a == np.round(a)),
                    "an integer >= 1")
        require("n_records", self.n_records, lambda a: (a >= 2) & (a == np.round(a)),
                "an integer >= 2")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {self.activation!r}")
        if self.teacher not in TEACHERS:
            raise ValueError(f"teacher must be one of {TEACHERS}; got {self.teacher!r}")
        if not self.lams:
            raise ValueError("lams must name at least one aspect ratio")
        require_finite_positive("lams", np.asarray(self.lams))
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        require("seeds", np.asarray(self.seeds), lambda a: (a >= 0) & (a == np.round(a)),
                "integers >= 0")
        require_finite_positive("eta", self.eta)
        if not self.eps:
            raise ValueError("eps must name at least one threshold")
        require_finite_positive("eps", np.asarray(self.eps))
        require_finite_positive("weight_scale", self.weight_scale)
        # GD on the linear network is stable while the largest Hessian eigenvalue, about
        # (2/d_out)·λ₊·max eig(S1ᵀS1) ≤ (2/d_out)·λ₊·(1 + √(d_out/d_h))²·s²/(2 d_out), is
        # below 2/η; the factor 4 leaves room for the readout growing during training.
        lam_plus = (1.0 + math.sqrt(max(self.lams))) ** 2
        readout = (1.0 + math.sqrt(self.d_out / self.d_h)) ** 2 * self.weight_scale**2 / (2.0 * self.d_out)
        limit = 2.0 / (4.0 * (2.0 / self.d_out) * lam_plus * readout)
        require("eta", self.eta, lambda a: a < limit,
                f"< {limit:.4g} (a quarter of GD's stability limit on the initial readout, "
                f"lam = {max(self.lams):g})")

    @property
    def linear(self) -> bool:
        """Whether the whole problem is linear (then the Gram engine and exact ``gen_loss``)."""
        return self.activation == "linear"

    @property
    def tau_per_step(self) -> float:
        """Levi's two-layer clock per GD step, ``η s²/(2 d_out²)`` (``s = weight_scale``):
        ``τ₂ = η' t/d_out`` with ``η'`` of :func:`mapped_eta`, the argument of ``ℒ⁽¹⁾`` in
        docs/theory.md §20 (T4); ``η t/(2 d_out²)`` at Levi's ``s = 1``. The linear network at
        scale ``s`` is the one at scale 1 on this clock (its weights' products scale as ``s²``)."""
        return self.eta * self.weight_scale**2 / (2.0 * self.d_out**2)

    @property
    def records(self) -> np.ndarray:
        """Record steps (R,): 0, then ``n_records`` log-spaced integers up to ``steps``."""
        return simulator.record_schedule(self.steps, self.n_records)

    def n_train(self, lam) -> np.ndarray:
        """Training-set sizes ``round(d_in/λ)`` (at least 1)."""
        return np.maximum(np.round(self.d_in / np.asarray(lam, dtype=np.float64)), 1).astype(int)

    @property
    def n_max(self) -> int:
        """Padded training-set size: the largest ``N_tr`` of ``lams``."""
        return int(self.n_train(self.lams).max())


PRESETS = {
    # Levi's Fig. 5 sizes (1000–d_h–5, η = 0.01, ε = 1e-4; d_h = 50 or 200 by `d_h=`). Their λ is
    # not stated; 0.5 and 0.9 (Fig. 2–3 use 0.9). 2·10⁵ steps reach τ₂ = 40.
    "paper": TwoLayerConfig(),
    # A fifth of d_in, the same λ, d_h and d_out; η ten times Levi's (still 1/40 of GD's limit),
    # so that 2·10⁴ steps reach the same τ₂ = 40. On 2 CPU cores: linear 9 s (d_h = 50) or 26 s
    # (d_h = 200); tanh 1.7 or 4.5 min (docs/theory.md §20.5; the paper preset: linear 6 or 16
    # min, tanh 5.5 or 15 h).
    "quick": TwoLayerConfig(d_in=200, d_h=50, eta=0.1, steps=20_000, n_records=120),
}


@partial(jax.tree_util.register_dataclass,
         data_fields=["x_train", "mask", "n_train", "x_test", "teacher0", "teacher1", "student0",
                      "student1"], meta_fields=[])
@dataclass(frozen=True)
class Problem:
    """One draw of data, teacher and initial student.

    Attributes:
      x_train: (N_max, d_in) inputs; rows ``>= n_train`` are zero and masked out.
      mask: (N_max,) 1.0 on real training rows. n_train: scalar number of real rows.
      x_test: (n_test, d_in) fresh inputs.
      teacher0, student0: (d_in, d_h) first layers. teacher1, student1: (d_h, d_out) readouts.
    """

    x_train: Array
    mask: Array
    n_train: Array
    x_test: Array
    teacher0: Array
    teacher1: Array
    student0: Array
    student1: Array


@dataclass(frozen=True)
class TwoLayerMetrics:
    """Records of a sweep; arrays ``(L, S, R)`` over λ, seed and record.

    Attributes:
      step: (R,) GD steps of the records (0 first). tau: (R,) ``τ₂ = η s²·step/(2 d_out²)``
        (:attr:`TwoLayerConfig.tau_per_step`).
      lams, seeds: (L,), (S,) the sweep's axes.
      train_loss: mean squared error on the training set, ``mean_i ‖f(x_i) − y_i‖²/d_out``.
      test_loss: the same on the ``n_test`` fresh test samples.
      gen_loss: exact population loss ``‖S0S1 − T0T1‖²_F/d_out`` (linear problems; NaN otherwise).
      train_acc, test_acc: (L, S, R, E) fraction of samples with squared error below each ε.
      weight_sq: (L, S, R, 2) ``‖S0‖²_F`` and ``‖S1‖²_F`` (Levi's ``h`` is their mean).
      readout_eigs: (L, S, d_out) eigenvalues of the initial readout Gram ``S1ᵀS1`` (their
        spread is what (T4) neglects, docs/theory.md §20.2).
    """

    step: np.ndarray
    tau: np.ndarray
    lams: np.ndarray
    seeds: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    gen_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    weight_sq: np.ndarray
    readout_eigs: np.ndarray

    @property
    def d0_sq(self) -> np.ndarray:
        """(L, S) ``‖D0‖²`` of each run, ``d_out·L_gen(0)``: exact for linear problems, the test
        set's estimate (``d_out·test_loss(0)``) otherwise."""
        d_out = self.readout_eigs.shape[-1]
        exact = self.gen_loss[..., 0]
        return d_out * np.where(np.isfinite(exact), exact, self.test_loss[..., 0])


def _activation(name: str) -> tuple[Callable, Callable]:
    """``(σ, σ')`` of an activation name."""
    if name == "linear":
        return (lambda z: z), jnp.ones_like
    return jnp.tanh, (lambda z: 1.0 - jnp.tanh(z) ** 2)


@float64
def forward(w0: Array, w1: Array, x: Array, activation: str) -> Array:
    """Network outputs ``σ(x w0) w1`` (N, d_out) of inputs ``x`` (N, d_in)."""
    return _activation(activation)[0](x @ w0) @ w1


@float64
def make_problem(key: Array, lam, cfg: TwoLayerConfig, n_max: int | None = None,
                 weight_scale=None) -> Problem:
    """Draw teacher, student, ``round(d_in/λ)`` training inputs (padded to ``n_max``), test set.

    Keys: ``k_weights, k_train, k_test = split(key, 3)``. The four weight matrices come from one
    standard-normal draw of ``k_weights`` (teacher's layers, then the student's); input row ``i``
    from ``fold_in(k_train, i)`` (test row ``j``: ``fold_in(k_test, j)``), so a λ's data do not
    depend on the padding and a smaller λ's training set extends a larger one's. (Two draws
    rather than one per array: each distinct draw costs about a second of XLA compilation on
    a CPU.) Jittable and vmappable in ``key``, ``lam`` and ``weight_scale`` (default
    ``cfg.weight_scale``).
    """
    n_max = cfg.n_max if n_max is None else n_max
    weight_scale = cfg.weight_scale if weight_scale is None else weight_scale
    k_weights, k_train, k_test = jax.random.split(key, 3)
    n0, n1 = cfg.d_in * cfg.d_h, cfg.d_h * cfg.d_out
    sd0 = weight_scale / math.sqrt(2.0 * cfg.d_in * cfg.d_h)
    sd1 = weight_scale / math.sqrt(2.0 * cfg.d_h * cfg.d_out)
    w = jax.random.normal(k_weights, (2, n0 + n1), jnp.float64)
    (t0, t1), (s0, s1) = ((sd0 * v[:n0].reshape(cfg.d_in, cfg.d_h),
                           sd1 * v[n0:].reshape(cfg.d_h, cfg.d_out)) for v in w)
    row_keys = jnp.concatenate([
        jax.vmap(partial(jax.random.fold_in, k_train))(jnp.arange(n_max)),
        jax.vmap(partial(jax.random.fold_in, k_test))(jnp.arange(cfg.n_test))])
    x = jax.vmap(lambda k: jax.random.normal(k, (cfg.d_in,), jnp.float64))(row_keys)
    n_train = jnp.maximum(jnp.round(cfg.d_in / jnp.asarray(lam, jnp.float64)), 1.0)
    mask = (jnp.arange(n_max) < n_train).astype(jnp.float64)
    return Problem(x_train=x[:n_max] * mask[:, None], mask=mask, n_train=n_train,
                   x_test=x[n_max:], teacher0=t0, teacher1=t1, student0=s0, student1=s1)


def _targets(problem: Problem, x: Array, cfg: TwoLayerConfig) -> Array:
    """Teacher outputs (N, d_out) of inputs ``x``."""
    if cfg.teacher == "linear" or cfg.linear:
        return x @ (problem.teacher0 @ problem.teacher1)
    return forward(problem.teacher0, problem.teacher1, x, cfg.activation)


def _record(problem: Problem, w0: Array, w1: Array, y_tr: Array, y_te: Array, eps: Array,
            cfg: TwoLayerConfig) -> tuple[Array, ...]:
    """Metrics of the weights ``(w0, w1)``: losses (scalars), accuracies (E,), norms (2,)."""
    err_tr = jnp.mean((forward(w0, w1, problem.x_train, cfg.activation) - y_tr) ** 2, axis=-1)
    err_te = jnp.mean((forward(w0, w1, problem.x_test, cfg.activation) - y_te) ** 2, axis=-1)
    below_tr = (err_tr[:, None] < eps) * problem.mask[:, None]
    if cfg.linear:
        gen = jnp.sum((w0 @ w1 - problem.teacher0 @ problem.teacher1) ** 2) / cfg.d_out
    else:
        gen = jnp.full((), jnp.nan)
    return (jnp.sum(err_tr * problem.mask) / problem.n_train, jnp.mean(err_te), gen,
            jnp.sum(below_tr, axis=0) / problem.n_train,
            jnp.mean((err_te[:, None] < eps).astype(jnp.float64), axis=0),
            jnp.stack([jnp.sum(w0**2), jnp.sum(w1**2)]))


def _rotate(problem: Problem) -> tuple[Problem, Array]:
    """The same problem in the eigenbasis ``P`` of ``Σ = XᵀX/N_tr`` (inputs ``xP``, first layers
    ``PᵀS0``, ``PᵀT0``), and ``Σ``'s eigenvalues (d_in,). Outputs, losses and weight norms are
    unchanged; in this basis ``ΣD`` is ``ν ⊙ D`` row by row."""
    nu, vecs = jnp.linalg.eigh(problem.x_train.T @ problem.x_train / problem.n_train)
    rotated = Problem(x_train=problem.x_train @ vecs, mask=problem.mask, n_train=problem.n_train,
                      x_test=problem.x_test @ vecs, teacher0=vecs.T @ problem.teacher0,
                      teacher1=problem.teacher1, student0=vecs.T @ problem.student0,
                      student1=problem.student1)
    return rotated, jnp.maximum(nu, 0.0)


def _gradient(problem: Problem, cfg: TwoLayerConfig, nu: Array | None = None) -> Callable:
    """``(w0, w1) -> (∇_{w0} L_tr, ∇_{w1} L_tr)`` of the training loss, by hand.

    Linear (``problem`` in ``Σ``'s eigenbasis, eigenvalues ``nu``): Gram form,
    ``G = (2/d_out) Σ D = (2/d_out) ν ⊙ D`` with ``D = w0 w1 − T``, ``∇w0 = G w1ᵀ``,
    ``∇w1 = w0ᵀ G`` (docs/theory.md §20 (T1)); ``O(d_in d_h d_out)`` a step. Otherwise from the
    data: with ``Z = X w0`` and residuals ``E = σ(Z) w1 − Y`` (masked), ``G = 2E/(N_tr d_out)``,
    ``∇w1 = σ(Z)ᵀ G``, ``∇w0 = Xᵀ[(G w1ᵀ) ⊙ σ'(Z)]``; ``O(N_tr d_in d_h)`` a step.
    """
    if cfg.linear:
        teacher = problem.teacher0 @ problem.teacher1
        scale = (2.0 / cfg.d_out) * nu[:, None]

        def grad(w0, w1):
            g = scale * (w0 @ w1 - teacher)
            return g @ w1.T, w0.T @ g

        return grad

    act, dact = _activation(cfg.activation)
    x = problem.x_train
    y = _targets(problem, x, cfg)
    scale = 2.0 / (problem.n_train * cfg.d_out)

    def grad(w0, w1):
        z = x @ w0
        g = scale * problem.mask[:, None] * (act(z) @ w1 - y)
        return x.T @ ((g @ w1.T) * dact(z)), act(z).T @ g

    return grad


def make_simulate(cfg: TwoLayerConfig, n_max: int | None = None) -> Callable:
    """A traceable ``run(key, hparams)`` for one ``(λ, seed)``: full-batch GD on ``(S0, S1)``.

    ``cfg`` fixes the shapes and the model (``d_in``, ``d_h``, ``d_out``, ``n_test``, the number
    of thresholds, ``activation``, ``teacher``); ``hparams`` carries the values a sweep may vary,
    as traced arrays: ``lam``, ``eta``, ``weight_scale``, ``train_readout`` (1.0, or 0.0 to
    freeze ``S1``), ``eps`` (E,) and the record steps ``steps`` (R,) (increasing). ``run`` draws
    :func:`make_problem` (padded to ``n_max``, default ``cfg.n_max``) and returns
    ``(train_loss (R,), test_loss (R,), gen_loss (R,), train_acc (R, E), test_acc (R, E),
    weight_sq (R, 2), readout_eigs (d_out,))``.
    A ``lax.scan`` over the records' segments, a ``fori_loop`` of GD steps inside each: memory
    is the records', whatever the number of steps. ``jax.jit(jax.vmap(run))`` runs many.
    """
    n_max = cfg.n_max if n_max is None else n_max

    def run(key, hparams):
        eta = hparams["eta"]
        problem = make_problem(key, hparams["lam"], cfg, n_max, hparams["weight_scale"])
        nu = None
        if cfg.linear:
            problem, nu = _rotate(problem)
        y_tr, y_te = _targets(problem, problem.x_train, cfg), _targets(problem, problem.x_test, cfg)
        grad = _gradient(problem, cfg, nu)

        def step(_, weights):
            w0, w1 = weights
            g0, g1 = grad(w0, w1)
            return w0 - eta * g0, w1 - (eta * hparams["train_readout"]) * g1

        def segment(weights, n):
            weights = jax.lax.fori_loop(0, n, step, weights)
            return weights, _record(problem, *weights, y_tr, y_te, hparams["eps"], cfg)

        lengths = jnp.diff(jnp.asarray(hparams["steps"]), prepend=0)
        _, out = jax.lax.scan(segment, (problem.student0, problem.student1), lengths)
        readout_eigs = jnp.linalg.eigvalsh(problem.student1.T @ problem.student1)
        return (*out, readout_eigs)

    return run


def _static(cfg: TwoLayerConfig) -> TwoLayerConfig:
    """``cfg`` with every traced hyper-parameter at a fixed value: the key of the compiled
    program, so that configurations differing only in them share one compilation."""
    return dataclasses.replace(cfg, lams=(1.0,), seeds=(0,), eta=1e-6, eps=(1.0,) * len(cfg.eps),
                               weight_scale=1.0, steps=1, n_records=2, train_readout=True)


@functools.lru_cache(maxsize=16)
def _program(static: TwoLayerConfig, n_max: int) -> Callable:
    """``jit(vmap(run))`` over a flat batch of runs (keys and ``lam`` batched, the other
    hyper-parameters shared); cached per :func:`_static` configuration and padding."""
    in_axes = (0, {"lam": 0, "eta": None, "weight_scale": None, "train_readout": None, "eps": None,
                   "steps": None})
    return jax.jit(jax.vmap(make_simulate(static, n_max), in_axes=in_axes))


@float64
def simulate(cfg: TwoLayerConfig, steps=None) -> TwoLayerMetrics:
    """Run every ``(λ, seed)`` of ``cfg`` in one compiled, vmapped program.

    Args:
      cfg: the sweep. steps: record steps (R,), strictly increasing integers ``>= 0``
        (default ``cfg.records``).
    Returns:
      :class:`TwoLayerMetrics`, arrays ``(L, S, R)``.
    Raises:
      FloatingPointError: a loss became NaN or infinite (η beyond GD's stability).
    """
    steps = cfg.records if steps is None else np.asarray(steps)
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError(f"steps must have shape (R,); got {steps.shape}")
    require("steps", steps, lambda a: (a >= 0) & (a == np.round(a)), "integers >= 0")
    if np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be strictly increasing")
    lams = np.asarray(cfg.lams, dtype=np.float64)
    seeds = np.asarray(cfg.seeds, dtype=np.int64)
    keys = jax.vmap(jax.random.key)(jnp.tile(jnp.asarray(seeds), lams.size))
    hparams = {"lam": jnp.repeat(jnp.asarray(lams), seeds.size), "eta": jnp.float64(cfg.eta),
               "weight_scale": jnp.float64(cfg.weight_scale),
               "train_readout": jnp.float64(cfg.train_readout),
               "eps": jnp.asarray(cfg.eps, jnp.float64), "steps": jnp.asarray(steps, jnp.int64)}
    out = _program(_static(cfg), cfg.n_max)(keys, hparams)
    out = [np.asarray(a).reshape(lams.size, seeds.size, *a.shape[1:]) for a in out]
    train_loss, test_loss, gen_loss, train_acc, test_acc, weight_sq, readout_eigs = out
    if not (np.all(np.isfinite(train_loss)) and np.all(np.isfinite(test_loss))):
        raise FloatingPointError(f"a simulated loss became NaN or inf (eta = {cfg.eta:g})")
    return TwoLayerMetrics(step=steps, tau=cfg.tau_per_step * steps, lams=lams, seeds=seeds,
                           train_loss=train_loss, test_loss=test_loss, gen_loss=gen_loss,
                           train_acc=train_acc, test_acc=test_acc, weight_sq=weight_sq,
                           readout_eigs=readout_eigs)


# ---------------------------------------------------------------------------------------------
# Levi's mapping onto the one-layer theory (docs/theory.md §20 (T4)–(T5))
# ---------------------------------------------------------------------------------------------


def mapped_eta(cfg: TwoLayerConfig, s1_sq=None, s0_sq=0.0):
    """The package learning rate whose one-layer theory (at ``d_out``) is the two-layer one.

    ``η' = η (‖S1‖²/d_out + ‖S0‖²/d_in)`` (docs/theory.md §20 (T3)): ``‖S1‖²/d_out`` is the mean
    eigenvalue of the readout Gram ``S1ᵀS1``, ``‖S0‖²/d_in`` that of ``S0S0ᵀ`` (exact in the limit
    ``d_h → ∞``, where ``S0S0ᵀ → (‖S0‖²/d_in) I``). Levi keeps the first term at its initial mean
    ``‖S1‖² = weight_scale²/2`` and drops the second (``s0_sq = 0``, the default): ``η' = η/(2 d_out)``,
    so the one-layer clock ``η' t/d_out`` is his ``η t/(2 d_out²)``. Broadcasts in the norms.
    """
    s1_sq = cfg.weight_scale**2 / 2.0 if s1_sq is None else s1_sq
    return cfg.eta * (np.asarray(s1_sq, dtype=np.float64) / cfg.d_out
                      + np.asarray(s0_sq, dtype=np.float64) / cfg.d_in)


@float64
def mapped_losses(t, lam, cfg: TwoLayerConfig, d0_sq=1.0, *, form: str = "exact"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Levi's two-layer prediction ``(L_tr, L_gen)`` from the one-layer MP theory (T4).

    ``L(t) = ‖D0‖² · exp(theory.log_losses(t, λ, eta=η/(2 d_out), d_out=d_out, form=form))``,
    i.e. ``(‖D0‖²/d_out) ℒ⁽¹⁾(η t/(2 d_out²); λ)``: Levi eq. 19 with the package's ``1/d_out``
    (docs/theory.md §20.2). ``weight_scale = s`` puts ``s²`` into the rate (:func:`mapped_eta`).

    Args:
      t: GD steps ``>= 0`` (T,), increasing for the theory's fast whole-curve route.
      lam: scalar aspect ratio. cfg: the two-layer configuration (``eta``, ``d_out``,
        ``weight_scale``). d0_sq: ``‖D0‖²_F``, scalar or any shape (e.g.
        :attr:`TwoLayerMetrics.d0_sq`); 1 gives the normalised curves.
      form: a ``theory.FORMS`` form (``"exact"`` gradient flow, ``"discrete"`` GD).
    Returns:
      ``(L_tr, L_gen)``, shape ``d0_sq.shape + (T,)``.
    """
    t = np.asarray(t, dtype=np.float64)
    d0_sq = np.asarray(d0_sq, dtype=np.float64)
    require_finite_positive("d0_sq", d0_sq)
    log_tr, log_te = theory.log_losses(t, lam, eta=float(mapped_eta(cfg)), d_out=cfg.d_out,
                                       form=form)
    return d0_sq[..., None] * np.exp(log_tr), d0_sq[..., None] * np.exp(log_te)


@float64
def one_layer_losses(cfg: TwoLayerConfig, lam, seed: int, steps) -> tuple[np.ndarray, ...]:
    """The mapping at finite size: the one-layer model on the same draw at ``η' = η s²/(2 d_out)``.

    Exact discrete GD (:func:`simulator.simulate_spectral`) of a one-layer student ``S0S1`` and
    teacher ``T0T1`` (the draw of :func:`simulate` with ``jax.random.key(seed)``) on the same
    training and test inputs: what (T4) predicts for this ``Σ`` and ``D0`` without the
    Marchenko–Pastur average. Its difference from the two-layer run is the two-layer effect
    alone; its difference from (T4) is the one-layer finite-size effect (docs/theory.md §9).
    For ``tanh`` it is the linear counterpart of the draw.

    Returns:
      ``(train_loss, test_loss, gen_loss, train_acc (R, E), test_acc (R, E))`` at ``steps``.
    """
    require_finite_positive("lam", lam)
    problem = make_problem(jax.random.key(seed), lam, cfg, int(cfg.n_train(lam)))
    one = simulator.Problem(x_train=problem.x_train, mask=problem.mask, n_train=problem.n_train,
                            x_test=problem.x_test, teacher=problem.teacher0 @ problem.teacher1,
                            student=problem.student0 @ problem.student1)
    sim_cfg = simulator.SimConfig(d_in=cfg.d_in, d_out=cfg.d_out, eta=float(mapped_eta(cfg)),
                                  n_test=cfg.n_test, eps=cfg.eps)
    return simulator.simulate_spectral(one, np.asarray(steps), sim_cfg)


@float64
def linearized_losses(cfg: TwoLayerConfig, lam, seed: int, steps) -> tuple[np.ndarray, ...]:
    """Exact losses of the linearised (frozen-kernel) linear network of one run, by eigenmodes.

    Gradient descent on the network linearised at initialisation moves ``D = S0S1 − T`` by
    ``D ← D − (2η/d_out)(ΣD A + B ΣD)`` with ``A = S1ᵀS1``, ``B = S0S0ᵀ`` frozen at their initial
    values (docs/theory.md §20 (T6); ``B = 0`` when ``cfg.train_readout`` is False, where this is
    the trained network itself). In the eigenbasis ``U`` of ``A`` the output directions decouple:
    column ``k`` of ``DU`` obeys ``d ← (I − c P_k Σ) d``, ``P_k = a_k I + B``, ``c = 2η/d_out``.
    With ``P_k^{1/2} Σ P_k^{1/2} = V diag(μ) Vᵀ`` and ``z = Vᵀ P_k^{-1/2} d_0``, after ``n`` steps
    ``Σ``-norm² is ``Σ_i μ_i (1 − cμ_i)^{2n} z_i²`` and the norm² is ``wᵀ (Vᵀ P_k V) w`` with
    ``w = (1 − cμ)^n ⊙ z``. Same draw as :func:`simulate` (``jax.random.key(seed)``).

    Args:
      cfg: a linear configuration. lam: aspect ratio. seed: the run's seed. steps: (R,) steps.
    Returns:
      ``(train_loss (R,), gen_loss (R,))``, the package's normalisation (docs/theory.md (3)).
    """
    if not cfg.linear:
        raise ValueError("linearized_losses needs activation='linear'")
    require_finite_positive("lam", lam)
    problem = make_problem(jax.random.key(seed), lam, cfg, int(cfg.n_train(lam)))
    return _linearized(problem, jnp.asarray(steps, jnp.float64), cfg.eta, cfg.d_out,
                       cfg.train_readout)


@partial(jax.jit, static_argnames=("d_out", "train_readout"))
def _linearized(problem: Problem, steps: Array, eta, d_out: int, train_readout: bool):
    """:func:`linearized_losses` of one problem (JAX's ``eigh``: NumPy's LAPACK shares the CPU
    badly with JAX's thread pool)."""
    x, s0, s1 = problem.x_train, problem.student0, problem.student1
    sigma = x.T @ x / problem.n_train
    d0 = s0 @ s1 - problem.teacher0 @ problem.teacher1
    a, u = jnp.linalg.eigh(s1.T @ s1)
    b, q = jnp.linalg.eigh(s0 @ s0.T if train_readout else jnp.zeros_like(sigma))
    b = jnp.maximum(b, 0.0)
    c = 2.0 * eta / d_out
    train = jnp.zeros(steps.shape)
    gen = jnp.zeros(steps.shape)
    for k in range(d_out):
        root = (q * jnp.sqrt(a[k] + b)) @ q.T
        mu, v = jnp.linalg.eigh(root @ sigma @ root)
        mu = jnp.maximum(mu, 0.0)
        z = v.T @ jnp.linalg.solve(root, d0 @ u[:, k])
        w = (1.0 - c * mu) ** steps[:, None] * z  # (R, d_in)
        train = train + jnp.sum(mu * w**2, axis=1)
        gram = v.T @ ((q * (a[k] + b)) @ q.T) @ v
        gen = gen + jnp.sum((w @ gram) * w, axis=1)
    return train / d_out, gen / d_out


def accuracy_time(step: np.ndarray, acc: np.ndarray, level: float = 0.95) -> np.ndarray:
    """First step at which ``acc`` (..., R) reaches ``level``, interpolated linearly in ``log t``
    between the two records around it (the record itself when it is the first one); NaN where
    it never does."""
    step = np.asarray(step, dtype=np.float64)
    acc = np.asarray(acc, dtype=np.float64)
    above = acc >= level
    first = np.argmax(above, axis=-1)
    out = np.full(acc.shape[:-1], np.nan)
    for idx in np.ndindex(acc.shape[:-1]):
        if not above[idx].any():
            continue
        i = first[idx]
        if i == 0 or step[i - 1] <= 0:
            out[idx] = step[i]
            continue
        a0, a1 = acc[idx][i - 1], acc[idx][i]
        frac = (level - a0) / (a1 - a0)
        out[idx] = math.exp(math.log(step[i - 1]) + frac * math.log(step[i] / step[i - 1]))
    return out


REFERENCES = ("levi", "one_layer", "linearized", "linear")


@float64
def agreement(metrics: TwoLayerMetrics, cfg: TwoLayerConfig,
              windows: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0), level: float = 0.95,
              references: tuple[str, ...] = ("levi", "one_layer"),
              linear: TwoLayerMetrics | None = None) -> list[dict]:
    """A simulation against the mapped theory and finer references, per λ.

    Compared are the seed means of each run's loss divided by its own ``‖D0‖²``
    (:attr:`TwoLayerMetrics.d0_sq`, as docs/theory.md §9 does), for the train loss and the
    generalisation loss (``gen_loss`` where exact, else the test-set loss). References:

    * ``"levi"``: (T4), :func:`mapped_losses` with prefactor 1;
    * ``"one_layer"``: :func:`one_layer_losses` of each seed (the mapping without MP averaging);
    * ``"linearized"``: :func:`linearized_losses` of each seed (linear networks only);
    * ``"linear"``: the normalised seed means of ``linear``, a linear run of the same draws
      (to set ``tanh`` against ``σ = id``).

    For each window ``τ₂ ≤ w`` (:attr:`TwoLayerConfig.tau_per_step`) the maximum over records of
    ``|sim − ref|/ref``. And the steps at which the train and test accuracy at ``eps[0]`` reach
    ``level``: per seed from the records (:func:`accuracy_time`); from (T4) with each seed's
    ``‖D0‖²`` (``theory.jump_time`` at ``ε/‖D0‖²``, as the accuracy depends on ``ε/L`` only);
    from the one-layer runs' records when ``"one_layer"`` is a reference.

    Returns:
      one dict per λ: ``lam``, ``windows``, ``dev[(reference, which)]`` (W,) with ``which`` in
      ``("train", "gen")``, ``t95[(source, which)]`` (S,) steps with ``which`` in
      ``("train", "test")`` and ``source`` in ``("sim", "levi", "one_layer")``.
    """
    for ref in references:
        if ref not in REFERENCES:
            raise ValueError(f"references must be among {REFERENCES}; got {ref!r}")
    if "linear" in references and linear is None:
        raise ValueError("reference 'linear' needs the linear run's metrics (linear=...)")
    tau, d0 = metrics.tau, metrics.d0_sq
    eta_m = float(mapped_eta(cfg))
    rows = []
    for i, lam in enumerate(metrics.lams):
        exact = np.all(np.isfinite(metrics.gen_loss[i]))
        gen = metrics.gen_loss[i] if exact else metrics.test_loss[i]
        sim = {"train": np.mean(metrics.train_loss[i] / d0[i][:, None], axis=0),
               "gen": np.mean(gen / d0[i][:, None], axis=0)}
        refs = {}
        t95 = {("sim", "train"): accuracy_time(metrics.step, metrics.train_acc[i, ..., 0], level),
               ("sim", "test"): accuracy_time(metrics.step, metrics.test_acc[i, ..., 0], level)}
        for which in ("train", "test"):
            t95[("levi", which)] = np.array([float(theory.jump_time(
                level, lam, cfg.eps[0] / d, which=which, eta=eta_m, d_out=cfg.d_out))
                for d in d0[i]])
        if "levi" in references:
            refs["levi"] = dict(zip(("train", "gen"), mapped_losses(metrics.step, lam, cfg),
                                    strict=True))
        if "one_layer" in references:
            runs = [one_layer_losses(cfg, lam, int(s), metrics.step) for s in metrics.seeds]
            refs["one_layer"] = {
                "train": np.mean([r[0] / d for r, d in zip(runs, d0[i], strict=True)], axis=0),
                "gen": np.mean([(r[2] if exact else r[1]) / d
                                for r, d in zip(runs, d0[i], strict=True)], axis=0)}
            t95[("one_layer", "train")] = np.array([accuracy_time(metrics.step, r[3][:, 0], level)
                                                    for r in runs])
            t95[("one_layer", "test")] = np.array([accuracy_time(metrics.step, r[4][:, 0], level)
                                                   for r in runs])
        if "linearized" in references:
            runs = [linearized_losses(cfg, lam, int(s), metrics.step) for s in metrics.seeds]
            refs["linearized"] = {which: np.mean([r[j] / d for r, d in zip(runs, d0[i], strict=True)],
                                                 axis=0) for j, which in enumerate(("train", "gen"))}
        if "linear" in references:
            lin_d0 = linear.d0_sq[i][:, None]
            # The same kind of generalisation loss on both sides: the test set's for tanh (its
            # sampling noise then largely cancels, the inputs being the same).
            lin_gen = linear.gen_loss[i] if exact else linear.test_loss[i]
            refs["linear"] = {"train": np.mean(linear.train_loss[i] / lin_d0, axis=0),
                              "gen": np.mean(lin_gen / lin_d0, axis=0)}
        dev = {}
        for name, curves in refs.items():
            for which in ("train", "gen"):
                rel = np.abs(sim[which] - curves[which]) / curves[which]
                dev[(name, which)] = np.array([np.max(rel[tau <= w]) for w in windows])
        rows.append({"lam": float(lam), "windows": tuple(windows), "dev": dev, "t95": t95})
    return rows


def format_agreement(rows: list[dict], title: str = "") -> str:
    """A plain-text table of :func:`agreement`'s rows (percentages; median steps over seeds)."""
    lines = [title] if title else []
    for row in rows:
        head = " ".join(f"{'τ≤' + format(w, 'g'):>7s}" for w in row["windows"])
        lines.append(f"λ = {row['lam']:g}: max |sim − ref|/ref of the seed mean  {head}")
        for (name, which), dev in row["dev"].items():
            lines.append(f"  {name:10s} {which:5s}" + " " * 24
                         + " ".join(f"{100 * d:6.1f}%" for d in dev))
        for which in ("train", "test"):
            parts = []
            for source in ("sim", "levi", "one_layer"):
                t = row["t95"].get((source, which))
                if t is not None:
                    parts.append(f"{source} {np.nanmedian(t) if np.any(np.isfinite(t)) else np.nan:.4g}"
                                 f" ({np.sum(np.isfinite(t))}/{t.size})")
            lines.append(f"  steps to 95% {which} accuracy (median, seeds reaching): " + ", ".join(parts))
    return "\n".join(lines)
