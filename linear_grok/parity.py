"""The concealed-parity MLP: the sharpness paper's second setting (its §3.2), in JAX + optax.

Task: the parity of the first ``k`` of ``n`` random ±1 bits; the other ``n − k`` bits are
spurious ("concealment", Miller et al. 2023): more of them, larger grokking gap. Model: a
two-layer MLP ``n → hidden → 2`` with ReLU, a bias on the first layer only, Xavier-uniform weights,
cross-entropy, SGD with coupled weight decay (``θ ← θ − η(∇L + γθ)``, as PyTorch's SGD), batches
of 32 reshuffled every epoch (the last, smaller batch kept), accuracy on the full train and
validation sets after every epoch.

All runs of a sweep (input sizes × seeds) train together in one compiled, vmapped program:
inputs are zero-padded to the largest size and each run's first layer has its own fan-in; its
padded rows start at zero and, receiving zero gradient, stay there, so padding changes nothing
(``tests/test_parity.py`` checks this against unpadded training). The MLP runs in float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from linear_grok.validation import require, require_positive

Array = jax.Array
F32 = jnp.float32


@dataclass(frozen=True)
class ParityConfig:
    """Constants of the parity sweep (published values by default).

    Attributes:
      k: parity bits. n_train, n_val: sample counts. hidden: hidden width.
      lr, weight_decay: SGD learning rate and coupled weight decay. batch_size: minibatch size.
      epochs: training epochs. input_sizes: total input bits per run (k parity + spurious).
      seeds: one run per (input size, seed).
    """

    k: int = 3
    n_train: int = 750
    n_val: int = 250
    hidden: int = 1000
    lr: float = 1e-2
    weight_decay: float = 1e-2
    batch_size: int = 32
    epochs: int = 3000
    input_sizes: tuple[int, ...] = tuple(range(25, 46))
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self):
        require("k", self.k, lambda a: a >= 1, ">= 1")
        require("input_sizes", np.asarray(self.input_sizes), lambda a: a >= self.k, f">= k = {self.k}")
        for name in ("n_train", "n_val", "hidden", "batch_size", "epochs"):
            require(name, getattr(self, name), lambda a: a >= 1, ">= 1")
        require_positive("lr", self.lr)
        require("weight_decay", self.weight_decay, lambda a: a >= 0, ">= 0")

    @property
    def n_max(self) -> int:
        """Padded input width shared by all runs."""
        return max(self.input_sizes)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    @property
    def runs(self) -> list[tuple[int, int]]:
        """``(input_size, seed)`` of every run, in the order of the batch axis."""
        return [(n, s) for n in self.input_sizes for s in self.seeds]


def make_dataset(key: Array, n_inputs, cfg: ParityConfig) -> dict[str, Array]:
    """Train/validation split of random ±1 bit strings padded to ``cfg.n_max`` with zeros.

    Labels are 1 where the product of the first ``k`` bits is +1, else 0. Jittable and
    vmappable in ``key`` and ``n_inputs``.
    Returns ``x_train (n_train, n_max)``, ``y_train (n_train,)``, ``x_val``, ``y_val``.
    """
    n_total = cfg.n_train + cfg.n_val
    # One key per input bit: a run's data do not depend on the padding (other runs' sizes).
    column = lambda j: jax.random.bernoulli(jax.random.fold_in(key, j), 0.5, (n_total,))  # noqa: E731
    bits = jnp.where(jax.vmap(column, out_axes=1)(jnp.arange(cfg.n_max)), 1.0, -1.0).astype(F32)
    bits = bits * (jnp.arange(cfg.n_max) < n_inputs).astype(F32)
    labels = (jnp.prod(bits[:, :cfg.k], axis=1) > 0).astype(jnp.int32)
    return {"x_train": bits[:cfg.n_train], "y_train": labels[:cfg.n_train],
            "x_val": bits[cfg.n_train:], "y_val": labels[cfg.n_train:]}


def init_params(key: Array, n_inputs, cfg: ParityConfig) -> dict[str, Array]:
    """Xavier-uniform weights with fan-in ``n_inputs`` (rows beyond it zero), zero first bias."""
    k1, k2 = jax.random.split(key)
    lim1 = jnp.sqrt(6.0 / (n_inputs + cfg.hidden)).astype(F32)
    lim2 = math.sqrt(6.0 / (cfg.hidden + 2))
    rows = (jnp.arange(cfg.n_max) < n_inputs).astype(F32)[:, None]
    row = lambda j: jax.random.uniform(jax.random.fold_in(k1, j), (cfg.hidden,), F32, -1.0, 1.0)  # noqa: E731
    w1 = jax.vmap(row)(jnp.arange(cfg.n_max)) * lim1 * rows
    w2 = jax.random.uniform(k2, (cfg.hidden, 2), F32, -lim2, lim2)
    return {"w1": w1, "b1": jnp.zeros(cfg.hidden, F32), "w2": w2}


def logits(params: dict[str, Array], x: Array) -> Array:
    """MLP output (B, 2) for inputs (B, n)."""
    h = jax.nn.relu(x @ params["w1"][: x.shape[-1]] + params["b1"])
    return h @ params["w2"]


def _loss(params, x, y, weight):
    ce = optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y)
    return jnp.sum(ce * weight) / jnp.sum(weight)


def _evaluate(params, x, y) -> tuple[Array, Array]:
    out = logits(params, x)
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, y))
    return loss, jnp.mean(jnp.argmax(out, axis=-1) == y)


def optimizer(cfg: ParityConfig) -> optax.GradientTransformation:
    """SGD with coupled weight decay, as ``torch.optim.SGD(lr, weight_decay)``."""
    return optax.chain(optax.add_decayed_weights(cfg.weight_decay), optax.sgd(cfg.lr))


def init_state(key: Array, n_inputs, cfg: ParityConfig) -> dict:
    """Data, parameters, optimiser state and shuffling key of one run."""
    k_data, k_init, k_shuffle = jax.random.split(key, 3)
    params = init_params(k_init, n_inputs, cfg)
    return {"data": make_dataset(k_data, n_inputs, cfg), "params": params,
            "opt_state": optimizer(cfg).init(params), "key": k_shuffle}


def train_epochs(state: dict, cfg: ParityConfig, n_epochs: int) -> tuple[dict, dict[str, Array]]:
    """Run ``n_epochs`` epochs of one run; returns the new state and per-epoch metrics (E,)."""
    opt = optimizer(cfg)
    data = state["data"]
    n_batches, bs = cfg.batches_per_epoch, cfg.batch_size
    pad = n_batches * bs - cfg.n_train

    def batch_step(carry, idx_w):
        params, opt_state = carry
        idx, w = idx_w
        grads = jax.grad(_loss)(params, data["x_train"][idx], data["y_train"][idx], w)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    def epoch(carry, _):
        params, opt_state, key = carry
        key, k_perm = jax.random.split(key)
        # A fresh permutation each epoch; the last batch is the remainder (weights 0 on padding).
        perm = jnp.concatenate([jax.random.permutation(k_perm, cfg.n_train),
                                jnp.zeros(pad, jnp.int32)]).reshape(n_batches, bs)
        weight = (jnp.arange(n_batches * bs) < cfg.n_train).astype(F32).reshape(n_batches, bs)
        (params, opt_state), _ = jax.lax.scan(batch_step, (params, opt_state), (perm, weight))
        tr = _evaluate(params, data["x_train"], data["y_train"])
        va = _evaluate(params, data["x_val"], data["y_val"])
        return (params, opt_state, key), {"train_loss": tr[0], "train_acc": tr[1],
                                          "val_loss": va[0], "val_acc": va[1]}

    (params, opt_state, key), metrics = jax.lax.scan(
        epoch, (state["params"], state["opt_state"], state["key"]), None, length=n_epochs)
    return {**state, "params": params, "opt_state": opt_state, "key": key}, metrics


@partial(jax.jit, static_argnames=("cfg",))
def init_sweep(seeds: Array, input_sizes: Array, cfg: ParityConfig) -> dict:
    """States of all runs, batched on a leading axis; run ``i`` uses ``key(seeds[i])``."""
    return jax.vmap(lambda s, n: init_state(jax.random.key(s), n, cfg))(seeds, input_sizes)


@partial(jax.jit, static_argnames=("cfg", "n_epochs"), donate_argnums=(0,))
def train_sweep(states: dict, cfg: ParityConfig, n_epochs: int):
    """``n_epochs`` epochs of every run in one compiled, vmapped program; metrics (R, E)."""
    return jax.vmap(lambda st: train_epochs(st, cfg, n_epochs))(states)


def run_sweep(cfg: ParityConfig, chunk: int = 100, progress: bool = True,
              devices=None) -> dict[str, np.ndarray]:
    """Train every run of ``cfg`` (sharded over ``devices``, default all); metrics (R, E).

    Epochs run ``chunk`` at a time (one compiled call each) under a progress bar. Returns
    ``train_loss, train_acc, val_loss, val_acc`` of shape (runs, epochs) plus ``input_size`` and
    ``seed`` (runs,), in the order of :attr:`ParityConfig.runs`.
    """
    from tqdm.auto import tqdm

    from linear_grok import distributed

    require("chunk", chunk, lambda a: a >= 1, ">= 1")
    runs = cfg.runs
    mesh = distributed.batch_mesh(devices)
    batch = distributed.shard_batch({"seed": np.asarray([s for _, s in runs]),
                                     "size": np.asarray([n for n, _ in runs])}, mesh)
    states = init_sweep(batch["seed"], batch["size"], cfg)
    pieces, done = [], 0
    with tqdm(total=cfg.epochs, desc=f"{len(runs)} runs, epochs", disable=not progress) as bar:
        while done < cfg.epochs:
            n = min(chunk, cfg.epochs - done)
            states, metrics = train_sweep(states, cfg, n)
            pieces.append(distributed.gather(metrics, len(runs)))
            done += n
            bar.update(n)
    out = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
    out["input_size"] = np.asarray([n for n, _ in runs])
    out["seed"] = np.asarray([s for _, s in runs])
    return out
