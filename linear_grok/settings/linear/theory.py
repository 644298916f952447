"""Closed-form theory of the linear student-teacher model (Levi, Beck & Bar-Sinai, 2023).

Conventions (docs/theory.md §1): inputs ``x ~ N(0, I_{d_in})``, labels ``y = Tᵀx`` (optionally
``+ ξ`` on the training labels, ``ξ ~ N(0, σ_ξ²)`` per sample and output: ``label_noise``,
docs/theory.md §12.1), teacher and student entries of variance ``1/(2 d_in d_out)`` (the student's
scaled by ``init_scale``), loss averaged over samples *and* outputs with no ½, plain full-batch GD
``S ← S − η(∇L + γS)``.

Units: ``t`` is a number of GD steps and ``eta`` the learning rate; every formula uses the
dimensionless clock ``τ = η t / d_out`` (docs/theory.md (9')). Losses are returned in the units of the
simulator's ``jnp.mean((X @ S - Y)**2)``; the ``(1 − 1/λ)⁺`` plateau is included for ``λ > 1``.

Spectral averages are over the Marchenko–Pastur (MP) law of ``Σ = XᵀX/N_tr`` at ``λ = d_in/N_tr``
(docs/theory.md (7)), by Gauss–Legendre quadrature on the angle ``θ`` of docs/theory.md (8), on
panels that shrink geometrically towards both ends of ``[0, π]``. The panels resolve the
exponentially narrow peak at the lower bulk edge at any time up to ~1e12 steps, and the near-pole
of ``1/ν`` for ``λ → 1``.
Everything is computed in log space, so losses far below float64's range stay finite.

All functions are pure, jittable and broadcast over ``t`` and ``lam``. ``discrete``, ``gamma``
and ``label_noise`` select the formula and must be Python values (static under ``jax.jit``).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf, erfcx, gammainc, i1e, logsumexp

from linear_grok.precision import float64
from linear_grok.validation import require, require_nonnegative, require_positive

__all__ = ["one_minus_sqrt", "mp_edges", "mp_atom", "test_loss_plateau",
           "mp_density", "mp_expectation", "log_decay", "gd_stability_limit", "check_gd_stability",
           "log_train_loss", "log_test_loss", "train_loss", "test_loss", "log_train_loss_long_time",
           "log_test_loss_long_time", "accuracy", "effective_dof", "FORMS", "log_losses",
           "accuracy_curves", "jump_time", "accuracy_slope", "label_noise_limits"]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

_N_PANELS = 26  # geometric panels towards each end of [0, π]: resolves scales down to π·2^-27
_N_NODES = 16  # Gauss–Legendre nodes per panel

# Terms of 1 − √(πx)·erfcx(√x) = Σ_{k≥1} (−1)^{k+1} (2k−1)!! / (2x)^k, used for large x where
# the direct form cancels.
_ASYMPTOTIC_X = 1e3
_ASYMPTOTIC_TERMS = 7


def _quadrature_rule() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes ``θ`` on (0, π), ``sin²(θ/2)`` at them, and log weights of docs/theory.md (8).

    Returns arrays of shape ``(2 * (_N_PANELS + 1) * _N_NODES,)``: ``theta``, ``u = sin²(θ/2)``
    and ``log_w`` with ``E_cont[f] = Σ exp(log_w) f(ν(θ)) / ν(θ)``.
    """
    x, w = np.polynomial.legendre.leggauss(_N_NODES)
    half = np.pi / 2
    edges = np.concatenate([[0.0], half * 2.0 ** -np.arange(_N_PANELS, -1, -1.0)])
    lo, hi = edges[:-1, None], edges[1:, None]
    nodes = ((lo + hi) / 2 + (hi - lo) / 2 * x).ravel()
    weights = ((hi - lo) / 2 * w).ravel()
    # Mirror onto [π/2, π]; u = sin²(θ/2) there is cos²(θ'/2) of the mirrored node θ'.
    theta = np.concatenate([nodes, np.pi - nodes[::-1]])
    u = np.concatenate([np.sin(nodes / 2) ** 2, np.cos(nodes[::-1] / 2) ** 2])
    sin_theta = np.concatenate([np.sin(nodes), np.sin(nodes[::-1])])
    log_w = np.log(np.concatenate([weights, weights[::-1]])) + 2 * np.log(sin_theta)
    return theta, u, log_w + math.log(2 / np.pi)


_THETA, _U, _LOG_W = _quadrature_rule()


# ---------------------------------------------------------------------------------------------
# Marchenko–Pastur law (docs/theory.md §3)
# ---------------------------------------------------------------------------------------------


@float64
def one_minus_sqrt(lam: ArrayLike) -> Array:
    """``1 − √λ``, computed as ``(1 − λ)/(1 + √λ)`` to keep relative accuracy near ``λ = 1``."""
    lam = jnp.asarray(lam, dtype=jnp.float64)
    return (1.0 - lam) / (1.0 + jnp.sqrt(lam))


@float64
def mp_edges(lam: ArrayLike) -> tuple[Array, Array]:
    """Edges ``λ_± = (1 ± √λ)²`` of the MP bulk (docs/theory.md §0)."""
    lam = jnp.asarray(lam, dtype=jnp.float64)
    return one_minus_sqrt(lam) ** 2, (1.0 + jnp.sqrt(lam)) ** 2


@float64
def mp_atom(lam: ArrayLike) -> Array:
    """Mass ``(1 − 1/λ)⁺`` of the MP atom at ``ν = 0`` (docs/theory.md (7))."""
    lam = jnp.asarray(lam, dtype=jnp.float64)
    return jnp.maximum(0.0, 1.0 - 1.0 / lam)


@float64
def test_loss_plateau(lam, d_out=1, init_scale=1.0):
    """The λ > 1 test-loss plateau ``(1/d_out)(1 − 1/λ)⁺ (1 + α²)/2`` without weight decay
    (docs/theory.md (15)): the atom's modes never learn. NumPy in, NumPy out."""
    lam = np.asarray(lam, dtype=np.float64)
    return np.maximum(0.0, 1.0 - 1.0 / lam) * (1.0 + init_scale**2) / 2.0 / d_out


@float64
def mp_density(nu: ArrayLike, lam: ArrayLike) -> Array:
    """Continuous part of the MP density ``ρ_λ(ν)`` (docs/theory.md (7)); zero outside ``[λ_-, λ_+]``."""
    require_positive("lam", lam)
    nu = jnp.asarray(nu, dtype=jnp.float64)
    lam = jnp.asarray(lam, dtype=jnp.float64)
    lo, hi = mp_edges(lam)
    inside = (nu > lo) & (nu < hi)
    root = jnp.sqrt(jnp.where(inside, (hi - nu) * (nu - lo), 1.0))
    return jnp.where(inside, root / (2 * jnp.pi * lam * jnp.where(inside, nu, 1.0)), 0.0)


def _mp_nodes(lam: Array) -> tuple[Array, Array]:
    """Quadrature eigenvalues ``ν`` (shape ``lam.shape + (n_nodes,)``) and ``log(weight/ν)``."""
    lam = lam[..., None]
    nu = one_minus_sqrt(lam) ** 2 + 4.0 * jnp.sqrt(lam) * _U
    return nu, _LOG_W - jnp.log(nu)


def _log_mp_continuous(log_g, lam: Array) -> Array:
    """``log E_cont[g(ν)]`` over the continuous MP part, with ``g`` given by its log.

    Args:
      log_g: function of ``ν`` (shape ``lam.shape + (n_nodes,)``) returning ``log g(ν)``,
        broadcastable to that shape.
      lam: aspect ratio, any shape.
    """
    nu, log_w = _mp_nodes(lam)
    return logsumexp(log_w + log_g(nu), axis=-1)


@float64
def mp_expectation(f, lam: ArrayLike) -> Array:
    """``E_{ν~ρ_λ}[f(ν)]`` including the atom ``(1 − 1/λ)⁺ f(0)`` (docs/theory.md (7)–(8)).

    Args:
      f: vectorised function of ``ν``; it is called on an array of shape ``lam.shape + (n,)``
        and, for ``λ > 1``, at ``ν = 0``.
      lam: aspect ratio ``d_in / N_tr > 0``, any shape.
    Returns:
      array of ``lam``'s shape.
    """
    require_positive("lam", lam)
    lam = jnp.asarray(lam, dtype=jnp.float64)
    nu, log_w = _mp_nodes(lam)
    cont = jnp.sum(jnp.exp(log_w) * f(nu), axis=-1)
    atom = mp_atom(lam)
    return cont + jnp.where(atom > 0, atom * f(jnp.zeros_like(lam)), 0.0)


# ---------------------------------------------------------------------------------------------
# Exact losses (docs/theory.md (5), (9)–(11), (22))
# ---------------------------------------------------------------------------------------------


def _log_abs_sum(log_a: Array, log_b: Array, sign_b: Array) -> Array:
    """``log|e^{log_a} + sign_b·e^{log_b}|`` without overflow or underflow."""
    hi = jnp.maximum(log_a, log_b)
    lo = jnp.minimum(log_a, log_b)
    ratio = jnp.exp(lo - hi)
    return hi + jnp.where(sign_b > 0, jnp.log1p(ratio), jnp.log(-jnp.expm1(lo - hi)))


@float64
def log_decay(nu_s: Array, steps: Array, eta, gamma: float, discrete: bool):
    """``log|r^n|`` and ``sign(r^n)`` for one mode, ``r = 1 − 2ην_s − ηγ`` (docs/theory.md §11).

    ``nu_s = ν/d_out`` is the eigenvalue on the ``η/d_out`` clock. Gradient flow replaces
    ``r^n`` by ``exp(−ηn(2ν_s + γ))``.
    """
    if not discrete:
        return -eta * steps * (2.0 * nu_s + gamma), jnp.ones_like(nu_s)
    r = 1.0 - 2.0 * eta * nu_s - eta * gamma
    odd = jnp.mod(jnp.floor(steps), 2.0) == 1.0
    sign = jnp.where((r < 0) & odd, -1.0, 1.0)
    return steps * jnp.log(jnp.abs(r)), sign


def _log_mode_error(nu: Array, steps: Array, eta, d_out, gamma: float, init_scale, discrete):
    """log of the averaged squared error ``E‖D_n‖²`` of a mode ``ν`` (norm ``‖D_0‖² = 1``).

    With ``D_n = r^n S_0 − T (ν_s r^n + γ/2)/(ν_s + γ/2)`` and ``‖S_0‖² = α²/2``, ``‖T‖² = ½``:
    ``½[α² r^{2n} + ((ν_s r^n + γ/2)/(ν_s + γ/2))²]``. For ``γ = 0`` both terms are ``r^{2n}``.
    """
    nu_s = nu / d_out
    log_rn, sign = log_decay(nu_s, steps, eta, gamma, discrete)
    log_student = 2.0 * jnp.log(init_scale) + 2.0 * log_rn
    if gamma == 0.0:
        log_teacher = 2.0 * log_rn
    else:
        log_num = _log_abs_sum(jnp.log(gamma / 2.0), jnp.log(nu_s) + log_rn, sign)
        log_teacher = 2.0 * (log_num - jnp.log(nu_s + gamma / 2.0))
    return jnp.logaddexp(log_student, log_teacher) - math.log(2.0)


def _log_atom_error(steps: Array, eta, gamma: float, init_scale, discrete: bool) -> Array:
    """log of the squared error in the null space of ``Σ`` (``ν = 0``): ``½[α² r_0^{2n} + 1]``."""
    zero = jnp.zeros_like(steps)
    log_rn, _ = log_decay(zero, steps, eta, gamma, discrete)
    return jnp.logaddexp(2.0 * jnp.log(init_scale) + 2.0 * log_rn, 0.0) - math.log(2.0)


def _log_noise_train(steps: Array, lam: Array, eta, d_out, gamma: float, discrete: bool) -> Array:
    """log of the label-noise part of ``L_tr`` per unit ``σ_ξ²`` (docs/theory.md (27)):
    ``(1 − λ)⁺ + λ E_cont[((ν_s r^n + γ/2)/(ν_s + γ/2))²]`` (``r^{2n}`` for ``γ = 0``).

    ``steps``: shape ``lam.shape + (1,)``. The residual of the noise the student cannot fit
    (``N_tr − rank X`` directions) plus the not yet fitted part of the rest.
    """

    def log_g(nu):
        nu_s = nu / d_out
        log_rn, sign = log_decay(nu_s, steps, eta, gamma, discrete)
        if gamma == 0.0:
            return 2.0 * log_rn
        log_num = _log_abs_sum(jnp.log(gamma / 2.0), jnp.log(nu_s) + log_rn, sign)
        return 2.0 * (log_num - jnp.log(nu_s + gamma / 2.0))

    log_fitting = jnp.log(lam) + _log_mp_continuous(log_g, lam)
    unfit = jnp.maximum(0.0, 1.0 - lam)
    return jnp.where(unfit > 0, jnp.logaddexp(log_fitting, jnp.log(jnp.where(unfit > 0, unfit, 1.0))),
                     log_fitting)


def _log_noise_test(steps: Array, lam: Array, eta, d_out, gamma: float, discrete: bool) -> Array:
    """log of the label-noise part of ``L_gen`` per unit ``σ_ξ²`` (docs/theory.md (28)):
    ``λ E_cont[(1 − r^n)² ν_s² / (ν (ν_s + γ/2)²)]`` (``(1 − r^n)²/ν`` for ``γ = 0``): the noise
    the student has fitted so far. ``steps``: shape ``lam.shape + (1,)``.
    """

    def log_g(nu):
        nu_s = nu / d_out
        log_rn, sign = log_decay(nu_s, steps, eta, gamma, discrete)
        log_fitted = 2.0 * _log_abs_sum(jnp.zeros_like(log_rn), log_rn, -sign)  # log (1 − r^n)²
        return log_fitted + 2.0 * jnp.log(nu_s / (nu_s + gamma / 2.0)) - jnp.log(nu)

    return jnp.log(lam) + _log_mp_continuous(log_g, lam)


def _check_common(t, lam, eta, d_out, init_scale, gamma, label_noise=0.0) -> None:
    require_nonnegative("t", t)
    require_positive("lam", lam)
    require_positive("eta", eta)
    require("d_out", d_out, lambda a: a >= 1, ">= 1")
    require_positive("init_scale", init_scale)
    require_nonnegative("gamma", gamma)
    require_nonnegative("label_noise", label_noise)


@float64
def gd_stability_limit(lam, d_out=1, gamma: float = 0.0):
    """Largest stable full-batch GD learning rate on the MP bulk, ``2/(2λ₊/d_out + γ)``
    (``d_out/λ₊`` without weight decay; docs/theory.md (4)). NumPy, elementwise in ``lam``."""
    lam_plus = (1.0 + np.sqrt(np.maximum(np.asarray(lam, dtype=np.float64), 0.0))) ** 2
    return 2.0 / (2.0 * lam_plus / d_out + gamma)


@float64
def check_gd_stability(lam, eta, d_out=1, gamma: float = 0.0) -> None:
    """Raise unless full-batch GD is stable on the MP bulk: ``η < d_out/λ_+`` (docs/theory.md (4)).

    With weight decay the largest-mode factor is ``|1 − 2ηλ_+/d_out − ηγ| < 1``, i.e.
    ``η < 2/(2λ_+/d_out + γ)``.
    """
    if isinstance(eta, jax.core.Tracer) or isinstance(lam, jax.core.Tracer):
        return
    lam_max = float(np.max(np.asarray(lam, dtype=np.float64)))
    limit = float(gd_stability_limit(lam_max, float(np.min(d_out)), gamma))
    require("eta", eta, lambda a: a < limit,
            f"< {limit:.6g} for stable GD (d_out/λ₊ at lam = {lam_max:g}, gamma = {gamma:g})")


@float64
def log_train_loss(t: ArrayLike, lam: ArrayLike, *, eta=0.01, d_out=1, gamma: float = 0.0,
                   init_scale=1.0, discrete: bool = False, label_noise: float = 0.0) -> Array:
    """log of the MP-averaged training loss ``L_tr(t)``.

    Gradient flow with ``γ = 0`` uses the Bessel closed form docs/theory.md (10); otherwise MP quadrature
    of docs/theory.md (5)/(9)/(22) with ``q(ν) = ν``. ``discrete=True`` averages the exact discrete-GD
    factor ``(1 − 2ην/d_out − ηγ)^{2n}`` instead of its gradient-flow limit.

    Args:
      t: GD steps, ``>= 0``. lam: ``d_in/N_tr > 0``. Broadcast together.
      eta: learning rate ``> 0``. d_out: output dimension ``>= 1``. gamma: coupled weight decay.
      init_scale: student initialisation relative to the teacher's (1 in the paper).
      label_noise: variance ``σ_ξ² >= 0`` of Gaussian noise on each training label (per sample
        and output; a Python float, like ``gamma``). It adds docs/theory.md (27), in the loss's
        units; the loss is then measured against the noisy labels. ``0`` changes nothing.
    Returns:
      ``log L_tr`` with the broadcast shape of ``t`` and ``lam``.
    """
    _check_common(t, lam, eta, d_out, init_scale, gamma, label_noise)
    if discrete:
        check_gd_stability(lam, eta, d_out, gamma)
    t, lam = jnp.broadcast_arrays(jnp.asarray(t, jnp.float64), jnp.asarray(lam, jnp.float64))
    log_scale = -jnp.log(jnp.asarray(d_out, jnp.float64))
    steps = t[..., None]
    if not discrete and gamma == 0.0:
        log_loss = log_scale + jnp.log((1.0 + init_scale**2) / 2.0) + _log_bessel_train(
            eta * t / d_out, lam)
    else:
        log_err = lambda nu: jnp.log(nu) + _log_mode_error(  # noqa: E731
            nu, steps, eta, d_out, gamma, init_scale, discrete)
        log_loss = log_scale + _log_mp_continuous(log_err, lam)
    if label_noise == 0.0:
        return log_loss
    return jnp.logaddexp(log_loss, math.log(label_noise)
                         + _log_noise_train(steps, lam, eta, d_out, gamma, discrete))


def _log_bessel_train(tau: Array, lam: Array) -> Array:
    """log of docs/theory.md (10): ``e^{−4τ(1+λ)} I_1(8τ√λ)/(4τ√λ)``, via ``i1e`` (no overflow)."""
    z = 8.0 * tau * jnp.sqrt(lam)
    z_safe = jnp.where(z > 1e-6, z, 1.0)
    # I_1(z)/(z/2) = 1 + z²/8 + O(z⁴) for small z.
    log_ratio = jnp.where(z > 1e-6, jnp.log(i1e(z_safe)) - jnp.log(z_safe / 2.0), z**2 / 8.0)
    return log_ratio - 4.0 * tau * one_minus_sqrt(lam) ** 2


@float64
def log_test_loss(t: ArrayLike, lam: ArrayLike, *, eta=0.01, d_out=1, gamma: float = 0.0,
                  init_scale=1.0, discrete: bool = False, label_noise: float = 0.0) -> Array:
    """log of the MP-averaged generalisation (test) loss ``L_gen(t)``, plateau included.

    MP quadrature of docs/theory.md (5)/(9)/(22) with ``q(ν) = 1``, plus the atom: for ``γ = 0`` it
    contributes the plateau ``(1/d_out)(1 − 1/λ)⁺ (1 + α²)/2`` (docs/theory.md (15)). Arguments and
    shapes as :func:`log_train_loss`; test labels are noiseless, and ``label_noise > 0`` adds the
    noise the student has fitted, docs/theory.md (28) (``σ_ξ²λ/(1 − λ)`` at ``t → ∞`` for
    ``λ < 1``, (29)).
    """
    _check_common(t, lam, eta, d_out, init_scale, gamma, label_noise)
    if discrete:
        check_gd_stability(lam, eta, d_out, gamma)
    t, lam = jnp.broadcast_arrays(jnp.asarray(t, jnp.float64), jnp.asarray(lam, jnp.float64))
    steps = t[..., None]
    log_err = lambda nu: _log_mode_error(  # noqa: E731
        nu, steps, eta, d_out, gamma, init_scale, discrete)
    log_cont = _log_mp_continuous(log_err, lam)
    atom = mp_atom(lam)
    log_atom = jnp.log(jnp.where(atom > 0, atom, 1.0)) + _log_atom_error(
        t, eta, gamma, init_scale, discrete)
    log_total = jnp.where(atom > 0, jnp.logaddexp(log_cont, log_atom), log_cont)
    log_loss = log_total - jnp.log(jnp.asarray(d_out, jnp.float64))
    if label_noise == 0.0:
        return log_loss
    return jnp.logaddexp(log_loss, math.log(label_noise)
                         + _log_noise_test(steps, lam, eta, d_out, gamma, discrete))


@float64
def label_noise_limits(lam, label_noise: float):
    """``(L_tr(∞), L_gen(∞))`` contributed by label noise without weight decay (docs/theory.md (29)).

    Train: ``σ_ξ²(1 − λ)⁺`` (the noise outside the column space of ``X``). Test: the min-norm
    solution's fitted noise, ``σ_ξ²λ/(1 − λ)`` for ``λ < 1`` and ``σ_ξ²/(λ − 1)`` for ``λ > 1``
    (``inf`` at ``λ = 1``); add the noise-free limits (15) for the whole loss. Independent of
    ``d_out`` and ``init_scale``. NumPy, elementwise in ``lam``.
    """
    lam = np.asarray(lam, dtype=np.float64)
    require_positive("lam", lam)
    require_nonnegative("label_noise", label_noise)
    with np.errstate(divide="ignore"):
        test = np.where(lam < 1, lam / np.abs(1.0 - lam), 1.0 / np.abs(lam - 1.0))
    return label_noise * np.maximum(0.0, 1.0 - lam), label_noise * test


# ---------------------------------------------------------------------------------------------
# Whole curves on time grids: the test loss from the train loss by (11)
# ---------------------------------------------------------------------------------------------

# Gauss–Lobatto rule on [−1, 1] with 4 nodes: the two ends are grid points, whose ℒ_tr is known.
_LOBATTO_X = np.array([-1.0, -1.0 / math.sqrt(5.0), 1.0 / math.sqrt(5.0), 1.0])
_LOBATTO_W = np.array([1.0, 5.0, 5.0, 1.0]) / 6.0
# Largest change of log τ or of log(τ·ℒ_tr) across an interval that the rule integrates to
# ~1e-12 relative: its error on e^{δs}, s ∈ [0, 1], is ≈ 7e-7·δ⁶.
_GRID_MAX_CHANGE = 0.1
_GRID_ANCHORS = 32  # first points of each grid (coarsest in log τ) taken by direct quadrature
_GRID_BATCH = 128  # curves per step of the compiled map (~1 GB at 50 000 points each)


def _log_mp_test_continuous(tau: Array, lam: Array) -> Array:
    """``log E_cont[e^{−4τν}]``, the continuous MP part of ℒ_gen (docs/theory.md (9)), by direct
    quadrature; ``tau`` and ``lam`` broadcast."""
    return _log_mp_continuous(lambda nu: -4.0 * tau[..., None] * nu, lam)


def _segmented_reverse_logcumsumexp(values: Array, starts: Array) -> Array:
    """``out_i = log Σ_{j=i}^{a(i)} e^{values_j}`` along the last axis, with ``a(i)`` the first
    index ``≥ i`` where ``starts`` is True (the segment's anchor, whose value is taken as is)."""

    def combine(later, earlier):  # scanned from the end: ``later`` holds the sum already seen
        v_l, s_l = later
        v_e, s_e = earlier
        return jnp.where(s_e, v_e, jnp.logaddexp(v_l, v_e)), s_l | s_e

    flipped = (jnp.flip(values, -1), jnp.flip(starts, -1))
    out, _ = jax.lax.associative_scan(combine, flipped, axis=values.ndim - 1)
    return jnp.flip(out, -1)


@jax.jit
def _log_train_grids(tau: Array, lam: Array) -> Array:
    """``log ℒ_tr`` (10) on grids (C, T) with ``lam`` (C,). Its own program, so that the losses
    are stored once, not re-evaluated inside each consumer of the test loss's program."""
    return _log_bessel_train(tau, lam[:, None])


def _log_test_one_grid(tau: Array, lam: Array, log_tr: Array) -> tuple[Array, Array]:
    """Exact ``log ℒ_gen`` (T,) on one increasing grid ``tau`` (T,) from ``log ℒ_tr`` there, and
    whether every interval was resolved (scalar bool); ``d_out = 1``, ``α = 1``.

    ℒ_gen(τ_i) = atom + E_cont[e^{−4τ_i ν}] by (11): the continuous part at the last point and at
    the first ``_GRID_ANCHORS`` points (where a grid that starts near 0 is coarsest on the log
    axis) comes from direct MP quadrature; every other point adds ``4∫_{τ_i}^{τ_{i+1}} ℒ_tr``
    (Gauss–Lobatto in ``u = log τ``, where ``τ ℒ_tr`` varies slowly) to its right neighbour's
    value. All sums are of positive terms, in log space: no cancellation. Unresolved: an interval
    past the anchors changes ``log τ`` or ``log(τ ℒ_tr)`` by more than ``_GRID_MAX_CHANGE``.
    """
    n_anchor = min(_GRID_ANCHORS, tau.size - 1)
    u = jnp.log(tau)
    log_g = u + log_tr  # log of the integrand τ ℒ_tr on the u axis
    du = u[1:] - u[:-1]
    change = jnp.maximum(du, jnp.abs(log_g[1:] - log_g[:-1]))
    resolved = jnp.all(change[n_anchor:] <= _GRID_MAX_CHANGE)

    # 4∫ ℒ_tr dτ = 4∫ e^{u} ℒ_tr(e^{u}) du on each interval past the anchors, relative to the
    # integrand at the interval's left end (so the weighted sum is of O(1) numbers).
    u_lo, du_b, ref = u[n_anchor:-1], du[n_anchor:], log_g[n_anchor:-1]
    total = _LOBATTO_W[0] + _LOBATTO_W[3] * jnp.exp(log_g[n_anchor + 1:] - ref)
    for x, w in zip(_LOBATTO_X[1:3], _LOBATTO_W[1:3], strict=True):
        inner = u_lo + du_b * (1.0 + x) / 2.0
        total = total + w * jnp.exp(inner + _log_bessel_train(jnp.exp(inner), lam) - ref)
    log_piece = math.log(4.0 / 2.0) + jnp.log(du_b) + ref + jnp.log(total)

    at = jnp.append(jnp.arange(n_anchor), tau.size - 1)
    direct = _log_mp_test_continuous(tau[at], lam)
    values = jnp.concatenate([direct[:-1], log_piece, direct[-1:]])
    anchor = jnp.zeros(tau.shape, bool).at[at].set(True)
    log_cont = _segmented_reverse_logcumsumexp(values, anchor)
    atom = mp_atom(lam)
    log_gen = jnp.where(atom > 0, jnp.logaddexp(log_cont, jnp.log(jnp.where(atom > 0, atom, 1.0))),
                        log_cont)
    return log_gen, resolved


@jax.jit
def _log_test_grids(tau: Array, lam: Array, log_tr: Array) -> tuple[Array, Array]:
    """:func:`_log_test_one_grid` for curves (C, T), ``_GRID_BATCH`` at a time (bounded memory)."""
    return jax.lax.map(lambda a: _log_test_one_grid(*a), (tau, lam, log_tr),
                       batch_size=_GRID_BATCH)


def _is_grid(t: np.ndarray) -> bool:
    """Whether ``t``'s last axis is a time grid (≥ 2 points, strictly increasing)."""
    return t.ndim >= 1 and t.shape[-1] >= 2 and bool(np.all(np.diff(t, axis=-1) > 0))


def _log_losses_on_grids(t: np.ndarray, lam: np.ndarray, eta, d_out, init_scale):
    """Exact gradient-flow ``(log L_tr, log L_gen)`` on increasing grids ``t`` (..., T) with
    ``lam`` (...), by :func:`_log_test_one_grid`; curves with an interval too coarse for it fall
    back to direct quadrature at every point."""
    shape = t.shape
    tau = jnp.asarray((eta * t / d_out).reshape(-1, shape[-1]))
    lam = jnp.asarray(lam.reshape(-1))
    log_tr = _log_train_grids(tau, lam)
    log_gen, resolved = _log_test_grids(tau, lam, log_tr)
    if not np.all(resolved):
        bad = np.flatnonzero(~np.asarray(resolved))
        log_gen = log_gen.at[bad].set(_log_test_loss_direct(tau[bad], lam[bad][:, None]))
    log_scale = math.log((1.0 + init_scale**2) / 2.0) - math.log(d_out)
    return (log_tr + log_scale).reshape(shape), (log_gen + log_scale).reshape(shape)


@jax.jit
def _log_test_loss_direct(tau: Array, lam: Array) -> Array:
    """``log ℒ_gen`` by direct MP quadrature at every point (``d_out = 1``, ``α = 1``)."""
    atom = mp_atom(lam)
    log_cont = _log_mp_test_continuous(tau, lam)
    return jnp.where(atom > 0, jnp.logaddexp(log_cont, jnp.log(jnp.where(atom > 0, atom, 1.0))),
                     log_cont)


@float64
def train_loss(t: ArrayLike, lam: ArrayLike, **kwargs) -> Array:
    """MP-averaged training loss; ``exp`` of :func:`log_train_loss` (same arguments)."""
    return jnp.exp(log_train_loss(t, lam, **kwargs))


@float64
def test_loss(t: ArrayLike, lam: ArrayLike, **kwargs) -> Array:
    """MP-averaged test loss, plateau included; ``exp`` of :func:`log_test_loss`."""
    return jnp.exp(log_test_loss(t, lam, **kwargs))


test_loss.__test__ = False  # a library function, not a pytest test


# ---------------------------------------------------------------------------------------------
# Long-time closed forms (docs/theory.md (12)–(13)), gradient flow, γ = 0
# ---------------------------------------------------------------------------------------------


def _long_time_x(t, lam, eta, d_out) -> tuple[Array, Array]:
    tau = eta * jnp.asarray(t, jnp.float64) / d_out
    return tau, 4.0 * tau * one_minus_sqrt(lam) ** 2


@float64
def log_train_loss_long_time(t: ArrayLike, lam: ArrayLike, *, eta=0.01, d_out=1,
                             init_scale=1.0) -> Array:
    """log of docs/theory.md (12): ``ℒ_tr ≈ e^{−x}/(16√π λ^{3/4} τ^{3/2})``, ``x = 4τ(1−√λ)²``.

    Relative error ``≈ 3/(64√λ τ)``: valid for ``8√λ τ ≫ 1`` (``τ = ηt/d_out``). Shapes as
    :func:`log_train_loss`; ``t > 0``.
    """
    require_positive("t", t)
    _check_common(t, lam, eta, d_out, init_scale, 0.0)
    lam = jnp.asarray(lam, jnp.float64)
    tau, x = _long_time_x(t, lam, eta, d_out)
    return (jnp.log((1.0 + init_scale**2) / 2.0) - jnp.log(jnp.asarray(d_out, jnp.float64))
            - x - math.log(16.0 * math.sqrt(math.pi)) - 0.75 * jnp.log(lam) - 1.5 * jnp.log(tau))


def _log_one_minus_sqrt_pi_x_erfcx(x: Array) -> Array:
    """``log(1 − √(πx)·erfcx(√x))``: direct below ``x = 1e3``, asymptotic series above."""
    x_small = jnp.minimum(x, _ASYMPTOTIC_X)
    direct = jnp.log1p(-jnp.sqrt(jnp.pi * x_small) * erfcx(jnp.sqrt(x_small)))
    # Σ_{k≥1} (−1)^{k+1} (2k−1)!! s^k with s = 1/(2x), in Horner form (one division).
    s = 0.5 / jnp.maximum(x, _ASYMPTOTIC_X)
    series = jnp.ones_like(s)
    for k in range(_ASYMPTOTIC_TERMS, 1, -1):
        series = 1.0 - (2 * k - 1) * s * series
    return jnp.where(x < _ASYMPTOTIC_X, direct, jnp.log(s * series))


@float64
def log_test_loss_long_time(t: ArrayLike, lam: ArrayLike, *, eta=0.01, d_out=1, init_scale=1.0,
                            plateau: bool = True) -> Array:
    """log of docs/theory.md (13) (decaying part, with ``|1−√λ|``) plus the plateau ``(1−1/λ)⁺``.

    ``ℒ_gen − (1−1/λ)⁺ ≈ e^{−x}[1 − √(πx) erfcx(√x)]/(2√π λ^{3/4} √τ)``. ``plateau=False``
    drops the plateau, as the sharpness paper's Figure 1 does for ``λ > 1`` (docs/theory.md §13): that
    curve is *not* the model's test loss for ``λ > 1``.
    """
    require_positive("t", t)
    _check_common(t, lam, eta, d_out, init_scale, 0.0)
    lam = jnp.asarray(lam, jnp.float64)
    tau, x = _long_time_x(t, lam, eta, d_out)
    log_scale = jnp.log((1.0 + init_scale**2) / 2.0) - jnp.log(jnp.asarray(d_out, jnp.float64))
    log_decaying = (-x + _log_one_minus_sqrt_pi_x_erfcx(x) - math.log(2.0 * math.sqrt(math.pi))
                    - 0.75 * jnp.log(lam) - 0.5 * jnp.log(tau))
    if not plateau:
        return log_scale + log_decaying
    atom = mp_atom(lam)
    log_atom = jnp.log(jnp.where(atom > 0, atom, 1.0))
    return log_scale + jnp.where(atom > 0, jnp.logaddexp(log_decaying, log_atom), log_decaying)


# ---------------------------------------------------------------------------------------------
# Accuracy (docs/theory.md §8)
# ---------------------------------------------------------------------------------------------


@float64
def accuracy(loss: ArrayLike, eps, d_out=1) -> Array:
    """Probability that a sample's squared error ``‖Dᵀx‖²/d_out`` is below ``eps``.

    ``d_out = 1``: ``erf(√(ε/(2L)))`` (docs/theory.md (16)); otherwise the regularised lower incomplete
    gamma ``P(d_out/2, d_out ε/(2L))`` (docs/theory.md (17)). Pass ``d_out = effective_dof(DᵀD)`` for the
    moment-matched anisotropic form docs/theory.md (18). A loss that underflowed to 0 gives accuracy 1.

    Args:
      loss: mean loss ``L`` (same normalisation as the losses above), any shape, ``>= 0``.
      eps: threshold ``> 0``. d_out: degrees of freedom ``>= 1`` (may be fractional).
    """
    require_nonnegative("loss", loss)
    require_positive("eps", eps)
    require("d_out", d_out, lambda a: a >= 1, ">= 1")
    loss = jnp.asarray(loss, jnp.float64)
    if isinstance(d_out, int) and d_out == 1:
        return erf(jnp.sqrt(eps / (2.0 * loss)))
    return gammainc(d_out / 2.0, d_out * eps / (2.0 * loss))


@float64
def effective_dof(m: ArrayLike) -> Array:
    """Moment-matched degrees of freedom ``(Tr M)²/Tr(M²)`` of docs/theory.md (18), ``M = DᵀD``.

    Args:
      m: ``(..., d_out, d_out)`` positive semi-definite matrices.
    """
    m = jnp.asarray(m, jnp.float64)
    tr = jnp.trace(m, axis1=-2, axis2=-1)
    return tr**2 / jnp.sum(m * jnp.swapaxes(m, -1, -2), axis=(-2, -1))


# ---------------------------------------------------------------------------------------------
# Accuracy curves and jump times (docs/theory.md (21))
# ---------------------------------------------------------------------------------------------

FORMS = ("exact", "discrete", "long_time", "paper")


@float64
def log_losses(t: ArrayLike, lam: ArrayLike, *, form: str = "exact", eta=0.01, d_out=1,
               gamma: float = 0.0, init_scale=1.0, label_noise: float = 0.0
               ) -> tuple[Array, Array]:
    """``(log L_tr, log L_gen)`` by one of the theory's forms; shapes broadcast.

    Forms: ``"exact"`` gradient-flow MP; ``"discrete"`` discrete-GD MP; ``"long_time"``
    docs/theory.md (12)–(13) with the plateau; ``"paper"`` (12)–(13) without the plateau, as the
    sharpness paper's Figure 1 (only meaningful as a reproduction of that figure).

    For ``"exact"`` with ``γ = 0``, when ``t``'s last axis is an increasing time grid (curves
    ``(..., T)``, ``lam`` broadcasting against ``(...)``), L_gen comes from L_tr's closed form by
    docs/theory.md (11), cumulated along each grid (docs/theory.md §4–5): the same values, at a
    few Bessel evaluations per point instead of a ~900-node quadrature.

    ``label_noise`` (``σ_ξ²``, docs/theory.md §12.1): exact and discrete forms only, point by point.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}; got {form!r}")
    if (form == "exact" and gamma == 0.0 and label_noise == 0.0
            and not _is_tracer(t, lam, eta, init_scale)):
        t_np = np.asarray(t, dtype=np.float64)
        _check_common(t_np, lam, eta, d_out, init_scale, gamma)
        lam_np = np.asarray(lam, dtype=np.float64)
        if _is_grid(t_np) and (lam_np.ndim == 0 or lam_np.shape[-1] == 1):
            shape = np.broadcast_shapes(t_np.shape, lam_np.shape)
            curves_lam = np.broadcast_to(lam_np, shape[:-1] + (1,))[..., 0]
            return _log_losses_on_grids(np.broadcast_to(t_np, shape), curves_lam, eta, d_out,
                                        init_scale)
    _check_common(t, lam, eta, d_out, init_scale, gamma, label_noise)
    if form == "discrete":
        check_gd_stability(lam, eta, d_out, gamma)
    return _log_losses_compiled(t, lam, eta, init_scale, form=form, d_out=d_out, gamma=gamma,
                                label_noise=label_noise)


@partial(jax.jit, static_argnames=("form", "d_out", "gamma", "label_noise"))
def _log_losses_compiled(t, lam, eta, init_scale, *, form, d_out, gamma, label_noise=0.0):
    t, lam = jnp.asarray(t, jnp.float64), jnp.asarray(lam, jnp.float64)
    return _log_losses_pointwise(t, lam, form=form, eta=eta, d_out=d_out, gamma=gamma,
                                 init_scale=init_scale, label_noise=label_noise)


def _is_tracer(*values) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in values)


def _log_losses_pointwise(t, lam, *, form, eta, d_out, gamma, init_scale, label_noise=0.0):
    """:func:`log_losses` point by point (traceable)."""
    common = dict(eta=eta, d_out=d_out, init_scale=init_scale)
    if form in ("exact", "discrete"):
        exact = dict(common, gamma=gamma, discrete=form == "discrete")
        if label_noise != 0.0:
            exact["label_noise"] = label_noise
        return log_train_loss(t, lam, **exact), log_test_loss(t, lam, **exact)
    if gamma != 0.0:
        raise ValueError(f"gamma must be 0 for form={form!r} (long-time forms have no decay)")
    if label_noise != 0.0:
        raise ValueError(f"label_noise must be 0 for form={form!r} (long-time forms have no "
                         "label noise)")
    return (log_train_loss_long_time(t, lam, **common),
            log_test_loss_long_time(t, lam, plateau=form == "long_time", **common))


@float64
def accuracy_curves(t: ArrayLike, lam: ArrayLike, eps, *, form: str = "exact", eta=0.01,
                    d_out=1, gamma: float = 0.0, init_scale=1.0,
                    label_noise: float = 0.0) -> tuple[Array, Array]:
    """Train and test accuracy ``(A_tr, A_gen)`` at steps ``t``; arguments as :func:`log_losses`
    (whose grid route it takes for whole exact curves).

    With ``label_noise`` the train accuracy is measured against the noisy training labels (its
    ceiling is docs/theory.md (30)); the test labels are noiseless.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}; got {form!r}")
    _check_common(t, lam, eta, d_out, init_scale, gamma, label_noise)
    require_positive("eps", eps)
    if form == "discrete":
        check_gd_stability(lam, eta, d_out, gamma)
    if form == "exact" and gamma == 0.0 and label_noise == 0.0 and _is_grid(np.asarray(t)):
        log_tr, log_te = log_losses(t, lam, form=form, eta=eta, d_out=d_out, gamma=gamma,
                                    init_scale=init_scale)
        return _accuracy_from_log(log_tr, eps, d_out), _accuracy_from_log(log_te, eps, d_out)
    return _accuracy_curves(jnp.asarray(t, jnp.float64), jnp.asarray(lam, jnp.float64), eps, eta,
                            init_scale, form=form, d_out=d_out, gamma=gamma,
                            label_noise=label_noise)


@partial(jax.jit, static_argnames=("d_out",))
def _accuracy_from_log(log_loss, eps, d_out):
    return accuracy(jnp.exp(log_loss), eps, d_out)


@partial(jax.jit, static_argnames=("form", "d_out", "gamma", "label_noise"))
def _accuracy_curves(t, lam, eps, eta, init_scale, *, form, d_out, gamma, label_noise=0.0):
    """Pointwise, traceable :func:`accuracy_curves` (bisection and slopes)."""
    log_tr, log_te = _log_losses_pointwise(t, lam, form=form, eta=eta, d_out=d_out, gamma=gamma,
                                           init_scale=init_scale, label_noise=label_noise)
    return accuracy(jnp.exp(log_tr), eps, d_out), accuracy(jnp.exp(log_te), eps, d_out)


@float64
def jump_time(level: float, lam: ArrayLike, eps, *, which: str = "test", t_min: float = 1e-3,
              t_max: float = 1e14, n_iter: int = 80, form: str = "exact", eta=0.01, d_out=1,
              gamma: float = 0.0, init_scale=1.0, label_noise: float = 0.0) -> Array:
    """Steps at which the train or test accuracy first reaches ``level`` (docs/theory.md (21)).

    Bisection on ``log t``, vectorised over ``lam``: without label noise the accuracy is
    monotone in ``t``, for ``γ ≥ 0`` too (docs/theory.md §11). With ``label_noise > 0`` the test
    accuracy can rise and fall again as the student fits the noise (docs/theory.md §12.1), so the
    first crossing is bracketed on a log grid of ``_JUMP_SCAN`` points over ``[t_min, t_max]``
    first (a window above ``level`` narrower than one grid step, a factor
    ``(t_max/t_min)^{1/(_JUMP_SCAN−1)}``, can be missed). Returns ``inf`` where the level is
    never reached before ``t_max`` (e.g. ``λ > 1`` test accuracy below the plateau,
    docs/theory.md §7) and ``0`` where it is reached before ``t_min``.

    Args:
      level: accuracy in ``(0, 1)``. lam: any shape. eps: threshold (scalar or ``lam``'s shape).
      which: ``"train"`` or ``"test"``. form, eta, d_out, gamma, init_scale, label_noise: as
        :func:`log_losses`.
    Returns:
      steps, shape of ``lam``; relative precision ``log(t_max/t_min)·2^-n_iter``.
    """
    require("level", level, lambda a: (a > 0) & (a < 1), "in (0, 1)")
    if which not in ("train", "test"):
        raise ValueError(f"which must be 'train' or 'test'; got {which!r}")
    require_positive("t_min", t_min)
    require("t_max", t_max, lambda a: a > t_min, f"> t_min = {t_min}")
    accuracy_curves(t_min, lam, eps, form=form, eta=eta, d_out=d_out, gamma=gamma,
                    init_scale=init_scale, label_noise=label_noise)  # validates every argument
    return _jump_time(level, jnp.asarray(lam, jnp.float64), eps, t_min, t_max, eta, init_scale,
                      which=which, n_iter=n_iter, form=form, d_out=d_out, gamma=gamma,
                      label_noise=label_noise)


_JUMP_SCAN = 512  # log-grid points that bracket the first crossing when accuracy is not monotone


@partial(jax.jit, static_argnames=("which", "n_iter", "form", "d_out", "gamma", "label_noise"))
def _jump_time(level, lam, eps, t_min, t_max, eta, init_scale, *, which, n_iter, form, d_out,
               gamma, label_noise=0.0):
    index = 0 if which == "train" else 1

    def acc(t):
        return _accuracy_curves(t, lam, eps, eta, init_scale, form=form, d_out=d_out,
                                gamma=gamma, label_noise=label_noise)[index]

    if label_noise != 0.0:
        return _first_crossing(acc, level, lam.shape, t_min, t_max, n_iter)

    def body(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        above = acc(jnp.exp(mid)) >= level
        return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

    lo = jnp.full(lam.shape, jnp.log(t_min))
    hi = jnp.full(lam.shape, jnp.log(t_max))
    lo, hi = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    t_star = jnp.exp((lo + hi) / 2)
    t_star = jnp.where(acc(jnp.full(lam.shape, t_max)) < level, jnp.inf, t_star)
    return jnp.where(acc(jnp.full(lam.shape, t_min)) >= level, 0.0, t_star)


def _first_crossing(acc, level, shape, t_min, t_max, n_iter):
    """First ``t`` in ``[t_min, t_max]`` with ``acc(t) >= level`` for an accuracy that need not be
    monotone: the first of ``_JUMP_SCAN`` log-spaced points above ``level`` and its predecessor
    bracket it, then bisection on ``log t`` inside the bracket. ``inf`` if no point is above,
    ``0`` if ``t_min`` is."""
    u = jnp.linspace(0.0, 1.0, _JUMP_SCAN).reshape((_JUMP_SCAN,) + (1,) * len(shape))
    log_grid = jnp.log(t_min) + (jnp.log(t_max) - jnp.log(t_min)) * u * jnp.ones(shape)
    above = jax.lax.map(lambda log_t: acc(jnp.exp(log_t)) >= level, log_grid)
    first = jnp.argmax(above, axis=0)
    reached = jnp.any(above, axis=0)
    hi = jnp.take_along_axis(log_grid, first[None], axis=0)[0]
    lo = jnp.take_along_axis(log_grid, jnp.maximum(first - 1, 0)[None], axis=0)[0]

    def body(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        above = acc(jnp.exp(mid)) >= level
        return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

    lo, hi = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    t_star = jnp.where(reached, jnp.exp((lo + hi) / 2), jnp.inf)
    return jnp.where(reached & (first == 0), 0.0, t_star)


@float64
def accuracy_slope(t: ArrayLike, lam: ArrayLike, eps, *, which: str = "test",
                   form: str = "exact", eta=0.01, d_out=1, gamma: float = 0.0,
                   init_scale=1.0, label_noise: float = 0.0) -> Array:
    """``dA/dt`` (per step) of the train or test accuracy, by autodiff; shapes broadcast
    (``t > 0`` with ``label_noise``, whose fitted part has an infinite log-slope at ``t = 0``)."""
    if which not in ("train", "test"):
        raise ValueError(f"which must be 'train' or 'test'; got {which!r}")
    t, lam = jnp.broadcast_arrays(jnp.asarray(t, jnp.float64), jnp.asarray(lam, jnp.float64))
    accuracy_curves(t, lam, eps, form=form, eta=eta, d_out=d_out, gamma=gamma,
                    init_scale=init_scale, label_noise=label_noise)  # validates every argument
    slope = _accuracy_slope(t.ravel(), lam.ravel(), eps, eta, init_scale, which=which, form=form,
                            d_out=d_out, gamma=gamma, label_noise=label_noise)
    return slope.reshape(t.shape)


@partial(jax.jit, static_argnames=("which", "form", "d_out", "gamma", "label_noise"))
def _accuracy_slope(t, lam, eps, eta, init_scale, *, which, form, d_out, gamma, label_noise=0.0):
    index = 0 if which == "train" else 1

    def acc(t1, lam1):
        return _accuracy_curves(t1, lam1, eps, eta, init_scale, form=form, d_out=d_out,
                                gamma=gamma, label_noise=label_noise)[index]

    return jax.vmap(jax.grad(acc))(t, lam)
