"""S-curve families for accuracy curves: ``A(x) = c·S(a(x − b); θ) + d``.

Every family's unit curve ``S`` rises from −1 to +1 and crosses 0 at ``z = 0``, so in every family
``b`` is the time at which the fitted curve passes its midpoint ``d`` (the sharpness paper's jump
time), ``c`` is half the rise and ``d`` the midpoint; ``a > 0`` is a rate (1/time) and ``θ`` are
the family's shape parameters, if any. Families differ in their maximum slope for the same ``a``,
so the measures use the **erf-equivalent sharpness** ``a·max S'·√π/2``: the ``a`` of the erf curve
with the same maximum slope (for erf, ``a`` itself). Then ``2c·sharpness/√π`` is the fitted curve's
maximum slope in every family, and the sharpness paper's measures keep their meaning.

* ``erf`` (the sharpness paper's choice, docs/theory.md (S4)): ``S = erf(z)``; symmetric,
  Gaussian tails.
* ``logistic``: ``S = tanh(z/2) = 2σ(z) − 1``; symmetric, exponential tails.
* ``richards`` (generalised logistic, Richards 1959): ``S = 2(1 + ν e^{−(z + z_ν)})^{−1/ν} − 1``
  with ``z_ν = −log((2^ν − 1)/ν)``, which puts the midpoint at ``z = 0``. ``ν = 1`` is the
  logistic; the steepest point lies below the midpoint for ``ν < 1`` (a long, slow approach to the
  top; ``ν → 0`` is the Gompertz curve) and above it for ``ν > 1``. Fitted as ``log ν``.

A family is one :class:`SCurve` object: its unit curve (JAX), the maximum slope of the unit curve,
the ``z`` of its quarter level for starting values, its shape parameters with start and bounds,
and optionally an analytic Jacobian (otherwise JAX differentiates the unit curve). Adding a family
is adding one object to :data:`SHAPES`; the fitter (:mod:`linear_grok.fitting`) is shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf

from linear_grok.precision import float64

__all__ = ["SQRT_PI", "SCurve", "chance_to_cd", "ERF", "LOGISTIC", "RICHARDS", "SHAPES",
           "DEFAULT_SHAPE", "SHAPE_CHOICES", "check_shape_choice", "get_shape"]

Array = jax.Array
SQRT_PI = math.sqrt(math.pi)


@dataclass(frozen=True)
class SCurve:
    """One S-curve family (see the module docstring).

    Attributes:
      name: the family's name (``--shape`` value).
      unit: ``S(z, θ)``, JAX, elementwise in ``z``; ``θ`` is a (k,) array of the shape
        parameters in their fitted (log) form.
      max_unit_slope: ``max_z dS/dz`` as a function of ``θ`` (NumPy or JAX arrays, ``θ`` on the
        last axis).
      quarter: ``z`` where ``S = ½`` at the starting shape: the starting rate is
        ``2·quarter/(width between the accuracy levels d ± c/2)``.
      shape_names, shape_start, shape_bounds: names, starting values and bounds of ``θ``
        (fitted form).
      jacobian: optional ``(p, x) → (P, T)`` Jacobian of the model in ``p = (log a, b, c, d, θ)``;
        ``None`` differentiates :attr:`unit` with JAX.
    """

    name: str
    unit: Callable[[Array, Array], Array]
    max_unit_slope: Callable
    quarter: float
    shape_names: tuple[str, ...] = ()
    shape_start: tuple[float, ...] = ()
    shape_bounds: tuple[tuple[float, float], ...] = ()
    jacobian: Callable | None = None

    @property
    def n_params(self) -> int:
        """Parameters of the model: ``a, b, c, d`` and the shape parameters."""
        return 4 + len(self.shape_names)

    def model(self, p: Array, x: Array) -> Array:
        """``c·S(e^{p₀}(x − b); θ) + d`` at ``x`` (T,), for ``p = (log a, b, c, d, θ)``."""
        return p[2] * self.unit(jnp.exp(p[0]) * (x - p[1]), p[4:]) + p[3]

    def residuals_and_jacobian(self, p: Array, x: Array, y: Array) -> tuple[Array, Array]:
        """Residuals (T,) of the model against ``y`` and the Jacobian (P, T) in ``p``."""
        jac = (self.jacobian(p, x) if self.jacobian is not None
               else jax.jacfwd(self.model)(p, x).T)
        return self.model(p, x) - y, jac

    @float64
    def curve(self, x, a, b, c, d, shape=()) -> np.ndarray:
        """The fitted curve at ``x`` (NumPy; scalar parameters, ``shape`` in fitted form)."""
        p = jnp.asarray([math.log(a), b, c, d, *shape], dtype=jnp.float64)
        return np.asarray(self.model(p, jnp.asarray(x, dtype=jnp.float64)))

    def sharpness(self, a, shape=None):
        """Erf-equivalent sharpness ``a·max S'(θ)·√π/2`` (units of ``a``); ``shape`` (..., k)."""
        slope = self.max_unit_slope(np.zeros((0,)) if shape is None else np.asarray(shape))
        return np.asarray(a) * slope * SQRT_PI / 2.0


def chance_to_cd(chance: float) -> tuple[float, float]:
    """``(c, d)`` for accuracy running from ``chance`` to 1: ``c = (1 − chance)/2``, ``d = 1 − c``.

    ``chance = 0`` gives the linear model's ``c = d = ½``; ``chance = ½`` parity's ``¼, ¾``.
    """
    if not 0.0 <= chance < 1.0:
        raise ValueError(f"chance must be in [0, 1); got {chance!r}")
    c = (1.0 - chance) / 2.0
    return c, 1.0 - c


def _erf_jacobian(p: Array, x: Array) -> Array:
    """Analytic Jacobian (4, T) of ``c·erf(e^{la}(x − b)) + d`` in ``(la, b, c, d)``."""
    la, b, c, _ = p
    a = jnp.exp(la)
    z = a * (x - b)
    g = c * (2.0 / SQRT_PI) * jnp.exp(-(z**2))
    return jnp.stack([g * z, -g * a, erf(z), jnp.ones_like(x)])


def _richards_unit(z: Array, theta: Array) -> Array:
    log_nu = theta[0]
    nu = jnp.exp(log_nu)
    z_nu = -jnp.log(jnp.expm1(nu * math.log(2.0)) / nu)
    # log R = −softplus(log ν − u)/ν with u = z + z_ν: stable for any ν and z.
    return 2.0 * jnp.exp(-jax.nn.softplus(log_nu - (z + z_nu)) / nu) - 1.0


def _richards_max_slope(theta):
    # dR/du peaks at u = 0 with value (1 + ν)^{−(1+ν)/ν}; S = 2R − 1 doubles it.
    nu = np.exp(np.asarray(theta)[..., 0])
    return 2.0 * (1.0 + nu) ** (-(1.0 + nu) / nu)


ERF = SCurve(name="erf", unit=lambda z, _: erf(z), max_unit_slope=lambda _: 2.0 / SQRT_PI,
             quarter=0.4769362762044699,  # erfinv(½)
             jacobian=_erf_jacobian)
LOGISTIC = SCurve(name="logistic", unit=lambda z, _: jnp.tanh(z / 2.0),
                  max_unit_slope=lambda _: 0.5, quarter=math.log(3.0))  # tanh(ln3/2) = ½
RICHARDS = SCurve(name="richards", unit=_richards_unit, max_unit_slope=_richards_max_slope,
                  quarter=math.log(3.0),  # starts as the logistic, ν = 1
                  shape_names=("log_nu",), shape_start=(0.0,),
                  shape_bounds=((math.log(1e-3), math.log(1e2)),))
SHAPES: dict[str, SCurve] = {f.name: f for f in (ERF, LOGISTIC, RICHARDS)}
DEFAULT_SHAPE = ERF.name  # the sharpness paper's family, everywhere a family is not named
SHAPE_CHOICES = (*SHAPES, "auto")  # what a measurement accepts: a family, or the best by BIC


def check_shape_choice(shape: str) -> None:
    """A clear error unless ``shape`` is one of :data:`SHAPE_CHOICES`."""
    if shape not in SHAPE_CHOICES:
        raise ValueError(f"shape must be one of {', '.join(SHAPE_CHOICES)}; got {shape!r}")


def get_shape(shape: str | SCurve) -> SCurve:
    """The family named ``shape`` (or ``shape`` itself); a clear error for an unknown name."""
    if isinstance(shape, SCurve):
        return shape
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    return SHAPES[shape]
