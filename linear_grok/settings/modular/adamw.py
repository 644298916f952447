"""Modular arithmetic grokked under full-batch AdamW on a CPU in minutes: a one-hot quadratic MLP
(or Power et al.'s transformer, :mod:`.transformer`) swept over the training fraction ``r``, the
weight decay and the learning rate.

**The model and why.** Gromov (2023, "Grokking modular arithmetic") and Doshi, He, Gromov et al.
(2024, "To grok or not to grok", their ``phase_diagrams_wd.py``) grok modular addition mod 97 with
the network ``f(a, b) = W2ᵀ(W1ᵀ[e_a, e_b])²`` (bias-free, ``N = 500`` hidden units, entries of
both layers drawn ``N(0, 0.25/(2N)^{2/3})``), trained on the mean squared error to the one-hot
answer by full-batch AdamW (learning rate 1e-2, betas (0.9, 0.98), ε = 1e-8, decoupled weight
decay, swept over 0–20) for 2 000 steps. It is the architecture of Kumar et al.'s Figure 2
(:mod:`.kumar`: quadratic, bias-free, one-hot pairs) under the optimiser of Power et al. and
Notsawo et al., so the two regimes differ only in the optimiser, the output scale and the decay;
and at ``p = 97`` it memorises within about ten steps and generalises tens to thousands of steps
later, in about 30 s a run on 2 CPU cores (docs/theory.md §23).

**How it runs.** Every (learning rate, weight decay, training fraction, seed) is one run; the
training set is the first ``⌊r·p²⌋`` equations of the seed's permutation (so a seed's training
sets are nested in ``r``, and its initial weights are the same at every ``r``). The product
``W1ᵀ[e_a, e_b]`` is taken as the gather ``W1[a] + W1[p + b]`` (the same numbers, without the
``2p``-wide product). The runs of one training fraction are vmapped in groups and trained in
float32 (as their PyTorch), a chunk of steps per compiled call. Every step is recorded: the
metrics at step ``t`` are those of the weights after ``t`` updates, the training loss the one
whose gradient takes update ``t + 1``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import optimize, stats

from linear_grok.cli import stop_point
from linear_grok.curves import Curves, first_time_above
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, measure_runs
from linear_grok.settings.modular.task import ModularTask, argmax_accuracy, equations, split, tokens
from linear_grok.settings.modular.transformer import TransformerShape, init_transformer, transformer_logits
from linear_grok.validation import require

__all__ = ["AdamWConfig", "AXES", "METRICS", "ADAMW_PRESETS", "quadratic_mlp", "init_params",
           "seed_keys", "forward", "MODELS", "LOSSES", "train_steps", "adamw_sweep", "adamw_curves",
           "time_law", "fit_time_law", "run_adamw", "time_laws", "adamw_table"]

Array = jax.Array
AXES = ("lr", "weight_decay", "train_fraction", "seed")  # the runs' grid, in this order
METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "weight_norm")
MODELS = ("mlp", "transformer")
LOSSES = ("mse", "ce")
GROKKED = 0.99  # "grokked": test accuracy reached (Power et al.'s and the parity authors' 99 %)


@dataclass(frozen=True)
class AdamWConfig:
    """A sweep of the one-hot quadratic MLP under full-batch AdamW (module docstring).

    Attributes:
      p, op: the task (modular addition mod 97).
      train_fractions: the training fractions ``r``, each in (0, 1).
      weight_decays: AdamW's decoupled weight decay (PyTorch's ``weight_decay``: each step
        multiplies the weights by ``1 − lr·weight_decay``), each in [0, 1e3].
      lrs: learning rates, each in (0, 1].
      seeds: draws of the split and the initial weights.
      model: ``"mlp"`` (the quadratic MLP) or ``"transformer"`` (:mod:`.transformer`, Power et
        al.'s, on the tokens ``a ∘ b =``). loss: ``"mse"`` (to the one-hot answer, Doshi et al.)
        or ``"ce"`` (cross-entropy, Power et al.).
      hidden: the MLP's ``N``, the transformer's width ``d``. heads, layers: the transformer's.
      init_std: the MLP weights' initial standard deviation (``None``: Doshi et al.'s
        ``0.5/(2N)^{1/3}``).
      steps: full-batch steps. warmup: steps of the linear warm-up ``lr·min(t/warmup, 1)`` at
        update ``t = 0, 1, …`` (0: none; Notsawo et al. use 10).
      b1, b2, eps: AdamW's betas and ε.
      group: runs vmapped together (memory ~ group·p²·N·16 bytes).
    """

    p: int = 97
    op: str = "+"
    train_fractions: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    weight_decays: tuple[float, ...] = (0.0, 1.0, 5.0, 15.0)
    lrs: tuple[float, ...] = (1e-2,)
    seeds: tuple[int, ...] = (0,)
    model: str = "mlp"
    loss: str = "mse"
    hidden: int = 500
    heads: int = 4
    layers: int = 2
    init_std: float | None = None
    steps: int = 1500
    warmup: int = 0
    b1: float = 0.9
    b2: float = 0.98
    eps: float = 1e-8
    group: int = 8

    def __post_init__(self):
        for name in ("train_fractions", "weight_decays", "lrs", "seeds"):
            if not getattr(self, name):
                raise ValueError(f"{name} must name at least one value")
        for r in self.train_fractions:
            ModularTask(p=self.p, op=self.op, train_fraction=r)  # checks p, op and r
        require("weight_decays", np.asarray(self.weight_decays),
                lambda a: np.isfinite(a) & (a >= 0) & (a <= 1e3), "in [0, 1000]")
        require("lrs", np.asarray(self.lrs), lambda a: np.isfinite(a) & (a > 0) & (a <= 1), "in (0, 1]")
        require("seeds", np.asarray(self.seeds), lambda a: (a >= 0) & (a < 2**31) & (a == np.round(a)),
                "whole numbers in [0, 2**31)")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}; got {self.model!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {self.loss!r}")
        if self.model == "transformer":
            self.shape_of_transformer  # noqa: B018  (checks the sizes)
        require("hidden", self.hidden, lambda a: (a >= 1) & (a <= 10**5) & (a == np.round(a)),
                "a whole number in [1, 10**5]")
        if self.init_std is not None:
            require("init_std", self.init_std, lambda a: np.isfinite(a) & (a > 0) & (a <= 1e3),
                    "in (0, 1000]")
        require("steps", self.steps, lambda a: (a >= 2) & (a <= 10**7) & (a == np.round(a)),
                "a whole number in [2, 10**7]")
        require("warmup", self.warmup, lambda a: (a >= 0) & (a <= self.steps) & (a == np.round(a)),
                f"a whole number in [0, steps = {self.steps}]")
        require("b1", self.b1, lambda a: (a >= 0) & (a < 1), "in [0, 1)")
        require("b2", self.b2, lambda a: (a >= 0) & (a < 1), "in [0, 1)")
        require("eps", self.eps, lambda a: np.isfinite(a) & (a > 0) & (a <= 1), "in (0, 1]")
        require("group", self.group, lambda a: (a >= 1) & (a <= 4096) & (a == np.round(a)),
                "a whole number in [1, 4096]")

    @property
    def shape_of_transformer(self) -> TransformerShape:
        """The transformer's sizes: width ``hidden``, ``heads``, ``layers``, tied embeddings."""
        return TransformerShape(d_model=self.hidden, heads=self.heads, layers=self.layers)

    @property
    def std(self) -> float:
        """The initial weights' standard deviation."""
        return 0.5 / (2 * self.hidden) ** (1 / 3) if self.init_std is None else self.init_std

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The runs' grid: (learning rates, weight decays, training fractions, seeds)."""
        return tuple(len(getattr(self, f"{a}s")) for a in AXES)


ADAMW_PRESETS = {
    # Seven training fractions × four decays (Doshi et al. sweep 0–20) at their constants (N = 500,
    # lr 1e-2), 1 500 steps.
    "paper": AdamWConfig(),
    # Four fractions × two decays, 300 steps: every run groks by step ~150.
    "quick": AdamWConfig(train_fractions=(0.3, 0.4, 0.5, 0.7), weight_decays=(1.0, 15.0), steps=300),
    # Power et al.'s transformer as Notsawo et al. train it (width 128, 4 heads, 2 blocks, tied
    # embeddings, cross-entropy, full-batch AdamW lr 1e-4, weight decay 1, betas (0.9, 0.98), 10
    # warm-up steps, fractions 0.3–0.9, 10⁴ steps) on a + b mod 97: about 2.7 h a run on 2 CPU
    # cores, a GPU's work (benchmarks/transformer_benchmark.py).
    "transformer_paper": AdamWConfig(model="transformer", loss="ce", hidden=128,
                                     train_fractions=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                                     weight_decays=(1.0,), lrs=(1e-4,), warmup=10, steps=10_000),
    # A CPU's size: p = 31, width 64, Power et al.'s lr 1e-3 (ten times Notsawo et al.'s), 3 000
    # steps: 11 min on 2 cores. After memorising, the accuracy collapses and recovers repeatedly.
    "transformer": AdamWConfig(p=31, model="transformer", loss="ce", hidden=64,
                               train_fractions=(0.4, 0.5, 0.6, 0.8), weight_decays=(1.0,),
                               lrs=(1e-3,), warmup=10, steps=3000),
}


def quadratic_mlp(params: tuple[Array, Array], a: Array, b: Array) -> Array:
    """``W2ᵀ(W1ᵀ[e_a, e_b])²``: outputs (n, p) of the pairs ``a, b`` (n,), with ``W1`` (2p, N) and
    ``W2`` (N, p); the one-hot product taken as the gather ``W1[a] + W1[p + b]``."""
    w1, w2 = params
    h = w1[a] + w1[w2.shape[1] + b]
    return (h * h) @ w2


def init_params(key: Array, cfg: AdamWConfig):
    """Initial weights, float32: the MLP's ``W1`` (2p, N) and ``W2`` (N, p), entries
    ``N(0, cfg.std²)``, or the transformer's (:func:`.transformer.init_transformer`, vocabulary
    ``p + 2``)."""
    if cfg.model == "transformer":
        return init_transformer(key, cfg.p + 2, cfg.shape_of_transformer)
    k1, k2 = jax.random.split(key)
    return (cfg.std * jax.random.normal(k1, (2 * cfg.p, cfg.hidden), jnp.float32),
            cfg.std * jax.random.normal(k2, (cfg.hidden, cfg.p), jnp.float32))


def forward(params, a: Array, b: Array, cfg: AdamWConfig) -> Array:
    """Outputs of the equations ``a ∘ b`` (n,): the MLP's (n, p) or the transformer's logits
    (n, p + 2) at ``=``."""
    if cfg.model == "transformer":
        return transformer_logits(params, tokens(a, b, cfg.p), cfg.heads)
    return quadratic_mlp(params, a, b)


def seed_keys(seed: int) -> tuple[Array, Array]:
    """The keys of a seed's split and of its initial weights."""
    return jax.random.fold_in(jax.random.key(seed), 0), jax.random.fold_in(jax.random.key(seed), 1)


def _loss_and_accuracy(params, a, b, c, cfg: AdamWConfig):
    """The loss of ``cfg`` on the equations ``a ∘ b = c`` (the mean squared error to the one-hot
    answers over rows and outputs, PyTorch's ``MSELoss``, or the mean cross-entropy) and the
    arg-max accuracy."""
    out = forward(params, a, b, cfg)
    if cfg.loss == "ce":
        loss = jnp.mean(jax.nn.logsumexp(out, axis=-1) - jnp.take_along_axis(out, c[:, None], -1)[:, 0])
    else:
        loss = jnp.mean((out - jax.nn.one_hot(c, out.shape[-1], dtype=out.dtype)) ** 2)
    return loss, argmax_accuracy(out, c)


def _optimizer(lr, weight_decay, cfg: AdamWConfig) -> optax.GradientTransformation:
    """AdamW as PyTorch's ``torch.optim.AdamW`` (decay ``lr·wd·θ`` from the weights before the
    step, ε outside the square root), with the warm-up of ``cfg``; ``lr`` and ``weight_decay``
    may be traced (one per vmapped run)."""
    if cfg.warmup:
        lr_t = lambda t: lr * jnp.minimum(t / cfg.warmup, 1.0)  # noqa: E731
        return optax.adamw(lr_t, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=weight_decay)
    return optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=weight_decay)


def train_steps(state, run, cfg: AdamWConfig, n: int):
    """``n`` full-batch AdamW steps of one run (vmappable).

    Args:
      state: ``(params, opt_state)``.
      run: ``(lr, weight_decay, train, test)``, ``train`` and ``test`` each ``(a, b, c)`` arrays
        of the set's equations.
    Returns:
      the new state and the metrics of :data:`METRICS` before each step, each (n,).
    """
    lr, wd, train, test = run
    opt = _optimizer(lr, wd, cfg)
    grad = jax.value_and_grad(_loss_and_accuracy, has_aux=True)

    def step(carry, _):
        params, opt_state = carry
        (loss, acc), g = grad(params, *train, cfg)
        metrics = (loss, acc, *_loss_and_accuracy(params, *test, cfg),
                   jnp.sqrt(sum(jnp.sum(w**2) for w in jax.tree_util.tree_leaves(params))))
        updates, opt_state = opt.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    return jax.lax.scan(step, state, None, length=n)


@functools.lru_cache(maxsize=8)
def _programs(cfg: AdamWConfig):
    """The compiled initialisation and ``n``-step programs of ``cfg``'s runs (cached; one
    compilation per training-set size)."""
    def init(lr, wd, params):
        return params, _optimizer(lr, wd, cfg).init(params)

    @functools.partial(jax.jit, static_argnums=2)
    def steps(states, runs, n):
        one = functools.partial(train_steps, cfg=cfg, n=n)
        return jax.lax.map(lambda sr: one(*sr), (states, runs), batch_size=cfg.group)

    return jax.jit(jax.vmap(init)), steps


def adamw_sweep(cfg: AdamWConfig, chunk: int = 250, progress: bool = True) -> dict[str, np.ndarray]:
    """Train every run of ``cfg``; one training fraction after another (its training-set size
    fixes the program), ``chunk`` steps per compiled call, under a progress bar.

    Returns the metrics of :data:`METRICS` shaped (L, W, F, S, T) (the grid of :data:`AXES` by
    ``cfg.steps`` steps), ``step`` (T,), and the axes' values ``lr`` (L,), ``weight_decay`` (W,),
    ``train_fraction`` (F,), ``seed`` (S,).
    """
    from tqdm.auto import tqdm

    require("chunk", chunk, lambda a: a >= 1, ">= 1")
    init, program = _programs(cfg)
    n_lr, n_wd, n_f, n_s = cfg.shape
    out = np.empty((n_lr, n_wd, n_f, n_s, cfg.steps, len(METRICS)))
    # The runs of one fraction: every (lr, weight decay, seed), flat in that order.
    index = np.indices((n_lr, n_wd, n_s)).reshape(3, -1)
    lr = jnp.asarray(np.asarray(cfg.lrs)[index[0]], jnp.float32)
    wd = jnp.asarray(np.asarray(cfg.weight_decays)[index[1]], jnp.float32)
    seeds = [int(s) for s in np.asarray(cfg.seeds)[index[2]]]
    total = n_f * cfg.steps
    with tqdm(total=total, desc=f"{n_f * index.shape[1]} runs, steps", disable=not progress) as bar:
        for f, r in enumerate(cfg.train_fractions):
            task = ModularTask(p=cfg.p, op=cfg.op, train_fraction=r)
            eq = np.stack(equations(task), axis=-1)  # (n, 3): a, b, c
            sets = [split(task, seed_keys(s)[0]) for s in seeds]
            train, test = (tuple(jnp.asarray(np.stack([eq[x[i]] for x in sets])[..., k])
                                 for k in range(3)) for i in (0, 1))
            params = jax.vmap(init_params, in_axes=(0, None))(
                jnp.stack([seed_keys(s)[1] for s in seeds]), cfg)
            states = init(lr, wd, params)
            done = 0
            while done < cfg.steps:
                n = min(chunk, cfg.steps - done)
                stop_point()  # an interrupted command stops between chunks
                states, metrics = program(states, (lr, wd, train, test), n)
                block = np.stack([np.asarray(m) for m in metrics], axis=-1)  # (runs, n, metrics)
                out[:, :, f, :, done:done + n] = block.reshape(n_lr, n_wd, n_s, n, -1)
                done += n
                bar.update(n)
    arrays = {name: out[..., i] for i, name in enumerate(METRICS)}
    arrays["step"] = np.arange(cfg.steps, dtype=np.float64)
    arrays.update({a: np.asarray(getattr(cfg, f"{a}s")) for a in AXES})
    return arrays


def adamw_curves(arrays: dict[str, np.ndarray]) -> Curves:
    """Train and test accuracy of every run for the shared measurement (chance ``1/p``, ``p`` from
    ``arrays["p"]``), against steps; runs labelled by :data:`AXES`."""
    labels = dict(zip(AXES, np.meshgrid(*(arrays[a] for a in AXES), indexing="ij"), strict=True))
    return Curves(time=arrays["step"], train=arrays["train_acc"], test=arrays["test_acc"],
                  labels=labels, chance=1.0 / float(arrays["p"]), time_unit="steps",
                  skip=np.full(arrays["train_acc"].shape[:-1], ""))


def time_law(r, a, gamma, b):
    """Notsawo et al.'s grokking time against the training fraction: ``a·r^(−γ) + b``."""
    return a * np.power(r, -gamma) + b


def fit_time_law(r: np.ndarray, t: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Fit :func:`time_law` to grokking times ``t`` (> 0) at fractions ``r`` (finite pairs only).

    Least squares on ``log t``: grokking times span decades, and if their scatter is
    proportional to the time (as a multiplicative noise model assumes), their logarithms scatter
    alike (an unweighted fit of ``t`` itself then gives intervals that cover γ 69 % of the time at
    3 % noise; ``tests/test_adamw.py``). Returns
    ``a``, ``gamma``, ``b``, their standard errors ``*_se`` and ``level`` intervals ``*_lo``,
    ``*_hi`` (Student t with ``n − 3`` degrees of freedom), ``n``, and ``reason`` (empty, or why
    everything is NaN: fewer than four times, no fit).
    """
    r, t = np.asarray(r, dtype=np.float64), np.asarray(t, dtype=np.float64)
    keep = np.isfinite(r) & np.isfinite(t) & (t > 0)
    names = ("a", "gamma", "b")
    out = {f"{k}{s}": float("nan") for k in names for s in ("", "_se", "_lo", "_hi")}
    out.update(n=int(keep.sum()), reason="")
    if keep.sum() < 4:
        out["reason"] = f"{keep.sum()} grokking times: the law's 3 parameters need at least 4"
        return out
    r, t = r[keep], t[keep]
    # Start: γ = 1 and the linear least squares for a, b given it.
    a0, b0 = np.linalg.lstsq(np.stack([1 / r, np.ones_like(r)], axis=1), t, rcond=None)[0]
    log_law = lambda x, a, gamma, b: np.log(np.maximum(time_law(x, a, gamma, b), 1e-300))  # noqa: E731
    try:
        theta, cov = optimize.curve_fit(log_law, r, np.log(t), p0=(max(a0, 1e-6), 1.0, b0),
                                        maxfev=20_000)
    except (RuntimeError, ValueError) as err:
        out["reason"] = f"no fit: {err}"
        return out
    se = np.sqrt(np.diag(cov)) if np.all(np.isfinite(cov)) else np.full(3, np.nan)
    half = stats.t.ppf((1 + level) / 2, r.size - 3) * se
    for k, name in enumerate(names):
        out.update({name: float(theta[k]), f"{name}_se": float(se[k]),
                    f"{name}_lo": float(theta[k] - half[k]), f"{name}_hi": float(theta[k] + half[k])})
    return out


def run_adamw(cfg: AdamWConfig, options: MeasureOptions = DEFAULT_OPTIONS,
              progress: bool = True) -> dict[str, np.ndarray]:
    """Train every run (:func:`adamw_sweep`), measure its accuracy curves, and note the first step
    with test accuracy above 99 % (``grok_step``)."""
    arrays = adamw_sweep(cfg, progress=progress)
    arrays["p"] = np.asarray(cfg.p)
    arrays.update(measure_runs(adamw_curves(arrays), options))
    arrays["grok_step"] = first_time_above(arrays["step"], arrays["test_acc"], GROKKED)
    return arrays


def time_laws(arrays: dict[str, np.ndarray], time: str = "b_test") -> list[dict]:
    """:func:`fit_time_law` over the training fractions for each (learning rate, weight decay,
    seed), on the measured test jump time ``b_test`` (runs the pipeline could not measure left
    out) or on ``grok_step``."""
    t = np.where(arrays["ok"], arrays[time], np.nan) if time == "b_test" else arrays[time]
    laws = []
    for i, j, k in itertools.product(*(range(arrays[a].size) for a in ("lr", "weight_decay", "seed"))):
        law = fit_time_law(arrays["train_fraction"], t[i, j, :, k])
        laws.append({"lr": float(arrays["lr"][i]), "weight_decay": float(arrays["weight_decay"][j]),
                     "seed": int(arrays["seed"][k]), "time": time, **law})
    return laws


def adamw_table(arrays: dict[str, np.ndarray]) -> str:
    """One row per run (jump times, gap, relative sharpness, the 99 % step, final accuracies and
    weight norms), then the time law of each (lr, weight decay, seed)."""
    head = (f"{'lr':>7} {'wd':>6} {'r':>5} {'seed':>4} {'b_train':>8} {'b_test':>8} {'gap':>6} "
            f"{'R_rel':>7} {'t_99':>6} {'acc tr/te':>11} {'|W| 0/end':>13}  note")
    lines = [head, "-" * len(head)]
    for idx in np.ndindex(arrays["ok"].shape):
        i, j, f, k = idx
        norm = arrays["weight_norm"][idx]
        lines.append(
            f"{arrays['lr'][i]:7.2g} {arrays['weight_decay'][j]:6.3g} "
            f"{arrays['train_fraction'][f]:5.2f} {arrays['seed'][k]:4d} "
            f"{arrays['b_train'][idx]:8.4g} {arrays['b_test'][idx]:8.4g} "
            f"{arrays['relative_gap'][idx]:6.3f} {arrays['relative_sharpness'][idx]:7.3g} "
            f"{arrays['grok_step'][idx]:6.0f} "
            f"{arrays['train_acc'][idx][-1]:5.3f}/{arrays['test_acc'][idx][-1]:.3f} "
            f"{norm[0]:6.3g}/{norm[-1]:6.3g}  {arrays['reason'][idx][:40]}")
    lines.append("\nGrokking time against the training fraction, t = a·r^(−γ) + b (t: b_test; "
                 "95 % intervals):")
    for law in time_laws(arrays):
        fit = ", ".join(f"{k} = {law[k]:.3g} [{law[k + '_lo']:.3g}, {law[k + '_hi']:.3g}]"
                        for k in ("a", "gamma", "b"))
        lines.append(f"  lr {law['lr']:.2g}, wd {law['weight_decay']:.3g}, seed {law['seed']}: "
                     + (law["reason"] or f"{fit} ({law['n']} fractions)"))
    return "\n".join(lines)
