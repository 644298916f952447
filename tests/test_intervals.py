"""Bootstrap intervals: coverage of the true parameters on synthetic curves with known jumps
(independent and autocorrelated noise), reproducibility from the seed, and failed pairs."""

import numpy as np
import pytest
from scipy import signal, special

from linear_grok import intervals, measures

T = np.linspace(0.0, 1000.0, 300)
TRAIN, TEST = (0.02, 300.0), (0.01, 600.0)  # (a, b) of ½ erf(a(t − b)) + ½
TRUTH = {"jump_train": 300.0, "jump_test": 600.0, "relative_gap": 1.0, "relative_sharpness": 0.5,
         "absolute_sharpness": 0.01 / np.sqrt(np.pi)}


def curves(noise):
    clean = [0.5 * special.erf(a * (T - b)) + 0.5 for a, b in (TRAIN, TEST)]
    return clean[0] + noise[0], clean[1] + noise[1]


def coverage(m):
    return {k: np.mean((m.intervals.lower[k] <= v) & (v <= m.intervals.upper[k]))
            for k, v in TRUTH.items()}


def test_95_percent_intervals_cover_the_truth_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    y_tr, y_te = curves(0.03 * rng.standard_normal((2, 200, T.size)))
    m = measures.measure_grokking(T, y_tr, y_te, chance=0.0)
    m = intervals.bootstrap(T, y_tr, y_te, m, level=0.95, n_boot=300, seed=0)
    assert m.intervals.block == 1  # independent residuals: the plain residual bootstrap
    for name, covered in coverage(m).items():
        assert 0.90 <= covered <= 0.99, (name, covered)
    assert np.all(m.intervals.n_ok == 300)


def test_blocks_keep_coverage_with_autocorrelated_residuals():
    rng = np.random.default_rng(1)
    rho = 0.7
    ar = signal.lfilter([1], [1, -rho], rng.standard_normal((2, 100, T.size)) * np.sqrt(1 - rho**2), axis=-1)
    y_tr, y_te = curves(0.02 * ar)
    m = measures.measure_grokking(T, y_tr, y_te, chance=0.0)
    blocks = intervals.bootstrap(T, y_tr, y_te, m, n_boot=150, seed=0)
    single = intervals.bootstrap(T, y_tr, y_te, m, n_boot=150, seed=0, block=1)
    assert blocks.intervals.block > 5
    for name in ("jump_train", "jump_test", "relative_gap"):
        # Resampling single residuals ignores the correlation and covers about half the time.
        assert coverage(blocks)[name] >= 0.75 and coverage(blocks)[name] > coverage(single)[name] + 0.15


def test_single_pair_intervals_are_reproducible_and_bracket_the_estimate():
    rng = np.random.default_rng(2)
    y_tr, y_te = curves(0.03 * rng.standard_normal((2, T.size)))
    m = measures.measure_grokking(T, y_tr, y_te, chance=0.0)
    a = intervals.bootstrap(T, y_tr, y_te, m, n_boot=100, seed=5)
    b = intervals.bootstrap(T, y_tr, y_te, m, n_boot=100, seed=5)
    assert a.intervals == b.intervals and isinstance(a.intervals.lower["relative_gap"], float)
    estimates = {"jump_train": m.train.b, "jump_test": m.test.b, "relative_gap": m.relative_gap,
                 "relative_sharpness": m.relative_sharpness, "absolute_sharpness": m.absolute_sharpness}
    for name, value in estimates.items():
        assert a.intervals.lower[name] < value < a.intervals.upper[name]
    with pytest.raises(ValueError, match="^level must be in"):
        intervals.bootstrap(T, y_tr, y_te, m, level=95)


def test_failed_pairs_get_no_interval():
    rng = np.random.default_rng(3)
    y_tr, y_te = curves(0.03 * rng.standard_normal((2, 2, T.size)))
    y_te[1] = 0.1  # no jump in the test curve of the second pair
    m = measures.measure_grokking(T, y_tr, y_te, chance=0.0)
    m = intervals.bootstrap(T, y_tr, y_te, m, n_boot=50, seed=0)
    assert np.isfinite(m.intervals.lower["relative_gap"][0])
    assert np.isnan(m.intervals.lower["relative_gap"][1]) and m.intervals.n_ok[1] == 0


def test_pairs_on_their_own_time_grids():
    # Two runs logged on different grids (the second twice as dense, half as long).
    rng = np.random.default_rng(4)
    t = np.stack([T, T / 2])
    y_tr = 0.5 * special.erf(0.02 * (t - np.array([[300.0], [150.0]]))) + 0.5
    y_te = 0.5 * special.erf(0.01 * (t - np.array([[600.0], [300.0]]))) + 0.5
    y_tr, y_te = y_tr + 0.02 * rng.standard_normal(t.shape), y_te + 0.02 * rng.standard_normal(t.shape)
    m = measures.measure_grokking(t, y_tr, y_te, chance=0.0)
    m = intervals.bootstrap(t, y_tr, y_te, m, n_boot=60, seed=0)
    for i, jump in enumerate((600.0, 300.0)):
        assert m.intervals.lower["jump_test"][i] < jump < m.intervals.upper["jump_test"][i]
