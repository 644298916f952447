"""Modular arithmetic, the task on which grokking was found (Power et al. 2022): the data.

Every equation ``a ∘ b = c (mod p)`` with ``a, b ∈ {0, …, p − 1}`` (``b ≠ 0`` for division), for
``∘`` one of ``+``, ``−``, ``×``, ``÷`` (``a·b^{p−2}``, ``p`` prime). A seeded split puts the first
``⌊r·n⌋`` equations of a random permutation in the training set and the rest in the test set, as
Kumar et al.'s notebook splits ``p²`` pairs with ``randperm`` (``int(0.9·p²)`` training pairs).
Inputs come in two encodings: a pair of one-hot vectors ``[e_a, e_b]`` (``2p`` units, Kumar et
al.'s MLP) and the token sequence ``a ∘ b =`` (vocabulary ``p + 2``: the residues, then the
operator and ``=``; Power et al.'s and Notsawo et al.'s transformer). The answer is ``c``; the
accuracy of a model is that of the arg-max over its ``p`` outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.validation import require

__all__ = ["OPERATIONS", "ModularTask", "equations", "split", "one_hot_pairs", "tokens",
           "argmax_accuracy", "is_prime"]

OPERATIONS = ("+", "-", "*", "/")
Array = jax.Array


def is_prime(p: int) -> bool:
    """Whether ``p`` is prime (trial division; ``p`` is small)."""
    return p >= 2 and all(p % d for d in range(2, int(p**0.5) + 1))


@dataclass(frozen=True)
class ModularTask:
    """One modular-arithmetic task and its split.

    Attributes:
      p: the modulus, a prime in [3, 10007] (every residue but 0 then has an inverse).
      op: one of :data:`OPERATIONS`.
      train_fraction: the fraction ``r`` of all equations in the training set, in (0, 1).
    """

    p: int = 97
    op: str = "+"
    train_fraction: float = 0.3

    def __post_init__(self):
        require("p", self.p, lambda a: (a >= 3) & (a <= 10007) & (a == np.round(a)),
                "a whole number in [3, 10007]")
        if not is_prime(int(self.p)):
            raise ValueError(f"p must be prime; got {self.p}")
        if self.op not in OPERATIONS:
            raise ValueError(f"op must be one of {OPERATIONS}; got {self.op!r}")
        require("train_fraction", self.train_fraction, lambda a: (a > 0) & (a < 1), "in (0, 1)")
        if not 1 <= self.n_train < self.n_equations:
            raise ValueError(f"train_fraction = {self.train_fraction:g} leaves an empty training "
                             f"or test set of the {self.n_equations} equations")

    @property
    def n_equations(self) -> int:
        """``p²``, or ``p(p − 1)`` for division."""
        return self.p * (self.p - 1) if self.op == "/" else self.p**2

    @property
    def n_train(self) -> int:
        """``⌊r·n⌋`` training equations (Kumar et al.: ``int(alpha * p**2)``)."""
        return int(self.train_fraction * self.n_equations)


def equations(task: ModularTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every equation's ``a``, ``b`` and answer ``c`` (each (n,) int32), in the order
    ``a = i // p'``, ``b`` the rest (Kumar et al.'s ``i // p, i % p`` for ``p' = p``)."""
    p = task.p
    b_values = np.arange(1, p) if task.op == "/" else np.arange(p)
    a, b = (x.ravel() for x in np.meshgrid(np.arange(p), b_values, indexing="ij"))
    if task.op == "+":
        c = (a + b) % p
    elif task.op == "-":
        c = (a - b) % p
    elif task.op == "*":
        c = (a * b) % p
    else:  # Fermat: b^{p−2} is b's inverse mod a prime p
        c = (a * np.array([pow(int(x), p - 2, p) for x in b])) % p
    return a.astype(np.int32), b.astype(np.int32), c.astype(np.int32)


def split(task: ModularTask, key: Array) -> tuple[np.ndarray, np.ndarray]:
    """Training and test indices into :func:`equations` (``n_train`` and ``n − n_train``): the
    first ``n_train`` of ``jax.random.permutation(key, n)``, then the rest."""
    order = np.asarray(jax.random.permutation(key, task.n_equations))
    return order[:task.n_train], order[task.n_train:]


def one_hot_pairs(a, b, p: int) -> Array:
    """``[e_a, e_b]`` rows (n, 2p), float32 (Kumar et al.'s inputs)."""
    return jnp.concatenate([jax.nn.one_hot(a, p), jax.nn.one_hot(b, p)], axis=-1)


def tokens(a, b, p: int) -> Array:
    """The sequences ``a ∘ b =`` (n, 4), int32: residues are tokens ``0 … p − 1``, the operator
    ``p`` and ``=`` ``p + 1`` (vocabulary ``p + 2``); the answer is the next token."""
    a, b = jnp.asarray(a, jnp.int32), jnp.asarray(b, jnp.int32)
    op = jnp.full_like(a, p)
    eq = jnp.full_like(a, p + 1)
    return jnp.stack([a, op, b, eq], axis=-1)


def argmax_accuracy(logits: Array, c) -> Array:
    """Fraction of rows whose arg-max over the last axis (p outputs) is the answer ``c``: a count
    over the row count, in the default float type (the mean of booleans would be float32)."""
    hits = jnp.argmax(logits, axis=-1) == jnp.asarray(c)
    return jnp.sum(hits, axis=-1) / hits.shape[-1]
