"""Bootstrap intervals, tested the way users meet them: coverage of the true measures on bounded,
binomial, clipped, batch-averaged and autocorrelated accuracy curves (docs/theory.md §17), the
pieces against independent references (the hat matrix's trace, the AR generator, Monte Carlo
moments, Student's t), reproducibility, failed pairs, and the intervals over seeds."""

import numpy as np
import pytest
from scipy import signal, special, stats

from linear_grok import coverage, grokking, intervals, pipeline
from linear_grok.coverage import CoverageCase

T = np.linspace(0.0, 1000.0, 300)


def erf_pair(noise):
    clean = [0.5 * special.erf(a * (T - b)) + 0.5 for a, b in ((0.02, 300.0), (0.01, 600.0))]
    return clean[0] + noise[0], clean[1] + noise[1]


# One row per noise model users meet (logistic jumps, c and d fixed), and the binomial bootstrap
# told the evaluation-set size. 200 noisy pairs each measure a coverage near 92 % to ±2 % (one
# binomial standard error; 9 rows × 5 measures are tested), so the target band 90–98 % is widened
# by about three of them below and one above. Measured on 1000 pairs (seed 1), the logistic
# binomial_250 row, the lowest of these at seed 0 (85 % for b_train), covers 91 %.
# The unbounded gaussian row and binomial_1000 (between binomial_250 and the gaussian) run with
# ``-m slow`` only: the bounded, correlated rows are the ones users meet and stay in the suite.
SLOW_NOISE = ("gaussian", "binomial_1000")
SUITE_ROWS = [CoverageCase("logistic", noise) for noise in coverage.NOISE_MODELS] + [
    CoverageCase("erf", "binomial_100", method="binomial"),
    CoverageCase("erf", "binomial_250", fixed_cd=False)]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.noise in SLOW_NOISE and
                 c.family == "logistic" else []) for c in SUITE_ROWS])
def test_95_percent_intervals_cover_the_truth_on_accuracy_curves(case):
    row = coverage.measure_coverage(case, n_curves=200, n_boot=100, seed=0)
    assert row["n"] >= 195
    for name, covered in row["coverage"].items():
        if case.noise == "clipped_gaussian":
            # Documented: conservative there (99–100 % in the full table), never too narrow.
            assert covered >= 0.95, (name, covered)
        else:
            assert 0.85 <= covered <= 0.99, (name, covered)
    assert all(v == 1.0 for v in row["contains_estimate"].values())


@pytest.mark.slow
def test_the_full_coverage_table_of_the_docs():
    """Every row of docs/theory.md §17 (about 20 min on 2 cores; ``-m slow``)."""
    for case in coverage.all_cases():
        row = coverage.measure_coverage(case, n_curves=200, n_boot=200, seed=0)
        assert all(v == 1.0 for v in row["contains_estimate"].values()), case.name
        known_misses = (case.noise == "clipped_gaussian" or (case.noise == "ar1" and not case.fixed_cd))
        if not known_misses:
            assert all(0.85 <= v <= 0.99 for v in row["coverage"].values()), (case.name, row)


def test_the_issue_example_binomial_and_clipped_curves_are_covered_and_hold_their_estimate():
    # 40 noisy copies of a logistic pair (train jump at 700, test at 2600, 1000 points), measured as
    # a new user would; the percentile residual bootstrap covered the gap 60 % and 17 % of the time.
    t = np.linspace(0.0, 4000.0, 1000)
    clean = [0.5 * np.tanh(a * (t - b) / 2) + 0.5 for a, b in ((0.03, 700.0), (0.01, 2600.0))]
    rng = np.random.default_rng(7)
    for noisy in (lambda p: rng.binomial(250, p, (40, t.size)) / 250,
                  lambda p: np.clip(p + 0.004 * rng.standard_normal((40, t.size)), 0, 1)):
        y_tr, y_te = noisy(clean[0]), noisy(clean[1])
        m = grokking.measure_grokking(t, y_tr, y_te, shape="logistic", c=0.5, d=0.5)
        m = intervals.bootstrap(t, y_tr, y_te, m, level=0.95, n_boot=100)
        lo, hi = m.intervals.lower["relative_gap"], m.intervals.upper["relative_gap"]
        assert np.mean((lo <= 2600 / 700 - 1) & (2600 / 700 - 1 <= hi)) >= 0.85
        assert np.all((lo <= m.relative_gap) & (m.relative_gap <= hi))


def test_leverages_sum_to_the_free_parameters():
    # The hat matrix J(JᵀJ)⁻¹Jᵀ is a projection onto the span of the k free parameters' columns:
    # its trace is k (2 with c, d fixed; 4 free; 5 for Richards with c, d free).
    rng = np.random.default_rng(0)
    y_tr, y_te = erf_pair(0.02 * rng.standard_normal((2, 3, T.size)))
    for kwargs, shape, k in (({"c": 0.5, "d": 0.5}, "erf", 2), ({}, "logistic", 4), ({}, "richards", 5)):
        m = grokking.measure_grokking(T, y_tr, y_te, shape=shape, **kwargs)
        free_cd = ("c" not in kwargs, "d" not in kwargs)
        h = intervals.leverage(m.test, np.broadcast_to(T, y_te.shape), free_cd)
        np.testing.assert_allclose(h.sum(axis=1), k, rtol=1e-8)
        assert np.all((h >= 0) & (h <= 1))


def test_the_sieve_finds_the_generating_autoregression_and_none_in_white_or_binomial_noise():
    rng = np.random.default_rng(1)
    ar1 = signal.lfilter([1.0], [1.0, -0.7], rng.standard_normal((20, 1000)), axis=-1)
    phi = intervals.ar_sieve(ar1)
    assert abs(np.median(phi[:, 0]) - 0.7) < 0.03
    white = intervals.ar_sieve(rng.standard_normal((200, 1000)))
    assert np.mean(np.all(white == 0, axis=1)) >= 0.8  # AIC's false positives: ~16 % per order
    # Binomial residuals of a sharp jump: variance in ~40 of 1000 points; the effective count
    # keeps AIC from reading their products as structure.
    p = 0.5 * special.erf(0.02 * (np.arange(1000.0) - 500)) + 0.5
    binomial = rng.binomial(250, p, (200, 1000)) / 250 - p
    assert np.mean(np.all(intervals.ar_sieve(binomial) == 0, axis=1)) >= 0.8


def test_wild_and_binomial_replicates_keep_mean_variance_and_the_valid_range():
    rng = np.random.default_rng(2)
    fitted = np.array([[0.3, 0.5, 0.98]])
    resid = np.array([[0.05, -0.02, 0.01]])
    star = intervals.wild_replicates(rng, fitted, resid, np.zeros((1, 3)), np.zeros(1), np.ones(1), 20000)
    np.testing.assert_allclose(star[:, 0, :2].mean(axis=0), fitted[0, :2], atol=2e-3)
    np.testing.assert_allclose(star[:, 0, :2].std(axis=0), np.abs(resid[0, :2]), rtol=1e-2)
    assert star.max() <= 1.0  # 0.98 + 0.01 fits; a sign that would pass 1 is clipped
    binom = intervals.binomial_replicates(rng, fitted, np.array([250.0]), 20000)
    np.testing.assert_allclose(binom.mean(axis=0)[0], fitted[0], atol=2e-3)
    np.testing.assert_allclose(binom.var(axis=0)[0], fitted[0] * (1 - fitted[0]) / 250, rtol=0.05)
    assert np.all((binom >= 0) & (binom <= 1)) and np.allclose(binom * 250, np.round(binom * 250))


def test_single_pair_intervals_are_reproducible_and_hold_the_estimate():
    rng = np.random.default_rng(2)
    y_tr, y_te = erf_pair(0.03 * rng.standard_normal((2, T.size)))
    m = grokking.measure_grokking(T, y_tr, y_te, chance=0.0)
    a = intervals.bootstrap(T, y_tr, y_te, m, n_boot=100, seed=5)
    b = intervals.bootstrap(T, y_tr, y_te, m, n_boot=100, seed=5)
    assert a.intervals.lower == b.intervals.lower and isinstance(a.intervals.lower["relative_gap"], float)
    estimates = grokking.pair_measures(m.train, m.test)
    for name, value in estimates.items():
        assert a.intervals.lower[name] < value < a.intervals.upper[name]
    with pytest.raises(ValueError, match="^level must be in"):
        intervals.bootstrap(T, y_tr, y_te, m, level=95)
    with pytest.raises(ValueError, match="n_eval .* method='binomial' only"):
        intervals.bootstrap(T, y_tr, y_te, m, method="binomial")


def test_failed_pairs_get_no_interval():
    rng = np.random.default_rng(3)
    y_tr, y_te = erf_pair(0.03 * rng.standard_normal((2, 2, T.size)))
    y_te[1] = 0.1  # no jump in the test curve of the second pair
    m = grokking.measure_grokking(T, y_tr, y_te, chance=0.0)
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
    m = grokking.measure_grokking(t, y_tr, y_te, chance=0.0)
    m = intervals.bootstrap(t, y_tr, y_te, m, n_boot=60, seed=0)
    for i, jump in enumerate((600.0, 300.0)):
        assert m.intervals.lower["jump_test"][i] < jump < m.intervals.upper["jump_test"][i]


def test_curves_like_the_rows_that_miss_their_target_are_warned_about():
    rng = np.random.default_rng(5)
    ar = coverage.noisy_pairs(CoverageCase("erf", "ar1", fixed_cd=False), 2, rng)
    binom = coverage.noisy_pairs(CoverageCase("erf", "binomial_250"), 2, rng)
    free = grokking.measure_grokking(coverage.TIME, ar[0], ar[1])
    notes = intervals.bootstrap(coverage.TIME, ar[0], ar[1], free, n_boot=20).intervals.notes
    assert all(intervals.NOTE_CORRELATED in n for n in notes)
    fixed = grokking.measure_grokking(coverage.TIME, binom[0], binom[1], c=0.5, d=0.5)
    assert all(n == "" for n in intervals.bootstrap(coverage.TIME, binom[0], binom[1], fixed,
                                                    n_boot=20).intervals.notes)


def test_intervals_over_seeds_are_students_t_intervals_per_group():
    rng = np.random.default_rng(6)
    gap = rng.lognormal(0.0, 0.3, (3, 4))  # 3 grid points × 4 seeds
    arrays = {"ok": np.ones((3, 4), dtype=bool), "relative_gap": gap, "relative_sharpness": gap * 2,
              "absolute_sharpness": gap * 3}
    arrays["ok"][2, 1] = False
    labels = {"lam": np.array([[0.5], [0.7], [0.9]]), "seed": np.arange(4)[None, :]}
    out = pipeline.seed_intervals(arrays, labels, 0.9)
    for i in range(3):
        x = gap[i][arrays["ok"][i]]
        lo, hi = stats.t.interval(0.9, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        np.testing.assert_allclose(out["relative_gap_seeds_lo"][i], lo, rtol=1e-12)
        np.testing.assert_allclose(out["relative_gap_seeds_hi"][i], hi, rtol=1e-12)
        np.testing.assert_allclose(out["relative_gap_seeds_sd"][i], x.std(ddof=1), rtol=1e-12)
    assert out["n_seeds_ok"][2, 0] == 3
