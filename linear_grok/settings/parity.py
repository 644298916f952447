"""The concealed-parity MLP: the sharpness paper's second setting (its §3.2), in JAX + optax.

Task: the parity of the first ``k`` of ``n`` random bits; the other ``n − k`` bits are spurious
("concealment", Miller et al. 2023): more of them, larger grokking gap. Model: a two-layer MLP
``n → hidden → 2`` with ReLU, a bias on the first layer only, Xavier-uniform weights,
cross-entropy, SGD with coupled weight decay (``θ ← θ − η(∇L + γθ)``, as PyTorch's SGD), batches
of 32 reshuffled every epoch (the last, smaller batch kept).

Two procedures, chosen by four fields of :class:`ParityConfig`:

================  =======================================  ====================================
field             ``paper`` (the authors' code)            ``clean`` (an alternative)
================  =======================================  ====================================
``inputs``        ``"01"``: bits fed as {0, 1}             ``"pm1"``: bits fed as ±1
``bias_init``     ``"torch"``: U(±1/√n), PyTorch's          ``"zero"``
                  ``nn.Linear`` default, n the run's size
``accuracy``      ``"batch-mean"``: train metrics are the  ``"full-set"``: both full sets scored
                  unweighted mean over the epoch's         after every epoch
                  minibatches, each scored on the
                  parameters before its own step;
                  validation the mean of per-batch
                  metrics over a shuffled batch-32 pass
``spurious``      ``"same-stream"``: the spurious bits     ``"independent"``: their own stream
                  re-read the parity bits' random stream
================  =======================================  ====================================

The authors' code is ``experiment_sharpness_and_grokking_gap`` in ``tiny-gen.py`` of
github.com/jackmiller2003/tiny-gen, branch ``feat/sharpness-and-gap`` (data in
``src/dataset.py``: ``ParityTask``, ``HiddenDataset``; model in ``src/model.py``: ``TinyModel``;
metrics in ``src/train.py``: ``train_model``). Why they differ: with {0, 1} inputs every spurious
bit adds a non-centred random amount to each hidden unit's pre-activation; with a random bias on
top, the net memorises later (train accuracy passes 0.99 after ~500 epochs rather than ~150) and
then generalises at large input sizes too, where with ±1 inputs and a zero bias it memorises
early and does not generalise within 3000 epochs. The batch-mean metric scores parameters that
lag the end of the epoch by half an epoch on average and moves the train crossing by tens of
epochs. The clean procedure is the textbook one: centred inputs, a symmetric start, metrics of
the parameters at the end of each epoch.

Data, split and initial weights are the authors' bit for bit (:func:`authors_run` reproduces
PyTorch's generator); the minibatch order comes from JAX's generator and float32 rounding differs,
so training trajectories match the authors' in distribution, not step for step.

All runs of a sweep (input sizes × seeds) train in one compiled program, each device taking its
runs 16 at a time on a CPU (a vmapped group inside ``lax.map``), all at once elsewhere: inputs
are zero-padded to the largest size and each run's first layer has its own fan-in; its padded
rows start at zero and, receiving zero gradient and zero weight decay, stay there, so padding
changes nothing (``tests/test_parity.py`` checks this against unpadded training). The MLP runs in float32.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from linear_grok import distributed
from linear_grok.cli import stop_point
from linear_grok.curves import Curves, first_time_above
from linear_grok.optim import sgd_coupled_weight_decay
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, measure_runs
from linear_grok.precision import float64
from linear_grok.validation import require, require_memory, require_positive

__all__ = ["CHANCE", "CHOICES", "ParityConfig", "PAPER", "CLEAN", "authors_bits",
           "authors_run", "logits", "batch_metrics", "optimizer", "init_state", "batch_order",
           "epoch_keys", "train_epochs", "initial_runs", "sweep_program", "init_program", "train_sweep",
           "accuracy_curves", "PRESETS", "THRESHOLD", "measure_sweep",
           "parity_table"]

Array = jax.Array
F32 = jnp.float32
CHANCE = 0.5  # accuracy at chance: two classes
CHOICES = {"inputs": ("01", "pm1"), "bias_init": ("torch", "zero"),
           "accuracy": ("batch-mean", "full-set"), "spurious": ("same-stream", "independent")}


@dataclass(frozen=True)
class ParityConfig:
    """Constants of the parity sweep; the defaults are the authors' (``paper`` preset).

    Attributes:
      k: parity bits. n_train, n_val: sample counts. hidden: hidden width.
      lr, weight_decay: SGD learning rate and coupled weight decay. batch_size: minibatch size
        (training and the validation pass). epochs: training epochs.
      input_sizes: total input bits per run (k parity + spurious). seeds: one run per
        (input size, seed).
      inputs, bias_init, accuracy, spurious: the procedure (module docstring).
      full_set_metrics: with ``accuracy="batch-mean"``, also score both full sets after every
        epoch (``*_full`` arrays, scored at the end of the epoch of the same label; one extra
        forward pass over the data per epoch).
      step_metrics: record the loss and accuracy of each of the first ``step_metrics``
        optimisation steps on its own minibatch, scored on the parameters before the step, from
        the step's own forward pass (``step_loss``, ``step_acc`` arrays; 0: none).
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
    inputs: str = "01"
    bias_init: str = "torch"
    accuracy: str = "batch-mean"
    spurious: str = "same-stream"
    full_set_metrics: bool = False
    step_metrics: int = 0

    def __post_init__(self):
        require("k", self.k, lambda a: a >= 1, ">= 1")
        require("input_sizes", np.asarray(self.input_sizes), lambda a: a >= self.k, f">= k = {self.k}")
        for name, most in (("n_train", 10**7), ("n_val", 10**7), ("hidden", 2**16),
                           ("batch_size", 10**7), ("epochs", 10**7)):
            require(name, getattr(self, name), lambda a, most=most: (a >= 1) & (a <= most),
                    f"in [1, {most}]")
        require("input_sizes", np.asarray(self.input_sizes), lambda a: a <= 10**5, "<= 100000")
        # Data, weights and optimiser state of every run, float32, several copies in flight.
        n_runs = len(self.input_sizes) * len(self.seeds)
        width = max(self.input_sizes)
        require_memory(f"{n_runs} parity runs",
                       4.0 * 8 * n_runs * width * (self.n_train + self.n_val + self.hidden))
        require("seeds", np.asarray(self.seeds), lambda a: (a >= 0) & (a < 2**32), "in [0, 2**32)")
        require_positive("lr", self.lr)
        require("weight_decay", self.weight_decay, lambda a: a >= 0, ">= 0")
        require("step_metrics", self.step_metrics, lambda a: (a >= 0) & (a <= self.total_steps),
                f"in [0, epochs × batches per epoch = {self.total_steps}]")
        if self.full_set_metrics and self.accuracy == "full-set":
            raise ValueError("full_set_metrics must be False with accuracy='full-set' "
                             "(the recorded metrics are the full sets' already)")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; "
                                 f"got {getattr(self, name)!r}")

    @property
    def n_max(self) -> int:
        """Padded input width shared by all runs."""
        return max(self.input_sizes)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    @property
    def total_steps(self) -> int:
        """Optimisation steps of a run."""
        return self.epochs * self.batches_per_epoch

    @property
    def step_epochs(self) -> int:
        """Epochs whose steps are recorded: those holding the first ``step_metrics`` steps."""
        return math.ceil(self.step_metrics / self.batches_per_epoch)

    @property
    def training_fraction(self) -> float:
        """``n_train / (n_train + n_val)``: the share of the drawn samples trained on."""
        return self.n_train / (self.n_train + self.n_val)

    @property
    def first_epoch(self) -> int:
        """Label of the first recorded epoch: batch-mean metrics are recorded *during* epoch
        0, 1, ... (the authors' 0-based index); full-set metrics *after* epoch 1, 2, ..."""
        return 0 if self.accuracy == "batch-mean" else 1

    @property
    def epoch_axis(self) -> np.ndarray:
        """The time axis of the recorded metrics (epochs,), in epochs."""
        return np.arange(self.first_epoch, self.first_epoch + self.epochs, dtype=np.float64)

    @property
    def procedure(self) -> dict[str, str]:
        """The four procedure choices, as written to a result's JSON sidecar."""
        return {name: getattr(self, name) for name in CHOICES}

    @property
    def runs(self) -> list[tuple[int, int]]:
        """``(input_size, seed)`` of every run, in the order of the batch axis."""
        return [(n, s) for n in self.input_sizes for s in self.seeds]


# The authors' procedure (``paper``) and the alternative (``clean``), differing only in the
# procedure fields; both train the paper's grid.
PAPER = ParityConfig()
CLEAN = dataclasses.replace(PAPER, inputs="pm1", bias_init="zero", accuracy="full-set",
                            spurious="independent")


# PyTorch's CPU generator, reproduced on the host: ``torch.manual_seed(seed)`` seeds the same
# MT19937 as ``numpy.random.RandomState(seed)`` (Matsumoto–Nishimura ``init_genrand``), and each
# of the calls below consumes one 32-bit output per element, as ATen's CPU kernels do.


def _words(rs: np.random.RandomState, count: int) -> np.ndarray:
    """The next ``count`` 32-bit outputs of the generator, as uint64."""
    return rs.randint(0, 2**32, size=count, dtype=np.uint64)


def _randint01(rs: np.random.RandomState, shape: tuple[int, ...]) -> np.ndarray:
    """``torch.randint(0, 2, shape)``: each output modulo 2."""
    return (_words(rs, math.prod(shape)) & 1).reshape(shape).astype(np.float32)


def _uniform(rs: np.random.RandomState, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """``torch.empty(shape).uniform_(-bound, bound)`` in float32: 24 random bits of each output,
    scaled in double precision, then rounded (bit for bit as PyTorch)."""
    lo, hi = np.float64(np.float32(-bound)), np.float64(np.float32(bound))
    u = (_words(rs, math.prod(shape)) & (2**24 - 1)).astype(np.float64) * 2.0**-24
    return (u * (hi - lo) + lo).astype(np.float32).reshape(shape)


def _randperm(rs: np.random.RandomState, n: int) -> np.ndarray:
    """``torch.randperm(n)`` (n < 2³²/20): Fisher–Yates, swapping ``i`` with ``i + r mod (n − i)``."""
    order = np.arange(n)
    for i, r in enumerate(_words(rs, n - 1)):
        z = i + int(r % np.uint64(n - i))
        order[i], order[z] = order[z], order[i]
    return order


def authors_bits(seed: int, n_inputs: int, cfg: ParityConfig) -> tuple[np.ndarray, np.ndarray]:
    """The samples' bits {0, 1} (n_train + n_val, n_inputs) before the split, and the split's
    order (its first ``n_train`` entries are the training samples), as the authors draw them:
    :func:`authors_run`."""
    n_total = cfg.n_train + cfg.n_val
    rs = np.random.RandomState(seed)
    parity_bits = _randint01(rs, (n_total, cfg.k))
    if cfg.spurious == "same-stream":
        rs = np.random.RandomState(seed)
    bits = np.concatenate([parity_bits, _randint01(rs, (n_total, n_inputs - cfg.k))], axis=1)
    return bits, _randperm(rs, n_total)


@float64
def authors_run(seed: int, n_inputs: int, cfg: ParityConfig) -> dict[str, np.ndarray]:
    """Data, split and initial weights of one run, drawn as the authors' code draws them.

    The sequence of ``experiment_sharpness_and_grokking_gap``: seed, ``k`` parity bits per sample
    (``ParityTask``); re-seed (``spurious="same-stream"``; otherwise the stream goes on) and
    ``n − k`` spurious bits per sample (``HiddenDataset``); ``random_split`` by ``randperm``;
    re-seed and build ``TinyModel``: ``nn.Linear`` draws Kaiming-uniform weights and the
    U(±1/√n) bias, the bias-free second layer its weights, then both weights are redrawn
    Xavier-uniform. With the same seed this gives the authors' datasets and initial weights bit
    for bit (checked against PyTorch 2.13). ``bias_init="zero"`` zeroes the drawn bias and
    ``inputs="pm1"`` maps bits to ±1.

    Returns NumPy float32 ``x_train (n_train, n_max)``, ``x_val``, int32 ``y_train (n_train,)``,
    ``y_val``, and ``w1 (n_max, hidden)``, ``b1 (hidden,)``, ``w2 (hidden, 2)``; columns and rows
    from ``n_inputs`` on are zero (padding).
    """
    k, h, n = cfg.k, cfg.hidden, n_inputs
    bits, order = authors_bits(seed, n, cfg)
    # Label 1 where the product of the ±1 bits (0 → −1) is +1: an even number of zeros.
    labels = (np.sum(bits[:, :k] == 0, axis=1) % 2 == 0).astype(np.int32)
    x = np.zeros((bits.shape[0], cfg.n_max), np.float32)
    x[:, :n] = bits if cfg.inputs == "01" else 2 * bits - 1
    x, labels = x[order], labels[order]

    rs = np.random.RandomState(seed)
    _words(rs, n * h)  # fc1's Kaiming-uniform weights, redrawn below
    b1 = _uniform(rs, (h,), 1 / math.sqrt(n))
    _words(rs, 2 * h)  # fc2's Kaiming-uniform weights, redrawn below
    # xavier_uniform_'s bound, computed as PyTorch computes it: √3 · √(2 / (fan_in + fan_out)).
    w1 = np.zeros((cfg.n_max, h), np.float32)
    w1[:n] = _uniform(rs, (h, n), math.sqrt(3.0) * math.sqrt(2.0 / (n + h))).T
    w2 = _uniform(rs, (2, h), math.sqrt(3.0) * math.sqrt(2.0 / (h + 2))).T
    if cfg.bias_init == "zero":
        b1 = np.zeros_like(b1)
    return {"x_train": x[:cfg.n_train], "y_train": labels[:cfg.n_train],
            "x_val": x[cfg.n_train:], "y_val": labels[cfg.n_train:],
            "w1": w1, "b1": b1, "w2": np.ascontiguousarray(w2)}


def logits(params: dict[str, Array], x: Array) -> Array:
    """MLP output (B, 2) for inputs (B, n)."""
    h = jax.nn.relu(x @ params["w1"][: x.shape[-1]] + params["b1"])
    return h @ params["w2"]


def batch_metrics(params, x, y, weight) -> tuple[Array, Array]:
    """Mean cross-entropy and accuracy over the samples of a batch with ``weight`` 1 (0: padding).

    x (B, n), y (B,) int labels, weight (B,) in {0, 1}; returns two scalars.
    """
    out = logits(params, x)
    n = jnp.sum(weight)
    ce = optax.softmax_cross_entropy_with_integer_labels(out, y)
    return jnp.sum(ce * weight) / n, jnp.sum((jnp.argmax(out, axis=-1) == y) * weight) / n


def optimizer(cfg: ParityConfig) -> optax.GradientTransformation:
    """SGD with coupled weight decay, as the authors' ``torch.optim.SGD(lr, weight_decay)``."""
    return sgd_coupled_weight_decay(cfg.lr, cfg.weight_decay)


def init_state(run: dict, cfg: ParityConfig) -> dict:
    """Training state of one run from :func:`authors_run`'s arrays and its ``seed``: data,
    parameters, optimiser state, and the key of its minibatch shuffling (JAX's generator: the
    shuffling order is not the authors')."""
    params = {name: run[name] for name in ("w1", "b1", "w2")}
    data = {name: run[name] for name in ("x_train", "y_train", "x_val", "y_val")}
    return {"data": data, "params": params, "opt_state": optimizer(cfg).init(params),
            "key": jax.random.key(run["seed"])}


def batch_order(key: Array, n: int, batch_size: int) -> tuple[Array, Array]:
    """A shuffled pass over ``n`` samples in batches, as a ``DataLoader(shuffle=True)``.

    Returns indices and weights (n_batches, batch_size); the last batch holds the remainder,
    its empty slots weight 0 (index 0).
    """
    n_batches = math.ceil(n / batch_size)
    pad = n_batches * batch_size - n
    idx = jnp.concatenate([jax.random.permutation(key, n), jnp.zeros(pad, jnp.int32)])
    weight = (jnp.arange(n_batches * batch_size) < n).astype(F32)
    return idx.reshape(n_batches, batch_size), weight.reshape(n_batches, batch_size)


def epoch_keys(key: Array) -> tuple[Array, Array, Array]:
    """The carried key, then this epoch's train-shuffle and validation-shuffle keys."""
    return tuple(jax.random.split(key, 3))


def _full_set(params, data) -> dict[str, Array]:
    ones_tr, ones_va = jnp.ones(data["y_train"].shape, F32), jnp.ones(data["y_val"].shape, F32)
    tr = batch_metrics(params, data["x_train"], data["y_train"], ones_tr)
    va = batch_metrics(params, data["x_val"], data["y_val"], ones_va)
    return {"train_loss": tr[0], "train_acc": tr[1], "val_loss": va[0], "val_acc": va[1]}


def _shuffled_validation(params, data, key, batch_size) -> dict[str, Array]:
    """The authors' validation metrics: unweighted mean of per-batch means over a shuffled pass."""
    idx, weight = batch_order(key, data["y_val"].shape[0], batch_size)
    out = logits(params, data["x_val"])  # one forward pass; batches gather its rows
    ce = optax.softmax_cross_entropy_with_integer_labels(out, data["y_val"])[idx]
    correct = (jnp.argmax(out, axis=-1) == data["y_val"])[idx]
    per_batch = lambda v: jnp.sum(v * weight, axis=1) / jnp.sum(weight, axis=1)  # noqa: E731
    return {"val_loss": jnp.mean(per_batch(ce)), "val_acc": jnp.mean(per_batch(correct))}


def train_epochs(state: dict, cfg: ParityConfig, n_epochs: int, record_steps: bool = False
                 ) -> tuple[dict, dict[str, Array]]:
    """Run ``n_epochs`` epochs of one run; returns the new state and per-epoch metrics (E,).

    Metrics: ``train_loss, train_acc, val_loss, val_acc`` as ``cfg.accuracy`` defines them, plus
    ``train_loss_full`` ... ``val_acc_full`` with ``cfg.full_set_metrics``; with
    ``record_steps``, also ``step_loss`` and ``step_acc`` (E, batches per epoch): each step's
    minibatch loss and accuracy, scored on the parameters before the step.
    """
    opt = optimizer(cfg)
    data = state["data"]
    grad_fn = jax.value_and_grad(batch_metrics, has_aux=True)

    def batch_step(carry, idx_w):
        params, opt_state = carry
        idx, w = idx_w
        # The batch is scored on the parameters before its own step, from the same forward pass.
        (loss, acc), grads = grad_fn(params, data["x_train"][idx], data["y_train"][idx], w)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)

    def epoch(carry, _):
        params, opt_state, key = carry
        key, k_train, k_val = epoch_keys(key)
        (params, opt_state), (losses, accs) = jax.lax.scan(
            batch_step, (params, opt_state), batch_order(k_train, cfg.n_train, cfg.batch_size))
        if cfg.accuracy == "batch-mean":
            metrics = {"train_loss": jnp.mean(losses), "train_acc": jnp.mean(accs),
                       **_shuffled_validation(params, data, k_val, cfg.batch_size)}
            if cfg.full_set_metrics:
                metrics.update({f"{k}_full": v for k, v in _full_set(params, data).items()})
        else:
            metrics = _full_set(params, data)
        if record_steps:  # the losses the steps computed anyway: no extra pass
            metrics.update(step_loss=losses, step_acc=accs)
        return (params, opt_state, key), metrics

    (params, opt_state, key), metrics = jax.lax.scan(
        epoch, (state["params"], state["opt_state"], state["key"]), None, length=n_epochs)
    return {**state, "params": params, "opt_state": opt_state, "key": key}, metrics


def initial_runs(cfg: ParityConfig) -> dict[str, np.ndarray]:
    """:func:`authors_run` of every run of ``cfg`` stacked on a leading axis, with ``seed`` (R,)."""
    runs = [authors_run(seed, n, cfg) for n, seed in cfg.runs]
    stacked = {name: np.stack([r[name] for r in runs]) for name in runs[0]}
    return {**stacked, "seed": np.asarray([seed for _, seed in cfg.runs], np.uint32)}


@functools.lru_cache(maxsize=16)
def sweep_program(cfg: ParityConfig, n_epochs: int, mesh, group: int, record_steps: bool = False):
    """``states → (states, metrics (R, E))``: ``n_epochs`` epochs of every run, one compiled program
    (with ``record_steps``, the per-step metrics of :func:`train_epochs` too).

    Each device of ``mesh`` trains its block of runs ``group`` at a time (``lax.map`` over
    vmapped groups): on a CPU, 16 runs' weights (~0.2 MB a run at the paper's sizes) stay in
    cache across an epoch's steps, ~1.5× faster than vmapping all 63 runs at once
    (``benchmarks/parity_benchmark.py``).
    Cached per configuration.
    """
    train = partial(train_epochs, cfg=cfg, n_epochs=n_epochs, record_steps=record_steps)
    return distributed.per_device(lambda states: jax.lax.map(train, states, batch_size=group), mesh)


@functools.lru_cache(maxsize=16)
def init_program(cfg: ParityConfig, mesh):
    """``runs → states``: :func:`init_state` of each device's block of :func:`initial_runs`."""
    return distributed.per_device(jax.vmap(partial(init_state, cfg=cfg)), mesh)


@float64
def train_sweep(cfg: ParityConfig, chunk: int = 100, progress: bool = True,
                devices=None, group: int | None = None) -> dict[str, np.ndarray]:
    """Train every run of ``cfg`` (sharded over ``devices``, default all); metrics (R, E).

    Epochs run ``chunk`` at a time (one compiled call each; the first epochs up to
    :attr:`ParityConfig.step_epochs` in calls of their own, which record every step) under a
    progress bar; ``group`` runs train together on a device (:func:`sweep_program`; default 16 on
    CPUs, where that fits the cache, and all of a device's runs on accelerators, which prefer
    large batches). Returns the
    metrics of :func:`train_epochs` shaped (runs, epochs), ``epoch`` (epochs,) (the time axis,
    :attr:`ParityConfig.epoch_axis`), and ``input_size`` and ``seed`` (runs,), in the order of
    :attr:`ParityConfig.runs`; with ``cfg.step_metrics = K``, also ``step_loss`` and ``step_acc``
    (runs, K) and ``step`` (K,), the steps' 0-based index.
    """
    from tqdm.auto import tqdm

    require("chunk", chunk, lambda a: a >= 1, ">= 1")
    runs = cfg.runs
    mesh = distributed.batch_mesh(devices)
    if group is None:
        on_cpu = all(d.platform == "cpu" for d in mesh.devices.ravel())
        group = 16 if on_cpu else distributed.padded_size(len(runs), mesh) // mesh.devices.size
    require("group", group, lambda a: a >= 1, ">= 1")
    states = init_program(cfg, mesh)(distributed.shard_batch(initial_runs(cfg), mesh))
    pieces, steps, done = [], [], 0
    with tqdm(total=cfg.epochs, desc=f"{len(runs)} runs, epochs", disable=not progress) as bar:
        while done < cfg.epochs:
            record = done < cfg.step_epochs
            # Later calls end on multiples of ``chunk``: no program of another length to compile.
            n = min(chunk - done % chunk, (cfg.step_epochs if record else cfg.epochs) - done)
            stop_point()  # an interrupted command stops between chunks
            states, metrics = sweep_program(cfg, n, mesh, group, record)(states)
            metrics = distributed.gather(metrics, len(runs))
            if record:
                steps.append({k: metrics.pop(k) for k in ("step_loss", "step_acc")})
            pieces.append(metrics)
            done += n
            bar.update(n)
    out = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
    if steps:  # (R, E, batches) → (R, steps), the first K
        for k in steps[0]:
            out[k] = np.concatenate([p[k] for p in steps], axis=1).reshape(len(runs), -1)[
                :, :cfg.step_metrics]
        out["step"] = np.arange(cfg.step_metrics, dtype=np.float64)
    out["epoch"] = cfg.epoch_axis
    out["input_size"] = np.asarray([n for n, _ in runs])
    out["seed"] = np.asarray([s for _, s in runs])
    return out


def accuracy_curves(metrics: dict[str, np.ndarray]) -> Curves:
    """The sweep's accuracy curves from :func:`train_sweep`'s metrics: train and validation
    accuracy (R, E) on the epoch axis, runs labelled by input size and seed, chance ½."""
    return Curves(time=metrics["epoch"], train=metrics["train_acc"], test=metrics["val_acc"],
                  labels={"input_size": metrics["input_size"], "seed": metrics["seed"]},
                  chance=CHANCE, time_unit="epochs")


PRESETS = {
    "quick": dataclasses.replace(PAPER, input_sizes=(25, 30, 35, 40), seeds=(0,)),
    "paper": PAPER,
    "clean": CLEAN,
}


THRESHOLD = 0.99  # the authors' "grokked" accuracy


def measure_sweep(cfg: ParityConfig, options: MeasureOptions = DEFAULT_OPTIONS, *, chunk: int = 100,
                  progress: bool = True, devices=None) -> dict:
    """Train every run (:func:`train_sweep`) and measure it (:func:`linear_grok.pipeline.
    measure_runs` with ``options``); return per-epoch metrics (R, E), the measures of each run
    (R,) and its first epochs above :data:`THRESHOLD` (``first_train_above``, ``first_val_above``)."""
    arrays = train_sweep(cfg, chunk=chunk, progress=progress, devices=devices)
    epochs = arrays["epoch"]
    arrays.update(measure_runs(accuracy_curves(arrays), options))
    arrays.update(
        first_train_above=first_time_above(epochs, arrays["train_acc"], THRESHOLD),
        first_val_above=first_time_above(epochs, arrays["val_acc"], THRESHOLD))
    return arrays


def parity_table(arrays) -> str:
    """One row per run: first epochs above the threshold, fitted jump times and the measures."""
    head = (f"{'inputs':>6} {'seed':>4} {'>.99 tr':>7} {'>.99 val':>8} {'b_train':>8} {'b_val':>8} "
            f"{'gap':>8} {'R_rel':>8} {'R_abs':>10} {'final tr/val acc':>17}  note")
    lines = [head, "-" * len(head)]
    for i in range(arrays["input_size"].size):
        lines.append(
            f"{arrays['input_size'][i]:6d} {arrays['seed'][i]:4d} {arrays['first_train_above'][i]:7.0f} "
            f"{arrays['first_val_above'][i]:8.0f} {arrays['b_train'][i]:8.1f} "
            f"{arrays['b_test'][i]:8.1f} {arrays['relative_gap'][i]:8.3g} "
            f"{arrays['relative_sharpness'][i]:8.3g} {arrays['absolute_sharpness'][i]:10.3g} "
            f"{arrays['train_acc'][i, -1]:8.3f}/{arrays['val_acc'][i, -1]:.3f}  "
            f"{arrays['reason'][i][:60]}")
    return "\n".join(lines)


