"""The linear student-teacher model trained for real (docs/theory.md §1, §16).

Two engines with the same outputs:

* :func:`simulate_steps` runs GD (or minibatch SGD, or any optax optimiser) step by step as a
  ``lax.scan`` over the record schedule, a ``fori_loop`` inside each segment;
* :func:`simulate_spectral` evaluates the exact discrete-GD (or gradient-flow) state at any list
  of step counts from one eigendecomposition of ``Σ = XᵀX/N_tr``, so 1e8 steps cost no more than
  1e3 (docs/theory.md (5), §11).

Conventions: ``x ~ N(0, I)``, teacher and student entries ``N(0, 1/(2 d_in d_out))`` (student
times ``init_scale``), ``N_tr = round(d_in/λ)``, loss ``mean((XS − XT)²)`` over samples and
outputs (no ½), coupled weight decay ``S ← S − η(∇L + γS)``. A sample is correct when its
squared error ``‖(S−T)ᵀx‖²/d_out`` is below ``ε``. Time is in GD steps. Optional label noise:
training labels ``Tᵀx + ξ``, ``ξ ~ N(0, σ_ξ² I)`` per sample and output, drawn once with the
training set; test labels noiseless (docs/theory.md §12.1).

The training set is padded to a fixed number of rows and masked, so one compiled program serves
a whole λ sweep; :func:`simulate_sweep` vmaps it over the ``(λ, seed)`` runs and shards them over
every device JAX sees (``linear_grok.distributed``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from linear_grok import distributed
from linear_grok.optim import sgd_coupled_weight_decay
from linear_grok.precision import float64
from linear_grok.settings.linear import theory
from linear_grok.validation import require, require_positive

__all__ = ["SimulationDiverged", "SimConfig", "Problem", "Metrics", "test_inputs",
           "make_problem", "seed_keys", "record_schedule", "default_optimizer", "simulate_steps",
           "gram", "simulate_spectral", "ENGINES", "check_can_grok", "simulate_sweep"]

Array = jax.Array


class SimulationDiverged(FloatingPointError):
    """Raised when a simulated loss becomes NaN or infinite (a learning rate beyond stability)."""


@dataclass(frozen=True)
class SimConfig:
    """Model and training constants of one simulation (everything but λ and the key).

    Attributes:
      d_in, d_out: input and output dimensions.
      eta: learning rate per GD step. gamma: coupled weight decay.
      init_scale: student initialisation relative to the teacher's (1 in the papers).
      n_test: held-out test samples. eps: accuracy thresholds on the squared error.
      batch_size: ``None`` for full-batch GD; otherwise minibatch SGD (step engine only),
        sampling with replacement.
      label_noise: variance ``σ_ξ²`` of the Gaussian noise on each training label (per sample
        and output; the train loss and accuracy are measured against the noisy labels, the
        test set is noiseless). ``0`` draws no noise and leaves every result unchanged.
    """

    d_in: int = 400
    d_out: int = 1
    eta: float = 0.01
    gamma: float = 0.0
    init_scale: float = 1.0
    n_test: int = 2000
    eps: tuple[float, ...] = (1e-3,)
    batch_size: int | None = None
    label_noise: float = 0.0

    def __post_init__(self):
        require("d_in", self.d_in, lambda a: a >= 1, ">= 1")
        require("d_out", self.d_out, lambda a: a >= 1, ">= 1")
        require_positive("eta", self.eta)
        require("gamma", self.gamma, lambda a: a >= 0, ">= 0")
        require_positive("init_scale", self.init_scale)
        require("n_test", self.n_test, lambda a: a >= 1, ">= 1")
        require_positive("eps", np.asarray(self.eps))
        if self.batch_size is not None:
            require("batch_size", self.batch_size, lambda a: a >= 1, ">= 1")
        require("label_noise", self.label_noise, lambda a: a >= 0, ">= 0")

    def n_train(self, lam) -> np.ndarray:
        """Training-set size ``round(d_in/λ)`` (at least 1)."""
        return np.maximum(np.round(self.d_in / np.asarray(lam, dtype=np.float64)), 1).astype(int)


@partial(jax.tree_util.register_dataclass,
         data_fields=["x_train", "mask", "n_train", "x_test", "teacher", "student", "noise"],
         meta_fields=[])
@dataclass(frozen=True)
class Problem:
    """One draw of data and initialisation.

    Attributes:
      x_train: (N_max, d_in) inputs; rows ``>= n_train`` are zero and masked out.
      mask: (N_max,) 1.0 on real training rows. n_train: scalar number of real rows.
      x_test: (n_test, d_in). teacher, student: (d_in, d_out) teacher and initial student.
      noise: (N_max, d_out) noise ``ξ`` on the training labels ``Tᵀx + ξ`` (zero on padded rows),
        or ``None`` without label noise.
    """

    x_train: Array
    mask: Array
    n_train: Array
    x_test: Array
    teacher: Array
    student: Array
    noise: Array | None = None


@dataclass(frozen=True)
class Metrics:
    """Recorded metrics; leading axes are the caller's batch axes, then records ``R``.

    Attributes:
      step: (R,) or (L, R) GD steps of the records. train_loss, test_loss: (..., R) mean
        squared error on the training set and on the held-out test set.
      gen_loss: (..., R) exact population loss ``‖S − T‖²_F/d_out`` (docs/theory.md (3)), free of
        test-set sampling noise.
      train_acc, test_acc: (..., R, E) fraction of samples with squared error below each ε.
    """

    step: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    gen_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray


@float64
def test_inputs(key: Array, cfg: SimConfig) -> Array:
    """The test inputs (n_test, d_in) of :func:`make_problem` for ``key``: they do not depend on
    λ, so a sweep draws them once per seed."""
    return jax.random.normal(jax.random.split(key, 4)[3], (cfg.n_test, cfg.d_in), jnp.float64)


test_inputs.__test__ = False  # a library function, not a pytest test


@float64
def make_problem(key: Array, lam, cfg: SimConfig, n_max: int, x_test: Array | None = None
                 ) -> Problem:
    """Draw teacher, student, ``round(d_in/λ)`` training inputs (padded to ``n_max``), test set.

    Jittable and vmappable in ``key`` and ``lam``. The same key gives the same draw, whatever
    ``n_max``. ``x_test``: the key's :func:`test_inputs`, when already drawn. With
    ``cfg.label_noise > 0`` the labels' noise comes from a key of its own, split from the
    training key, so every other draw is the same as without noise.
    """
    k_teacher, k_student, k_train, _ = jax.random.split(key, 4)
    sigma = 1.0 / math.sqrt(2.0 * cfg.d_in * cfg.d_out)
    shape_w = (cfg.d_in, cfg.d_out)
    n_train = jnp.maximum(jnp.round(cfg.d_in / jnp.asarray(lam, jnp.float64)), 1.0)
    mask = (jnp.arange(n_max) < n_train).astype(jnp.float64)
    # One key per row, so a λ's data do not depend on the padding (the rest of the λ grid).
    row_keys = jax.vmap(partial(jax.random.fold_in, k_train))(jnp.arange(n_max))
    x_train = jax.vmap(lambda k: jax.random.normal(k, (cfg.d_in,), jnp.float64))(row_keys)
    x_train = x_train * mask[:, None]
    noise = None
    if cfg.label_noise > 0:
        k_noise = jax.random.split(k_train)[1]
        noise_keys = jax.vmap(partial(jax.random.fold_in, k_noise))(jnp.arange(n_max))
        noise = jax.vmap(lambda k: jax.random.normal(k, (cfg.d_out,), jnp.float64))(noise_keys)
        noise = math.sqrt(cfg.label_noise) * noise * mask[:, None]
    return Problem(
        x_train=x_train, mask=mask, n_train=n_train,
        x_test=test_inputs(key, cfg) if x_test is None else x_test,
        teacher=sigma * jax.random.normal(k_teacher, shape_w, jnp.float64),
        student=cfg.init_scale * sigma * jax.random.normal(k_student, shape_w, jnp.float64),
        noise=noise)


def seed_keys(seed) -> tuple[Array, Array]:
    """``(problem key, minibatch key)`` of a seed, as :func:`simulate_sweep` uses them."""
    k_problem, k_batch = jax.random.split(jax.random.key(seed))
    return k_problem, k_batch


def _per_sample_error(x: Array, delta: Array) -> Array:
    """Squared error ``‖Dᵀx‖²/d_out`` of each row of ``x`` (N,) for ``D = S − T``."""
    return jnp.mean((x @ delta) ** 2, axis=-1)


def _train_errors(problem: Problem, delta: Array) -> Array:
    """Squared error of each training row (N_max,) against its label, noisy or not."""
    if problem.noise is None:
        return _per_sample_error(problem.x_train, delta)
    return jnp.mean((problem.x_train @ delta - problem.noise) ** 2, axis=-1)


def _metrics(problem: Problem, delta: Array, eps: Array) -> tuple[Array, ...]:
    """Train/test/population loss (scalars) and train/test accuracy (E,) of ``delta = S − T``."""
    return _metrics_from_errors(problem, _train_errors(problem, delta),
                                _per_sample_error(problem.x_test, delta),
                                jnp.sum(delta**2) / delta.shape[-1], eps)


def _metrics_from_errors(problem: Problem, err_tr: Array, err_te: Array, gen_loss: Array,
                         eps: Array) -> tuple[Array, ...]:
    """:func:`_metrics` from the per-sample squared errors (N_max,), (n_test,) and the
    population loss."""
    below_tr = (err_tr[:, None] < eps) * problem.mask[:, None]
    return (jnp.sum(err_tr * problem.mask) / problem.n_train, jnp.mean(err_te), gen_loss,
            jnp.sum(below_tr, axis=0) / problem.n_train,
            # jnp.mean of booleans is float32 even with x64 on: the fraction is asked in float64.
            jnp.mean(err_te[:, None] < eps, axis=0, dtype=err_te.dtype))


def record_schedule(n_steps: int, n_records: int = 200, include_zero: bool = True) -> np.ndarray:
    """Log-spaced, strictly increasing integer steps up to ``n_steps`` (and 0 if asked)."""
    require("n_steps", n_steps, lambda a: a >= 1, ">= 1")
    steps = np.unique(np.round(np.logspace(0, math.log10(n_steps), n_records)).astype(np.int64))
    return np.concatenate([[0], steps]) if include_zero else steps


def _check_schedule(steps, n_lam: int) -> np.ndarray:
    """Validate record steps: (R,) shared, or (L, R) one schedule per λ; rows increasing."""
    steps = np.asarray(steps)
    if steps.ndim not in (1, 2) or steps.shape[-1] == 0:
        raise ValueError(f"steps must have shape (R,) or (L, R); got {steps.shape}")
    if steps.ndim == 2 and steps.shape[0] != n_lam:
        raise ValueError(f"steps of shape {steps.shape} needs one row per lam ({n_lam})")
    require("steps", steps, lambda a: (a >= 0) & (a == np.round(a)), "integers >= 0")
    if np.any(np.diff(steps, axis=-1) <= 0):
        raise ValueError("steps must be strictly increasing")
    return steps


def default_optimizer(cfg: SimConfig) -> optax.GradientTransformation:
    """SGD with coupled weight decay, ``S ← S − η(∇L + γS)`` (as PyTorch's SGD weight_decay)."""
    return sgd_coupled_weight_decay(cfg.eta, cfg.gamma)


@float64
def simulate_steps(problem: Problem, steps, cfg: SimConfig, key: Array | None = None,
                   optimizer: optax.GradientTransformation | None = None) -> tuple[Array, ...]:
    """Train step by step and record metrics at ``steps``.

    Args:
      problem: one draw (:func:`make_problem`). steps: (R,) increasing record steps (traced ok).
      cfg: constants. key: minibatch sampling key (needed only when ``cfg.batch_size``).
      optimizer: any optax transformation; default :func:`default_optimizer`.
    Returns:
      ``(train_loss (R,), test_loss (R,), gen_loss (R,), train_acc (R, E), test_acc (R, E))``.
    """
    opt = optimizer if optimizer is not None else default_optimizer(cfg)
    eps = jnp.asarray(cfg.eps, jnp.float64)
    key = jax.random.key(0) if key is None else key

    # Full batch: the exact gradient in Gram form, (2/d_out)·Σ(S − T) (docs/theory.md (4)), one
    # d_in×d_in product a step instead of two N×d_in ones. Minibatches: autodiff of their loss.
    sigma = problem.x_train.T @ problem.x_train / problem.n_train
    if problem.noise is not None:  # the labels' noise enters the gradient as −(2/d_out)·Xᵀξ/N
        noise_pull = problem.x_train.T @ problem.noise / problem.n_train

    def batch_loss(student, rows):
        return jnp.mean(_per_sample_error(rows, student - problem.teacher))

    def noisy_batch_loss(student, idx):
        return jnp.mean((problem.x_train[idx] @ (student - problem.teacher)
                         - problem.noise[idx]) ** 2)

    def step(_, carry):
        student, opt_state, key = carry
        if cfg.batch_size is None and problem.noise is None:
            grads = (2.0 / cfg.d_out) * (sigma @ (student - problem.teacher))
        elif cfg.batch_size is None:
            grads = (2.0 / cfg.d_out) * (sigma @ (student - problem.teacher) - noise_pull)
        else:
            key, k_batch = jax.random.split(key)
            idx = jax.random.randint(k_batch, (cfg.batch_size,), 0,
                                     problem.n_train.astype(jnp.int32))
            if problem.noise is None:
                grads = jax.grad(batch_loss)(student, problem.x_train[idx])
            else:
                grads = jax.grad(noisy_batch_loss)(student, idx)
        updates, opt_state = opt.update(grads, opt_state, student)
        return optax.apply_updates(student, updates), opt_state, key

    def segment(carry, n):
        carry = jax.lax.fori_loop(0, n, step, carry)
        return carry, _metrics(problem, carry[0] - problem.teacher, eps)

    steps = jnp.asarray(steps)
    lengths = jnp.diff(steps, prepend=0)
    init = (problem.student, opt.init(problem.student), key)
    _, out = jax.lax.scan(segment, init, lengths)
    return out


_RECORD_CHUNK = 64  # records evaluated together at most (one matrix product per block of modes)
# Bytes of residuals one run may hold per chunk of records: at large d_out a record's residuals
# ((N + n_test) × d_out) are tens of MB, and 64 of them per vmapped seed would not fit in memory.
_CHUNK_BYTES = 2**27


def record_chunk(n_rows: int, d_out: int, n_modes: int) -> int:
    """Records evaluated together by :func:`simulate_spectral`: at most ``_RECORD_CHUNK``, and few
    enough that the residuals of ``n_rows`` samples and the ``n_modes`` coefficients, each
    (·, records, d_out) float64, stay within ``_CHUNK_BYTES``."""
    per_record = 8 * (n_rows + n_modes) * d_out
    return int(min(_RECORD_CHUNK, max(1, _CHUNK_BYTES // per_record)))
_MODE_BLOCK = 32  # eigenmodes per matrix product
# A mode whose factor |r|^n is below e^-60 times the slowest mode's is left out of a record:
# its share of any error is far below float64 resolution.
_NEGLIGIBLE_LOG = -60.0
# Eigenvalues of Σ below this fraction of the largest count as its null space (λ > 1): exactly 0
# in exact arithmetic, ~1e-16 relative in float64.
_NULL_MODE = 1e-10


@float64
def gram(problem: Problem) -> Array:
    """``Σ = XᵀX/N_tr`` (d_in, d_in) of the real training rows."""
    return problem.x_train.T @ problem.x_train / problem.n_train


@float64
def simulate_spectral(problem: Problem, steps, cfg: SimConfig, flow: bool = False,
                      eig: tuple[Array, Array] | None = None, gamma=None) -> tuple[Array, ...]:
    """Exact full-batch GD (``flow=True``: gradient flow) at any step counts, by eigenmodes.

    With ``Σ = PνPᵀ`` and ``r = 1 − 2ην/d_out − ηγ`` per mode, ``D_n = P[r^n(C_0 − C_∞) + C_∞]``,
    ``C_0 = Pᵀ(S_0 − T)``, ``C_∞ = −(γ/2)/(ν/d_out + γ/2)·PᵀT`` (docs/theory.md (5), §11); with
    label noise ``C_∞`` also holds the fitted noise ``PᵀXᵀξ/(N d_out)/(ν/d_out + γ/2)`` (none in
    the null space of ``Σ`` when ``γ = 0``; docs/theory.md §12.1). The cost is
    one ``eigh`` and one rotation of the inputs, whatever the number of steps; then each record
    sums only the modes that have not decayed below float64 resolution next to the slowest one
    (at late records, a handful), :func:`record_chunk` records at a time.

    ``eig``: ``jnp.linalg.eigh(gram(problem))`` when already computed. ``gamma``: the weight
    decay as a (traced) value in place of ``cfg.gamma``, so that one compiled program serves every
    γ. Returns the same tuple as :func:`simulate_steps`.
    """
    eps = jnp.asarray(cfg.eps, jnp.float64)
    gamma = jnp.asarray(cfg.gamma if gamma is None else gamma, jnp.float64)
    decays = gamma > 0
    nu, vecs = jnp.linalg.eigh(gram(problem)) if eig is None else eig
    nu_s = jnp.maximum(nu, 0.0) / cfg.d_out
    decay = partial(theory.log_decay, eta=cfg.eta, gamma=gamma, discrete=not flow)
    # Slowest-decaying modes first, so that the modes a record needs are a prefix.
    order = jnp.argsort(-decay(nu_s, jnp.ones(()))[0])
    n_pad = -nu_s.size % _MODE_BLOCK
    nu_s = jnp.pad(nu_s[order], (0, n_pad))
    vecs = jnp.pad(vecs[:, order], ((0, 0), (0, n_pad)))  # zero columns: no contribution
    c_teacher = vecs.T @ problem.teacher
    # With decay every mode (the null space too) has the fixed point; without, none moves it.
    shrink = jnp.where(decays, nu_s + gamma / 2, 1.0)[:, None]
    c_inf = jnp.where(decays, -(gamma / 2) / shrink * c_teacher, 0.0)
    if problem.noise is not None:
        # The fixed point also fits the noise: (Σ/d_out + γ/2) D∞ = Xᵀξ/(N d_out) − (γ/2) T. Without
        # decay, the null space of Σ (and the padding) gets none: there Xᵀξ vanishes up to rounding.
        c_noise = vecs.T @ (problem.x_train.T @ problem.noise) / problem.n_train / cfg.d_out
        fitted = decays | (nu_s > _NULL_MODE * jnp.max(nu_s))
        c_inf = c_inf + jnp.where(fitted[:, None],
                                  c_noise / jnp.where(fitted, nu_s + gamma / 2, 1.0)[:, None], 0.0)
    c_free = vecs.T @ (problem.student - problem.teacher) - c_inf
    x_tr, x_te = problem.x_train @ vecs, problem.x_test @ vecs
    fixed_tr, fixed_te = x_tr @ c_inf, x_te @ c_inf  # (N, d_out): the part that never decays
    if problem.noise is not None:
        fixed_tr = fixed_tr - problem.noise  # the training residual is measured against XT + ξ
    log_r1 = decay(nu_s, jnp.ones(()))[0]
    log_r1 = jnp.where(jnp.arange(nu_s.size) < nu.size, log_r1, -jnp.inf)  # padding: never

    def chunk(ns):
        """Metrics at the records ``ns`` (C,), increasing."""
        log_rn, sign = decay(nu_s[:, None], ns[None, :])  # (modes, C)
        coef = (sign * jnp.exp(log_rn))[..., None] * c_free[:, None, :]  # (modes, C, d_out)
        needed = jnp.where(ns[0] > 0, jnp.sum(ns[0] * (log_r1 - log_r1[0]) > _NEGLIGIBLE_LOG),
                           nu.size)
        n_blocks = (needed + _MODE_BLOCK - 1) // _MODE_BLOCK

        def add_block(b, errs):
            start = b * _MODE_BLOCK
            block = jax.lax.dynamic_slice_in_dim(coef, start, _MODE_BLOCK).reshape(
                _MODE_BLOCK, -1)
            return tuple(e + jax.lax.dynamic_slice_in_dim(x, start, _MODE_BLOCK, axis=1) @ block
                         for e, x in zip(errs, (x_tr, x_te), strict=True))

        # zeros_like: the sums carry the inputs' type (per-device data inside shard_map).
        zeros = tuple(jnp.zeros_like(x, shape=(x.shape[0], coef[0].size)) for x in (x_tr, x_te))
        e_tr, e_te = jax.lax.fori_loop(0, n_blocks, add_block, zeros)
        shape = (ns.size, cfg.d_out)
        e_tr = e_tr.reshape(-1, *shape) + fixed_tr[:, None, :]
        e_te = e_te.reshape(-1, *shape) + fixed_te[:, None, :]
        gen = jnp.sum((coef + c_inf[:, None, :]) ** 2, axis=(0, 2)) / cfg.d_out
        return jax.vmap(partial(_metrics_from_errors, problem, eps=eps), in_axes=(1, 1, 0))(
            jnp.mean(e_tr**2, axis=-1), jnp.mean(e_te**2, axis=-1), gen)

    steps = jnp.asarray(steps, jnp.float64)
    n_records = steps.shape[0]
    size = record_chunk(x_tr.shape[0] + x_te.shape[0], cfg.d_out, nu_s.size)
    n_chunks = -(-n_records // size)
    padded = jnp.concatenate([steps, jnp.full(n_chunks * size - n_records, steps[-1])])
    out = jax.lax.map(chunk, padded.reshape(n_chunks, size))
    return tuple(o.reshape(n_chunks * size, *o.shape[2:])[:n_records] for o in out)


ENGINES = ("spectral", "flow", "steps")


@float64
def check_can_grok(lam, cfg: SimConfig, level: float = 0.5) -> None:
    """Warn when λ > 1 leaves a test-loss plateau that keeps test accuracy below ``level``."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    plateau = theory.test_loss_plateau(lam[lam > 1], cfg.d_out, cfg.init_scale)
    if plateau.size == 0:
        return
    best = np.asarray(theory.accuracy(plateau, max(cfg.eps), cfg.d_out))
    if np.any(best < level):
        worst = lam[lam > 1][np.argmin(best)]
        warnings.warn(
            f"lam = {worst:g} > 1 leaves a test-loss plateau (1 - 1/lam)/d_out far above "
            f"eps = {max(cfg.eps):g}: test accuracy saturates at {best.min():.3g} and the "
            "model cannot grok (docs/theory.md §7)", stacklevel=2)


@float64
def simulate_sweep(cfg: SimConfig, lams, seeds, steps, engine: str = "spectral",
                   optimizer: optax.GradientTransformation | None = None,
                   check_finite: bool = True, n_max: int | None = None,
                   devices=None) -> Metrics:
    """Simulate every ``(λ, seed)`` in one compiled, vmapped program.

    Args:
      cfg: constants. lams: (L,) aspect ratios ``> 0``. seeds: (S,) integer seeds; seed ``s``
        uses ``jax.random.key(s)`` for every λ (common random numbers across λ).
      steps: (R,) increasing record steps, or (L, R) one schedule per λ.
      engine: ``"spectral"`` (exact discrete GD), ``"flow"`` (exact gradient flow) or
        ``"steps"`` (step by step; any optimiser, SGD).
      optimizer: optax transformation for ``engine="steps"`` (default SGD + weight decay).
      check_finite: raise on a NaN/inf loss; ``False`` returns it for the caller to record.
      n_max: padded training-set size (default: the largest ``N_tr`` of ``lams``); pass the
        largest of a whole grid to reuse one compiled program across chunks of it.
      devices: devices to shard the ``(λ, seed)`` runs over (default: all, on every host).
    Returns:
      :class:`Metrics` with arrays ``(L, S, R)`` and ``(L, S, R, E)``.
    Raises:
      ValueError: bad λ, an unstable learning rate, or a bad schedule.
      SimulationDiverged: a NaN or infinite loss.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
    require_positive("lam", lams)
    steps = _check_schedule(steps, lams.size)
    if engine == "spectral" or (engine == "steps" and optimizer is None):
        theory.check_gd_stability(lams, cfg.eta, cfg.d_out, cfg.gamma)
    if engine != "steps" and cfg.batch_size is not None:
        raise ValueError("batch_size applies to engine='steps' only (the spectral engine is "
                         "exact full-batch GD)")
    check_can_grok(lams, cfg)
    n_max = int(cfg.n_train(lams).max()) if n_max is None else n_max
    require("n_max", n_max, lambda a: a >= cfg.n_train(lams).max(), ">= round(d_in/min(lams))")
    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    # One flat batch axis of (λ, seed) runs, sharded over the devices.
    n_lam, n_seed = lams.size, seeds.size
    run_steps = np.broadcast_to(steps if steps.ndim == 2 else steps[None], (n_lam, steps.shape[-1]))
    batch = {"lam": np.repeat(lams, n_seed), "seed": np.tile(seeds, n_lam),
             "seed_index": np.tile(np.arange(n_seed), n_lam),
             "steps": np.repeat(run_steps, n_seed, axis=0)}
    mesh = distributed.batch_mesh(devices)
    # The test inputs depend on the seed, d_in and n_test alone: drawn once per seed, shared by
    # its runs, by one compiled draw whatever the other fields.
    x_test = _test_sets(SimConfig(d_in=cfg.d_in, n_test=cfg.n_test), jnp.asarray(seeds))
    if engine != "steps":  # the spectral engines take γ as a value: one program for every γ
        batch["gamma"] = np.full(n_lam * n_seed, cfg.gamma)
        cfg = dataclasses.replace(cfg, gamma=0.0)
    out = _sweep_program(cfg, n_max, engine, optimizer, mesh)(
        distributed.shard_batch(batch, mesh), x_test)
    out = distributed.gather(out, n_lam * n_seed)
    train_loss, test_loss, gen_loss, train_acc, test_acc = (
        a.reshape(n_lam, n_seed, *a.shape[1:]) for a in out)
    if check_finite and not (np.all(np.isfinite(train_loss)) and np.all(np.isfinite(test_loss))):
        raise SimulationDiverged(
            f"a simulated loss became NaN or inf (eta = {cfg.eta:g}); lower eta below "
            f"d_out/lambda_max of the realised spectrum")
    return Metrics(step=steps, train_loss=train_loss, test_loss=test_loss, gen_loss=gen_loss,
                   train_acc=train_acc, test_acc=test_acc)


@functools.lru_cache(maxsize=16)
def _sweep_program(cfg: SimConfig, n_max: int, engine: str, optimizer, mesh):
    """One compiled program over a flat batch ``{"lam", "seed", "steps"}`` sharded on ``mesh``.

    Each device vmaps its runs; their eigendecompositions go one at a time where several CPU
    devices share a thread pool (:func:`distributed.lapack_batches_safe`). Cached per
    configuration.
    """

    def problem_of(run, x_test):
        return make_problem(seed_keys(run["seed"])[0], run["lam"], cfg, n_max,
                            x_test[run["seed_index"]])

    def runs(batch, x_test):
        problems = jax.vmap(problem_of, in_axes=(0, None))(batch, x_test)
        if engine == "steps":
            keys = jax.vmap(lambda seed: seed_keys(seed)[1])(batch["seed"])
            return jax.vmap(partial(simulate_steps, cfg=cfg, optimizer=optimizer))(
                problems, batch["steps"], key=keys)
        sigmas = jax.vmap(gram)(problems)
        eig = (jnp.linalg.eigh(sigmas) if distributed.lapack_batches_safe(mesh)
               else jax.lax.map(jnp.linalg.eigh, sigmas))
        return jax.vmap(partial(simulate_spectral, cfg=cfg, flow=engine == "flow"))(
            problems, batch["steps"], eig=eig, gamma=batch["gamma"])

    return distributed.per_device(runs, mesh, n_replicated=1)


@partial(jax.jit, static_argnums=0)
def _test_sets(cfg: SimConfig, seeds: Array) -> Array:
    """:func:`test_inputs` of each seed's problem key, (S, n_test, d_in)."""
    return jax.vmap(lambda s: test_inputs(seed_keys(s)[0], cfg))(seeds)
