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


def interrupt_at_random(tmp_path: Path, tries: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = tmp_path / "results"
    first = sweep(out)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    previous = check_pair(out)
    full = sweep(out)
    full.stdout.readline()  # the command has started its work
    start = time.perf_counter()
    full.wait(timeout=300)
    duration = time.perf_counter() - start
    previous = check_pair(out)
    outcomes = set()
    for _ in range(tries):
        proc = sweep(out)
        proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 1.1 * duration))
        proc.send_signal(rng.choice([signal.SIGINT, signal.SIGTERM]))
        _, err = proc.communicate(timeout=300)  # never a hang
        assert proc.returncode in (0, 130), err
        if proc.returncode == 130:
            lines = err.strip().splitlines()
            assert "Traceback" not in err and lines[-1].startswith("interrupted:"), err
        pair = check_pair(out)
        assert pair is not None
        outcomes.add("kept" if pair == previous else "new")
        previous = pair
    assert outcomes  # both outcomes occur over many tries; a few may all land on one


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
