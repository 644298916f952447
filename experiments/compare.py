"""Analytic against simulated curves of the linear model, overlaid, with the largest deviations.

    python -m experiments.compare                         # docs/theory.md §9 setting: d_in = 400, 8 seeds
    python -m experiments.compare --lams 0.9 --d-out 5 --steps 5000

Theory: the discrete-GD MP average (``form="discrete"``). Simulation: the exact spectral GD
engine. Losses are compared after dividing each seed by its initial test loss (which removes the
trivial spread of ‖D₀‖², docs/theory.md §9); the simulated test loss is the exact population loss
‖S − T‖²/d_out, so only the accuracies carry test-set sampling noise.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from linear_grok import __version__
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.plotting import save
from linear_grok.results import load_results, report_bad_outputs, save_results
from linear_grok.settings.linear import simulator, theory
from linear_grok.validation import require


def parse_args(argv):
    p = ArgumentParser(prog="python -m experiments.compare", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--lams", type=float, nargs="+", default=[0.1, 0.5, 0.9, 1.05, 1.5, 2.0])
    p.add_argument("--d-in", type=int, default=400)
    p.add_argument("--d-out", type=int, default=1)
    p.add_argument("--eta", type=float, default=0.01)
    p.add_argument("--eps", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, default=8, help="number of seeds (0, 1, ...)")
    p.add_argument("--steps", type=int, default=3000, help="last GD step")
    p.add_argument("--windows", type=float, nargs="+", default=[1, 3, 10, 30],
                   help="τ = η·steps windows for the deviation table")
    p.add_argument("--n-test", type=int, default=4000)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--figures", type=Path, default=Path("figures"))
    return p.parse_args(argv)


def check_args(args) -> None:
    """Every value checked before any work (``ValueError`` naming the first bad one)."""
    finite_positive = lambda a: np.isfinite(a) & (a > 0)  # noqa: E731
    require("lams", np.asarray(args.lams), finite_positive, "> 0 and finite")
    require("eps", args.eps, finite_positive, "> 0 and finite")
    require("eta", args.eta, finite_positive, "> 0 and finite")
    require("seeds", args.seeds, lambda a: (a >= 1) & (a <= 1000), "in [1, 1000]")
    require("windows", np.asarray(args.windows), finite_positive, "> 0 and finite")
    require("steps", args.steps, lambda a: (a >= 1) & (a <= 10**9), "in [1, 10**9]")
    simulator.SimConfig(d_in=args.d_in, d_out=args.d_out, eta=args.eta, eps=(args.eps,),
                        n_test=args.n_test)
    simulator.record_schedule(args.steps, 150)
    theory.check_gd_stability(np.asarray(args.lams), args.eta, args.d_out)


def compare(args) -> dict[str, np.ndarray]:
    """Simulated and theoretical losses and accuracies, shaped (L, [S,] R)."""
    cfg = simulator.SimConfig(d_in=args.d_in, d_out=args.d_out, eta=args.eta, eps=(args.eps,),
                              n_test=args.n_test)
    steps = simulator.record_schedule(args.steps, 150)
    lams = np.asarray(args.lams, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # λ > 1 is compared on purpose
        sim = simulator.simulate_sweep(cfg, lams, np.arange(args.seeds), steps)
    kw = dict(eta=args.eta, d_out=args.d_out, form="discrete")
    log_tr, log_te = theory.log_losses(steps[None, :], lams[:, None], **kw)
    acc_tr, acc_te = theory.accuracy_curves(steps[None, :], lams[:, None], args.eps, **kw)
    return dict(lam=lams, step=steps, sim_train_loss=sim.train_loss, sim_test_loss=sim.gen_loss,
                sim_train_acc=sim.train_acc[..., 0], sim_test_acc=sim.test_acc[..., 0],
                theory_train_loss=np.exp(np.asarray(log_tr)),
                theory_test_loss=np.exp(np.asarray(log_te)),
                theory_train_acc=np.asarray(acc_tr), theory_test_acc=np.asarray(acc_te))


def deviations(res: dict, eta: float, windows) -> list[dict]:
    """Largest deviation of the seed mean from theory within each τ window, per λ."""
    norm = res["sim_test_loss"][..., :1] / res["theory_test_loss"][:, None, :1]
    rows = []
    for i, lam in enumerate(res["lam"]):
        for w in windows:
            sel = eta * res["step"] <= w
            row = {"lam": float(lam), "tau_max": float(w)}
            for which in ("train", "test"):
                sim_loss = (res[f"sim_{which}_loss"][i] / norm[i]).mean(0)[sel]
                rel = np.abs(sim_loss / res[f"theory_{which}_loss"][i, sel] - 1)
                row[f"loss_{which}"] = float(rel.max())
                acc = res[f"sim_{which}_acc"][i].mean(0)[sel]
                row[f"acc_{which}"] = float(np.abs(acc - res[f"theory_{which}_acc"][i, sel]).max())
            rows.append(row)
    return rows


def draw(res: dict, args, path: Path) -> Path:
    lams = res["lam"]
    fig, axes = plt.subplots(2, lams.size, figsize=(3.2 * lams.size, 6.2), squeeze=False)
    steps = res["step"]
    for i, lam in enumerate(lams):
        for row, kind in enumerate(("loss", "acc")):
            ax = axes[row, i]
            for which, color in (("train", "tab:blue"), ("test", "tab:orange")):
                ax.plot(steps[1:], res[f"sim_{which}_{kind}"][i, :, 1:].T, color=color, lw=0.5,
                        alpha=0.4)
                ax.plot(steps[1:], res[f"theory_{which}_{kind}"][i, 1:], "k--", lw=1)
            ax.set_xscale("log")
            if kind == "loss":
                ax.set_yscale("log")
                ax.set_title(f"λ = {lam:g}", fontsize=9)
            else:
                ax.set_xlabel("GD steps")
    axes[0, 0].set_ylabel("loss (blue train, orange test; dashed MP theory)")
    axes[1, 0].set_ylabel(f"accuracy at ε = {args.eps:g}")
    fig.suptitle(f"Simulation ({args.seeds} seeds, d_in = {args.d_in}, d_out = {args.d_out}, "
                 f"η = {args.eta:g}) against discrete-GD MP theory", fontsize=9)
    save(fig, path)
    return path


@command
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    # Before any work: a bad output folder found at the end would lose the run.
    if report_bad_outputs({"--out": args.out, "--figures": args.figures}):
        return 2
    try:
        check_args(args)
    except ValueError as err:
        return user_error(err)
    res = compare(args)
    rows = deviations(res, args.eta, args.windows)
    print("max deviation of the seed mean from theory (losses relative, normalised by ‖D₀‖²; "
          "accuracies absolute)")
    print(f"{'lambda':>7} {'tau<=':>6} {'L_tr':>8} {'L_gen':>8} {'A_tr':>8} {'A_gen':>8}")
    for r in rows:
        print(f"{r['lam']:7.3g} {r['tau_max']:6g} {r['loss_train']:8.3%} {r['loss_test']:8.3%} "
              f"{r['acc_train']:8.4f} {r['acc_test']:8.4f}")
    command = shlex.join(["python", "-m", "experiments.compare", *argv])
    npz, _ = save_results(args.out / "compare", res, {"experiment": "compare", "config": vars(args),
                                                      "deviations": rows, "command": command})
    print(f"wrote {npz} (+ .json)")
    for fig in draw_figures(args.out / "compare", args.figures):
        print(f"wrote {fig}")
    return 0


def draw_figures(path, figdir) -> list[Path]:
    """The comparison figure from a saved ``compare`` result (as ``experiments.figures`` redraws it)."""
    res, meta = load_results(path, require=("lam", "step"))
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    return [draw(res, argparse.Namespace(**meta["config"]), figdir / "compare_theory_simulation.png")]


if __name__ == "__main__":
    sys.exit(main())
