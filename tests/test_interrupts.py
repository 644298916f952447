"""Interrupting a command: a real ``experiments.lambda_sweep`` process sent SIGINT or SIGTERM at
a random moment of its work ends with status 130 and one line (or finishes, status 0), never
hangs, and leaves its result pair either as it was before or complete and new, never mixed or
half-written. (A signal during the interpreter's start-up, before the command prints its first
line, meets Python's own handling: nothing has been written then.)"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from linear_grok.results import load_results, save_results

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [sys.executable, "-m", "experiments.lambda_sweep", "--n-lam", "6", "--n-time", "400",
         "--no-figures", "--no-progress", "--overwrite"]


def sweep(out: Path) -> subprocess.Popen:
    return subprocess.Popen([*SWEEP, "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))


def check_pair(out: Path) -> str | None:
    """The pair token of the one result pair in ``out`` (None if there is none); no stray files."""
    names = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert all(not n.endswith(".tmp") for n in names), names
    names = [n for n in names if n.endswith((".npz", ".json"))]  # the CSV tables aside
    if not names:
        return None
    stem = names[0].removesuffix(".json")
    assert names == [f"{stem}.json", f"{stem}.npz"], names
    _, meta = load_results(out / stem)  # raises on a mixed pair
    return meta["pair"]


def interrupt(out: Path, signum: int, delay: float | None) -> tuple[int, str]:
    """Send one sweep ``signum`` ``delay`` seconds after its first line (None: as soon as it has
    reported its result pair written); its exit status and the token of the pair it leaves."""
    proc = sweep(out)
    proc.stdout.readline()  # the command has started its work
    if delay is None:
        for line in proc.stdout:
            if ".npz (+ .json)" in line:
                break
    else:
        time.sleep(delay)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)  # never a hang
    assert proc.returncode in (0, 130), err
    if proc.returncode == 130:
        lines = err.strip().splitlines()
        assert "Traceback" not in err and lines[-1].startswith("interrupted:"), err
    pair = check_pair(out)
    assert pair is not None
    return proc.returncode, pair


def interrupt_at_random(tmp_path: Path, tries: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = tmp_path / "results"
    first = sweep(out)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert check_pair(out) is not None
    full = sweep(out)
    full.stdout.readline()  # the command has started its work
    start = time.perf_counter()
    full.wait(timeout=300)
    duration = time.perf_counter() - start
    previous = check_pair(out)
    # Both outcomes, pinned: a signal as the work starts keeps the previous pair (the sweep takes
    # seconds and writes only at its end); one after the pair is reported written keeps the new.
    status, pair = interrupt(out, signal.SIGINT, 0.0)
    assert status == 130 and pair == previous
    status, pair = interrupt(out, signal.SIGTERM, None)
    assert pair != previous
    previous = pair
    for _ in range(tries):
        status, pair = interrupt(out, rng.choice([signal.SIGINT, signal.SIGTERM]),
                                 rng.uniform(0.0, 1.1 * duration))
        # Kept or new (check_pair); a sweep that finished wrote a new pair (a new token each write).
        assert status == 130 or pair != previous
        previous = pair


def test_interrupted_sweeps_leave_a_whole_pair(tmp_path):
    interrupt_at_random(tmp_path, tries=3, seed=0)


@pytest.mark.slow
def test_interrupted_sweeps_leave_a_whole_pair_fifty_times(tmp_path):
    interrupt_at_random(tmp_path, tries=50, seed=1)


def test_a_mixed_pair_is_refused(tmp_path):
    path = tmp_path / "r"
    save_results(path, {"x": np.arange(3.0)}, {"command": "python -m something"})
    npz_first = path.with_suffix(".npz").read_bytes()
    save_results(path, {"x": np.arange(4.0)}, {"command": "python -m something"})
    arrays, meta = load_results(path)
    assert arrays["x"].size == 4 and "__pair__" not in arrays
    path.with_suffix(".npz").write_bytes(npz_first)  # as a hard kill between the renames would
    with pytest.raises(ValueError, match="different writes.*rerun: python -m something"):
        load_results(path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_stops_with_one_line(tmp_path, signum):
    """From the package's first import on (before jax, numpy and the settings are imported) a
    command notes a signal and stops at its first stop point: status 130, one line, nothing
    written. Sent at several moments of the first second; the interpreter's own start-up
    (tens of milliseconds) comes before and is waited out by starting after a short delay."""
    for delay in (0.3, 0.6, 1.0):
        proc = sweep(tmp_path / "out")
        time.sleep(delay)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 130, (delay, proc.returncode, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "out").exists()


def test_only_commands_note_signals_at_import():
    """Imported as a library the package leaves the caller's handlers alone; started as
    ``python -m experiments.X`` / ``linear_grok.X`` or a console script, it notes them."""
    from linear_grok.cli import started_as_command

    python = sys.executable
    assert started_as_command([python, "-m", "experiments.lambda_sweep", "--preset", "paper"])
    assert started_as_command([python, "-X", "importtime", "-m", "linear_grok.measure", "f.csv"])
    assert not started_as_command([python, "-m", "pytest", "-m", "experiments.x"])
    assert not started_as_command([python, "train.py", "-m", "experiments.x"])
    assert not started_as_command([python, "-c", "import linear_grok", "-m", "experiments.x"])
    code = ("import signal, linear_grok.grokking, linear_grok.figures, experiments.lambda_sweep; "
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
            "signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)")
    out = subprocess.run([python, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"], out.stderr
