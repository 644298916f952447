"""Phase diagrams of the grokking time (Levi, Beck & Bar-Sinai 2023, Fig. 4), from the exact theory.

For every point of a grid over two of ``(λ, d_out, γ)`` (the third held fixed) this computes the
steps ``t_train`` and ``t_test`` at which the train and test accuracy of the exact gradient-flow
Marchenko–Pastur theory first reach ``level``, the grokking time ``Δt = t_test − t_train``, and
whether the model groks at all.

**Model.** The per-mode error of docs/theory.md §11 ("any ``d_out``"), averaged over MP by
:func:`linear_grok.settings.linear.theory.mp_expectation` (the package's quadrature (8), atom
included): with ``ν_s = ν/d_out``, ``k = ν_s + γ/2`` and ``r = exp(−2ηt k)`` (gradient flow),

    E‖D_t‖² per mode = ½[α² r² + ((ν_s r + γ/2)/k)²],
    L_tr = E[ν · mode]/d_out,   L_gen = E[mode]/d_out,

which is docs/theory.md (9') for ``γ = 0`` and (22) at ``d_out = 1``; the null-space atom
(``λ > 1``) carries ``½[α² e^{−2ηγt} + 1]`` (its teacher part never moves). Accuracies are
docs/theory.md (17), ``P(d_out/2, d_out ε/(2L))`` (equal to the erf (16) at ``d_out = 1``).
Weight decay is coupled and *not* divided by ``d_out`` (docs/theory.md §11, §15 item 11).
``d_out`` may be fractional: every formula is analytic in it, and only integers are physical.
The theory module's own :func:`~linear_grok.settings.linear.theory.jump_time` compiles once per
``(d_out, γ)`` (both static there), which is why the kernel is written here with both traced.

**Level.** ``level = 0.95`` by default: Levi et al. place their markers at 95 % accuracy (their
Figs. 1–3; docs/theory.md §14). docs/theory.md §10 instead uses the loss level ``ε/4``, which is
the accuracy ``erf(√2) = 95.45 %`` at ``d_out = 1`` only; pass ``level=erf(√2)`` to reproduce
those times at ``d_out = 1`` (at ``d_out > 1`` no accuracy corresponds to a fixed loss level, so
an accuracy level is the one that means the same thing across a ``d_out`` axis).

**Grokking.** ``grok_time = t_test − t_train`` (``+inf`` where the test accuracy never reaches
the level while the train accuracy does; NaN where the train accuracy never does); ``groks``
where ``grok_time`` is finite and ``> 0``. Without weight decay the test accuracy saturates
below 95 % for ``λ`` above ``1 + 2.6·10⁻⁴`` at ``d_out = 1``, ``ε = 10⁻³`` (docs/theory.md §7); at
larger ``d_out`` the per-output plateau ``(1 − 1/λ)/d_out`` falls and ``λ > 1`` can reach the level.
With weight decay both accuracies saturate at their fixed-point values (docs/theory.md (23)).

**Crossings.** The accuracy (17) falls with the loss at fixed ``d_out``, so it reaches ``level``
exactly when the loss falls to ``L* = d_out ε/(2x*)``, ``P(d_out/2, x*) = level`` (``x*`` by
``scipy.special.gammaincinv``, once per point). Each time is the first root of
``log L(t) − log L*`` in ``[t_min, t_max]``: the first point of a log-spaced grid
(``points_per_decade``) at or below the target, then the ITP method (Oliveira & Takahashi, ACM TOMS
47:5, 2021: regula falsi kept within a shrinking neighbourhood of the bisection point) on ``log t``
inside the grid interval before it, to ``rtol`` in ``t``. ITP never needs more than one step beyond
bisection (37 with the defaults), and takes 7–10 on more than 99.5 % of the points of the three
default diagrams; the 37 are taken where a loss levels off just below its target (7 points of the
``(γ, λ)`` diagram). The train and test crossings of all points go through one compiled program:
a ``lax.scan`` over the grid, then one ``lax.while_loop``. ``python -m
benchmarks.phase_benchmark`` times the three 64 × 64 diagrams against per-point ``brentq`` on
scipy quadrature.

**Monotonicity.** In gradient flow every mode's error above decreases in ``t`` (``0 < r ≤ 1``, and
both terms grow with ``r``), so both losses fall and both accuracies rise, with or without weight
decay, and the first crossing is the only one. The code does not rely on it: it takes the first
crossing on the grid, and returns the largest rise of either log-loss between consecutive grid
points as ``max_rise`` (0 on every point of the three default diagrams) and ``monotone =
max_rise <= 1e-9``. A rise and fall narrower than the grid step would not be seen; the proof above
says there is none.

**Ranges** (:data:`FIG4_VALUES`, :func:`fig4_diagrams`). Levi et al.'s text was not available to
this module's author (not in ``shared/seeds``; only its Fig. 4 parameters ``η₀ = 0.01``,
``ε = 10⁻³`` are recorded in docs/theory.md §14), so the axis ranges are not checked against their
figure. They are chosen to cover the paper's other figures' values: ``λ ∈ (0, 2)`` (Fig. 1 uses
0.1, 0.9, 1.5), 64 midpoints ``(i + ½)/32`` so that no point sits on the singular ``λ = 1``;
``d_out`` from 1 to 1000, log-spaced (Fig. 2 uses 1, 50, 700); ``γ`` from ``10⁻⁶`` to ``10⁻¹``,
log-spaced (Fig. 3 uses 10⁻⁵, 10⁻³, 10⁻²). The fixed values default to ``λ = 0.9``, ``d_out = 1``,
``γ = 0`` (Figs. 2–3).

**What the diagrams show** (defaults; ``tests/test_phase.py`` asserts each). Wherever both times
are finite the test accuracy lags (``Δt > 0``). At ``d_out = 1`` no ``λ > 1`` groks; in the
``(d_out, λ)`` diagram ``λ > 1`` groks exactly where the plateau's accuracy
``P(d/2, d²ε/(2(1 − 1/λ)))`` exceeds the level (``d_out ≥ 24`` at ``λ = 1.016``); with weight
decay, exactly where the fixed-point losses' accuracies do (large ``γ`` stops first the test, then
also the train accuracy short of the level). Levi et al. report the grokking time at ``λ = 0.9``
peaking near ``d_out ≈ 50`` (their Fig. 2); in the exact theory the peak is at ``d_out = 26`` and
broad (within 10 % of its height from 12 to 55; 92 % at 50).

Units: ``t`` counts GD steps at learning rate ``eta``; the theory is gradient flow, so every time
scales exactly as ``1/eta`` (discrete GD at ``η = 0.01``, which the simulator runs, differs by 2–3 %
in the losses, docs/theory.md §2). Label noise is not modelled here.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from linear_grok.precision import float64
from linear_grok.settings.linear import theory
from linear_grok.validation import require, require_nonnegative, require_positive

__all__ = ["AXES", "FIG4_PAIRS", "FIG4_VALUES", "MONOTONE_TOLERANCE", "crossing_times", "fig4_values",
           "loss_at_level", "loss_curves", "accuracy_slopes", "phase_diagram", "fig4_diagrams"]

AXES = ("lam", "d_out", "gamma")
FIG4_PAIRS = (("gamma", "d_out"), ("gamma", "lam"), ("d_out", "lam"))  # (x, y) of each diagram


def fig4_values(n: int = 64) -> dict[str, np.ndarray]:
    """``n`` values per axis over the ranges of the module docstring (read-only arrays)."""
    values = {"lam": (np.arange(n) + 0.5) * 2.0 / n,
              "d_out": np.geomspace(1.0, 1000.0, n),
              "gamma": np.geomspace(1e-6, 1e-1, n)}
    for array in values.values():
        array.setflags(write=False)
    return values


FIG4_VALUES = fig4_values()  # 64 values per axis; see the module docstring for the ranges

MONOTONE_TOLERANCE = 1e-9  # largest rise of a log-loss between grid points still called monotone
_CHUNK = 8192  # crossings per compiled call (bounded memory: ~(chunk × 864) float64 per temporary)
_MIN_BUCKET = 256  # smallest padded batch, so that small calls share one compiled program


# ---------------------------------------------------------------------------------------------
# Kernel: losses and crossings with every parameter traced
# ---------------------------------------------------------------------------------------------


def _loss(t, lam, d_out, gamma, train, eta, init_scale):
    """Exact gradient-flow train (where ``train``) or test loss at steps ``t`` (docs/theory.md §11,
    any ``d_out``); every argument but ``eta`` of one shape ``(P,)``, traced.

    One loss per point rather than both: XLA fuses a single reduction over the quadrature nodes
    into one loop, while two reductions of the same per-node values cost about three times one.
    """

    def weighted_mode_error(nu):
        # ``nu``: ``(P, n_nodes)`` for the bulk, ``(P,)`` zeros for the atom.
        def expand(a):
            return a.reshape(a.shape + (1,) * (nu.ndim - a.ndim))

        tt, dd, gg, aa = expand(t), expand(d_out), expand(gamma), expand(init_scale)
        nu_s = nu / dd
        k = nu_s + gg / 2.0
        r = jnp.exp(-2.0 * eta * tt * k)
        # The atom without weight decay has k = 0: its teacher part never moves (ratio 1).
        teacher = jnp.where(k > 0, (nu_s * r + gg / 2.0) / jnp.where(k > 0, k, 1.0), 1.0)
        q = jnp.where(expand(train), nu, 1.0)  # q(ν) = ν for L_tr, 1 for L_gen
        return 0.5 * q * (aa**2 * r**2 + teacher**2)

    return theory.mp_expectation(weighted_mode_error, lam) / d_out


_LOG_FLOOR = -700.0  # log-losses are clipped here (float64 underflow) before root finding


@partial(jax.jit, static_argnames=("n_grid", "tol", "n_max"))
def _crossings(lam, d_out, gamma, train, log_target, eta, init_scale, log_t_min, log_t_max, *,
               n_grid, tol, n_max):
    """First step ``(P,)`` at which each point's train (where ``train``) or test loss falls to
    ``exp(log_target)``, the number of root-finding steps taken, and the largest rise of each
    point's log-loss between consecutive grid points."""
    log_grid = jnp.linspace(log_t_min, log_t_max, n_grid)

    def excess(log_t):  # log L − log L*, clipped where the loss underflowed
        loss = _loss(jnp.exp(log_t), lam, d_out, gamma, train, eta, init_scale)
        return jnp.maximum(jnp.log(loss), _LOG_FLOOR) - log_target

    # 1. The first point of a log-spaced grid at or below the target.
    def scan_step(carry, k):
        first, f_lo, f_hi, previous, rise = carry
        f = excess(jnp.full(lam.shape, log_grid[k]))
        new = (first == n_grid) & (f <= 0)
        first = jnp.where(new, k, first)
        f_lo = jnp.where(new, previous, f_lo)
        f_hi = jnp.where(new, f, f_hi)
        rise = jnp.maximum(rise, jnp.where(k > 0, f - previous, -jnp.inf))
        return (first, f_lo, f_hi, f, rise), None

    zeros = jnp.zeros(lam.shape)
    start = (jnp.full(lam.shape, n_grid), zeros, zeros, zeros, zeros - jnp.inf)
    (first, f_lo, f_hi, _, rise), _ = jax.lax.scan(scan_step, start, jnp.arange(n_grid))

    # 2. The ITP method (Oliveira & Takahashi 2021, ACM TOMS 47:5) on u = log t inside the grid
    # interval before that point: regula falsi, truncated towards and projected onto a shrinking
    # neighbourhood of the midpoint, so that no point needs more than one step beyond
    # bisection's n_half, while smooth f = log L − log L* converges superlinearly. The loop
    # stops when every bracket is narrower than 2·tol; ``n_max`` = n_half + 1 for the grid step.
    du = (log_t_max - log_t_min) / (n_grid - 1)

    def cond(state):
        j, a, b, *_ = state
        return (j < n_max) & jnp.any(b - a > 2.0 * tol)

    def body(state):
        j, a, b, fa, fb, count = state
        width = b - a
        x_half = (a + b) / 2.0
        r = tol * 2.0 ** (n_max - j) - width / 2.0
        # Truncation κ₁(b − a)², κ₁ = 0.2/du; at least tol/2, so that once regula falsi sits on
        # an end (its f at round-off) the next step still closes the bracket.
        delta = jnp.maximum(0.2 / du * width**2, tol / 2.0)
        x_f = (fb * a - fa * b) / jnp.where(fb != fa, fb - fa, -1.0)
        x_f = jnp.where(fb != fa, x_f, x_half)
        sigma = jnp.sign(x_half - x_f)
        x_t = jnp.where(delta <= jnp.abs(x_half - x_f), x_f + sigma * delta, x_half)
        x = jnp.where(jnp.abs(x_t - x_half) <= r, x_t, x_half - sigma * r)
        fx = excess(x)
        open_ = width > 2.0 * tol
        move_a = open_ & (fx > 0)
        move_b = open_ & (fx < 0)
        hit = open_ & (fx == 0)
        a, fa = jnp.where(move_a | hit, x, a), jnp.where(move_a, fx, fa)
        b, fb = jnp.where(move_b | hit, x, b), jnp.where(move_b, fx, fb)
        return j + 1, a, b, fa, fb, count + open_

    a = log_grid[jnp.clip(first - 1, 0, n_grid - 1)]
    b = log_grid[jnp.clip(first, 0, n_grid - 1)]
    a = jnp.where(f_hi == 0, b, a)  # the grid point is the root
    _, a, b, _, _, steps = jax.lax.while_loop(
        cond, body, (0, a, b, f_lo, f_hi, jnp.zeros(a.shape, jnp.int32)))
    t = jnp.where(first == 0, 0.0, jnp.where(first == n_grid, jnp.inf, jnp.exp((a + b) / 2.0)))
    return t, steps, rise


def _itp_steps(du: float, tol: float) -> int:
    """ITP's step bound ``n_half + n_0`` (``n_0 = 1``) for a bracket ``du`` and tolerance ``tol``."""
    return max(1, math.ceil(math.log2(du / (2.0 * tol)))) + 1


def _bucket(n: int) -> int:
    """Padded batch size: a power of two from ``_MIN_BUCKET`` up to ``_CHUNK``."""
    return min(_CHUNK, max(_MIN_BUCKET, 1 << (n - 1).bit_length()))


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _check(lam, d_out, gamma, eps, eta, level, init_scale, t_min, t_max, points_per_decade,
           rtol) -> None:
    require_positive("lam", lam)
    require("d_out", d_out, lambda a: np.isfinite(a) & (a >= 1), ">= 1 and finite")
    require_nonnegative("gamma", gamma)
    require("gamma", gamma, np.isfinite, "finite")
    require_positive("eps", eps)
    require_positive("eta", eta)
    require("level", level, lambda a: (a > 0) & (a < 1), "in (0, 1)")
    require_positive("init_scale", init_scale)
    require_positive("t_min", t_min)
    require("t_max", t_max, lambda a: np.isfinite(a) & (a > t_min), f"> t_min = {t_min:g}")
    require("points_per_decade", points_per_decade, lambda a: a >= 1, ">= 1")
    require("rtol", rtol, lambda a: (a >= 1e-15) & (a < 1), "in [1e-15, 1)")


@float64
def crossing_times(lam, d_out=1, gamma=0.0, *, eps=1e-3, eta=0.01, level=0.95, init_scale=1.0,
                   t_min=1e-3, t_max=1e14, points_per_decade=2, rtol=1e-11) -> dict[str, np.ndarray]:
    """Steps at which the exact theory's train and test accuracy first reach ``level``.

    Vectorised over points: ``lam``, ``d_out``, ``gamma``, ``eps`` and ``init_scale`` broadcast
    together, and the train and
    test crossings of all points go through one compiled program, 8192 crossings at a time (a
    batch is padded to a power of two, so that calls of similar size share the program).
    Gradient flow, exact MP theory, any ``d_out`` (see the module docstring).

    Args:
      lam: ``d_in/N_tr > 0``. d_out: output dimension ``>= 1`` (fractional allowed).
      gamma: coupled weight decay ``>= 0``. eps: accuracy threshold on a sample's squared error.
      eta: learning rate (times scale as ``1/eta``). level: accuracy in ``(0, 1)``.
      init_scale: student initialisation relative to the teacher's (``α``, 1 in the papers).
        ``eps`` and ``init_scale`` may vary by point, like ``lam``.
      t_min, t_max: the search window in steps; a level reached by ``t_min`` gives 0, one not
        reached by ``t_max`` gives ``inf``.
      points_per_decade: density of the log-time grid on which the first crossing is located.
      rtol: relative precision of each time (the losses' quadrature is good to ≈1e-12).
    Returns:
      dict of arrays of the broadcast shape: ``t_train``, ``t_test`` (steps), ``grok_time``
      (``t_test − t_train``; ``inf`` where only the train accuracy reaches the level, NaN where
      it never does), ``groks`` (``grok_time`` finite and ``> 0``), ``max_rise`` (largest rise of
      either log-loss between grid points, 0 if none), ``monotone`` (``max_rise <= 1e-9``) and
      ``root_steps`` (ITP steps of the slower of the two crossings).
    """
    _check(lam, d_out, gamma, eps, eta, level, init_scale, t_min, t_max, points_per_decade, rtol)
    lam, d_out, gamma, eps, init_scale = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (lam, d_out, gamma, eps, init_scale)))
    shape = lam.shape
    flat = [a.ravel() for a in (lam, d_out, gamma, init_scale)]
    n = flat[0].size
    log_target = np.log(loss_at_level(level, eps, d_out)).ravel()
    n_decades = math.log10(t_max / t_min)
    n_grid = max(2, int(math.ceil(n_decades * points_per_decade)) + 1)
    # Each point twice, as its train (first n) and its test (last n) crossing.
    lam2, d2, g2, a2, target2 = (np.concatenate([a, a]) for a in (*flat, log_target))
    train = np.arange(2 * n) < n
    n_max = _itp_steps(math.log(t_max / t_min) / (n_grid - 1), float(rtol))

    def kernel(lam_c, d_c, g_c, train_c, target_c, a_c):
        return _crossings(lam_c, d_c, g_c, train_c, target_c, eta, a_c, math.log(t_min),
                          math.log(t_max), n_grid=n_grid, tol=float(rtol), n_max=n_max)

    t_out, steps, rise = _chunked(kernel, (lam2, d2, g2, train, target2, a2))
    t_out, rise, steps = t_out.reshape(2, n), rise.reshape(2, n), steps.astype(np.int64).reshape(2, n)
    t_train, t_test = (a.reshape(shape) for a in t_out)
    with np.errstate(invalid="ignore"):
        grok_time = np.where(np.isfinite(t_train), t_test - t_train, np.nan)
        groks = np.isfinite(grok_time) & (grok_time > 0)
    max_rise = np.maximum(rise.max(axis=0), 0.0).reshape(shape)
    return {"t_train": t_train, "t_test": t_test, "grok_time": grok_time, "groks": groks,
            "max_rise": max_rise, "monotone": max_rise <= MONOTONE_TOLERANCE,
            "root_steps": steps.max(axis=0).reshape(shape)}


def loss_at_level(level, eps, d_out) -> np.ndarray:
    """The loss ``L* = d_out ε/(2x*)``, ``P(d_out/2, x*) = level``, at which the accuracy (17)
    equals ``level``: the accuracy falls with the loss at fixed ``d_out``, so it reaches ``level``
    exactly when the loss falls to ``L*``. Shapes broadcast."""
    d_out = np.asarray(d_out, dtype=np.float64)
    return d_out * np.asarray(eps, dtype=np.float64) / (2.0 * special.gammaincinv(d_out / 2.0,
                                                                                 level))


@float64
def loss_curves(t, lam, d_out=1, gamma=0.0, *, eta=0.01, init_scale=1.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Exact gradient-flow ``(L_tr, L_gen)`` at steps ``t`` by the kernel above, every parameter
    traced (one compiled program for any mix of ``λ``, ``d_out``, ``γ``, ``α``).

    Args:
      t: steps ``>= 0``, any shape. lam, d_out, gamma, init_scale: as :func:`crossing_times`;
        everything broadcasts together. eta: learning rate.
    Returns:
      the two losses (mean squared errors, docs/theory.md (3)), each of the broadcast shape.
    """
    _check(lam, d_out, gamma, 1.0, eta, 0.5, init_scale, 1.0, 2.0, 1, 1e-3)
    require_nonnegative("t", t)
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                   for a in (t, lam, d_out, gamma, init_scale)))
    train, test = (_chunked(partial(_losses_flat, eta=eta, train=train), arrays)
                   for train in (True, False))
    return train, test


@float64
def accuracy_slopes(t, lam, d_out=1, gamma=0.0, *, eps=1e-3, eta=0.01, init_scale=1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``dA/dt`` per step of the train and test accuracy (17) of the exact gradient-flow theory.

    ``A = P(d_out/2, x)`` with ``x = d_out ε/(2L)``, so ``dA/dt = −p(x)·x·d log L/dt`` with ``p`` the
    Gamma(``d_out/2``) density; ``d log L/dt`` by forward-mode autodiff of the kernel. Arguments as
    :func:`loss_curves`; ``eps`` broadcasts too. Returns two arrays of the broadcast shape.
    """
    _check(lam, d_out, gamma, eps, eta, 0.5, init_scale, 1.0, 2.0, 1, 1e-3)
    require_nonnegative("t", t)
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                   for a in (t, lam, d_out, gamma, init_scale)))
    d_out_b, eps_b = np.broadcast_arrays(arrays[2], np.asarray(eps, dtype=np.float64))
    out = []
    for train in (True, False):
        log_loss, dlog = _chunked(partial(_log_loss_and_slope_flat, eta=eta, train=train), arrays)
        x = d_out_b * eps_b / (2.0 * np.exp(log_loss))
        density = np.exp(special.xlogy(d_out_b / 2.0, x) - x - special.gammaln(d_out_b / 2.0))
        out.append(-density * dlog)  # p(x)·x·(−d log L/dt), with x·x^{d/2−1} = x^{d/2}
    return out[0], out[1]


def _chunked(kernel, arrays) -> tuple[np.ndarray, ...] | np.ndarray:
    """``kernel(*point_arrays)`` over the flattened points of ``arrays`` (one shape), ``_CHUNK``
    at a time in buckets padded with the chunk's first point, a valid point whose result is
    discarded (bounded memory, few compiled shapes). ``kernel`` returns one array or a tuple of
    arrays, each with one value per point; so does this, in the points' shape."""
    flat = [np.ravel(a) for a in arrays]
    n = flat[0].size
    outs = None
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        idx = np.concatenate([np.arange(start, stop),
                              np.full(_bucket(stop - start) - (stop - start), start)])
        result = kernel(*(jnp.asarray(a[idx]) for a in flat))
        parts = result if isinstance(result, tuple) else (result,)
        if outs is None:
            outs = [np.empty(n, dtype=np.asarray(r).dtype) for r in parts]
        for out, r in zip(outs, parts, strict=True):
            out[start:stop] = np.asarray(r)[:stop - start]
    shaped = tuple(o.reshape(np.shape(arrays[0])) for o in outs)
    return shaped if isinstance(result, tuple) else shaped[0]


@partial(jax.jit, static_argnames=("train",))
def _losses_flat(t, lam, d_out, gamma, init_scale, eta, train):
    return _loss(t, lam, d_out, gamma, jnp.full(t.shape, train), eta, init_scale)


@partial(jax.jit, static_argnames=("train",))
def _log_loss_and_slope_flat(t, lam, d_out, gamma, init_scale, eta, train):
    """``(log L, d log L/dt)`` per point, in one forward pass."""
    def log_loss(tt):
        return jnp.log(_loss(tt, lam, d_out, gamma, jnp.full(t.shape, train), eta, init_scale))

    # Each loss depends on its own t only: one forward pass with unit tangents is the gradient.
    return jax.jvp(log_loss, (t,), (jnp.ones_like(t),))


def phase_diagram(x_name: str, y_name: str, x_values, y_values, *, lam=0.9, d_out=1, gamma=0.0,
                  eps=1e-3, eta=0.01, level=0.95, init_scale=1.0,
                  **search) -> dict[str, np.ndarray]:
    """Grokking phase diagram over two of ``("lam", "d_out", "gamma")``, the third held at its
    keyword value (the keyword values of the two axes are ignored).

    Args:
      x_name, y_name: two different names from :data:`AXES`.
      x_values, y_values: 1-D values of each axis.
      lam, d_out, gamma, eps, eta, level, init_scale, **search (``t_min``, ``t_max``,
        ``points_per_decade``, ``rtol``): as :func:`crossing_times`.
    Returns:
      the arrays of :func:`crossing_times`, each shaped ``(len(y_values), len(x_values))`` (rows
      follow ``y``, as ``imshow`` draws them), plus ``x`` and ``y``, the axis values (float64).
    """
    for name, value in (("x_name", x_name), ("y_name", y_name)):
        if value not in AXES:
            raise ValueError(f"{name} must be one of {AXES}; got {value!r}")
    if x_name == y_name:
        raise ValueError(f"x_name and y_name must differ; both are {x_name!r}")
    x = np.asarray(x_values, dtype=np.float64)
    y = np.asarray(y_values, dtype=np.float64)
    for name, value in (("x_values", x), ("y_values", y)):
        if value.ndim != 1 or value.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array; got shape {value.shape}")
    grid_y, grid_x = np.meshgrid(y, x, indexing="ij")
    params = {"lam": lam, "d_out": d_out, "gamma": gamma, x_name: grid_x, y_name: grid_y}
    out = crossing_times(params["lam"], params["d_out"], params["gamma"], eps=eps, eta=eta,
                         level=level, init_scale=init_scale, **search)
    return dict(out, x=x, y=y)


def fig4_diagrams(n: int = 64, **kwargs) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """The three diagrams of Levi et al.'s Fig. 4 on ``n × n`` grids over the ranges of
    :data:`FIG4_VALUES` (the module docstring says where they come from): ``(γ, d_out)`` at
    ``λ = 0.9``, ``(γ, λ)`` at ``d_out = 1`` and ``(d_out, λ)`` at ``γ = 0`` (the fixed values of
    :func:`phase_diagram`, overridable through ``kwargs``). Keyed by ``(x_name, y_name)``."""
    values = fig4_values(n)
    return {(x, y): phase_diagram(x, y, values[x], values[y], **kwargs) for x, y in FIG4_PAIRS}
