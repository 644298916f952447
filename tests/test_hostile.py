"""Hostile input to every command: each case ends with exit status 2 and one line on stderr that
names what is wrong (``error: ...``), no traceback, and no file written; the valid neighbours of
some cases give the right numbers."""

import gzip
import os

import numpy as np
import pytest
from scipy.special import erf

from experiments import (
    compare,
    early_prediction,
    early_prediction_adamw,
    figures,
    knob_sweep,
    kumar_modular,
    lambda_sweep,
    lazy_rich_sweep,
    levi_figures,
    modular_adamw,
    parity_sweep,
    two_layer,
)
from linear_grok import measure

T = np.arange(0, 3000, 10.0)
TRAIN = 0.5 * erf(0.004 * (T - 800)) + 0.5
TEST = 0.5 * erf(0.002 * (T - 1900)) + 0.5


def write_csv(path, rows, header="step,train_acc,val_acc"):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def good_rows(scale=1.0):
    return [(t, a * scale, b * scale) for t, a, b in zip(T, TRAIN, TEST, strict=True)]


def make_inputs(tmp):
    """Files the cases point at, by name."""
    files = {
        "good": write_csv(tmp / "good.csv", good_rows()),
        "empty": tmp / "empty.csv",
        "header": tmp / "header.csv",
        "percent": write_csv(tmp / "percent.csv", good_rows(100.0)),
        "text": write_csv(tmp / "text.csv", [*good_rows()[:5], (60, "high", 0.1)]),
        "nan": write_csv(tmp / "nan.csv", [*good_rows()[:5], (60, "nan", 0.1)]),
        "conflict": write_csv(tmp / "conflict.csv", [(0, 0.1, 0.0), (0, 0.2, 0.0), (10, 0.3, 0.1)]),
        "few": write_csv(tmp / "few.csv", good_rows()[:4]),
        "binary": tmp / "binary.csv",
        "badgz": tmp / "bad.csv.gz",
        "onlytrain": write_csv(tmp / "onlytrain.csv", [(t, a, "") for t, a, _ in good_rows()]),
        "tbempty": tmp / "tb_empty",
        "negative": write_csv(tmp / "negative.csv", [(t - 1000, a, b) for t, a, b in good_rows()]),
        "a_file": tmp / "a_file.txt",
    }
    files["empty"].write_text("")
    files["header"].write_text("step,train_acc,val_acc\n")
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["badgz"].write_bytes(gzip.compress(b"step,train_acc,val_acc\n0,0.1,0.0\n" * 50)[:40])
    files["tbempty"].mkdir()
    files["a_file"].write_text("not a folder")
    return files


MEASURE_CASES = [
    (["{missing}"], "no such file"),
    (["{empty}"], "missing column"),
    (["{header}"], "no data rows"),
    (["{good}", "--train", "acc"], "missing column(s) acc; columns are step, train_acc, val_acc"),
    (["{good}", "--group", "run"], "missing column(s) run"),
    (["{percent}"], "divide them by 100"),
    (["{text}"], "column train_acc is not a number: 'high'"),
    (["{nan}"], "values must be finite"),
    (["{conflict}"], "two values of train_acc at step = 0"),
    (["{few}"], "at least 6 points"),
    (["{negative}"], "t must be >= 0 (time since the start of training); got -1000"),
    (["{binary}"], "not a UTF-8 text file"),
    (["{badgz}"], "cannot read"),
    (["{onlytrain}"], "no time with both train_acc and val_acc"),
    (["{tbempty}"], "no TensorBoard event files"),
    (["{good}", "--ci", "1.5"], "ci must be in (0, 1)"),
    (["{good}", "--ci", "-0.2"], "ci must be in (0, 1)"),
    (["{good}", "--chance", "1.2"], "chance"),
    (["{good}", "--n-boot", "3"], "n_boot must be in [20, 100000]"),
    (["{good}", "--ci", "--n-boot", str(10**30)], "n_boot must be in [20, 100000]"),
    (["{good}", "--ci", "--boot-seed", str(2**64)], "boot_seed must be in [0, 2**63)"),
    (["{good}", "--ci", "--n-eval", "0"], "n_eval must be a whole number in [1, 2**40]"),
    (["{good}", "--ci", "--n-eval", "1", "2", "3"], "n_eval takes one size or two"),
    (["{good}", "--n-eval", "250"], "n_eval applies to the intervals: add --ci"),
    (["{good}", "--ci", "nan"], "ci must be in (0, 1)"),
    (["{good}", "--min-r2", "2"], "min_r2 must be in [0, 1)"),
    (["{good}", "--json", "{good}"], "would overwrite an input file"),
    (["{good}", "--plot", "{tmp}"], "is a folder"),
    (["{good}", "--json", "{a_file}/out.json"], "--json"),
    (["{good}", "--shape", "spline"], "invalid choice: 'spline'"),
    (["{good}", "--bogus"], "unrecognized arguments: --bogus"),
    (["{good}", "--seed", "1"], "unrecognized arguments: --seed 1"),
]

# Cases the flag table cannot generate: rules across fields, memory, outputs, distributed flags.
SWEEP_CASES = [
    (["--ci", "2"], "ci must be in (0, 1)"),
    (["--n-boot", "1"], "n_boot must be in [20, 100000]"),
    (["--ci", "--n-boot", str(10**30)], "n_boot must be in [20, 100000]"),
    (["--ci", "--boot-seed", str(2**64)], "boot_seed must be in [0, 2**63)"),
    (["--ci", "--n-eval", "-1"], "n_eval must be a whole number in [1, 2**40]"),
    (["--n-lam", "1000000", "--n-time", "100000000"], "needs ~"),  # with "this machine has"
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--mode", "fast"], "invalid choice: 'fast'"),
    (["--eps", "small"], "invalid float value: 'small'"),
    (["--pres", "paper"], "unrecognized arguments: --pres"),  # no abbreviations
    (["--out", "{a_file}"], "--out"),
    (["--out", "/proc/x"], "--out /proc/x: cannot create or write in /proc"),
    (["--figures", "{a_file}", "--out", "{tmp}/r"], "--figures"),
    (["--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"], "--coordinator"),
    (["--coordinator", "localhost:1234", "--num-processes", "0", "--process-id", "0"],
     "--num-processes"),
    (["--coordinator", "localhost:1234", "--num-processes", "2", "--process-id", "5"],
     "--process-id"),
    (["--num-processes", "2"], "--num-processes"),
]

PARITY_CASES = [
    (["--input-sizes", "10000", "--n-train", "1000000"], "needs ~"),
    (["--inputs", "binary"], "invalid choice: 'binary'"),
    (["--accuracy", "full-set", "--full-set-metrics"], "full_set_metrics must be False"),
    (["--out", "{a_file}"], "--out"),
]

LAZY_RICH_CASES = [
    (["--preset", "huge"], "invalid choice: 'huge'"),
    (["--heatmap", "huge"], "invalid choice: 'huge'"),
    (["--heatmap", "quick", "--seeds", "0", "1"], "unrecognized arguments: --seeds 0 1"),
    (["--out", "{a_file}"], "--out"),
]

COMMANDS = {"lambda_sweep": lambda_sweep.COMMAND, "parity_sweep": parity_sweep.COMMAND,
            "lazy_rich_sweep": lazy_rich_sweep.COMMAND, "lazy_rich_heatmap": lazy_rich_sweep.HEATMAP,
            "early_prediction": early_prediction.COMMAND, "compare": compare.COMMAND,
            "levi_figures": levi_figures.COMMAND, "knob_sweep": knob_sweep.COMMAND,
            "two_layer": two_layer.COMMAND, "kumar_modular": kumar_modular.COMMAND,
            "modular_adamw": modular_adamw.COMMAND,
            "early_prediction_adamw": early_prediction_adamw.COMMAND}


def table_cases() -> list:
    """From every command's flag table: each numeric flag with each value outside its rule
    (below, above, non-finite, huge), each choice flag with a value it does not offer."""
    cases = []
    for name, cmd in COMMANDS.items():
        lead = [cmd.preset_flag, next(iter(cmd.presets))] if cmd.preset_flag != "--preset" else []
        for flag in cmd.flags:
            if flag.rule is not None:
                for value in flag.rule.outside():
                    cases.append(pytest.param(cmd, [*lead, flag.name, value], flag.name,
                                              id=f"{name} {flag.name} {value}"))
            elif flag.choices:
                cases.append(pytest.param(cmd, [*lead, flag.name, "bogus"], flag.name,
                                          id=f"{name} {flag.name} bogus"))
    return cases


@pytest.mark.parametrize("cmd, argv, message", table_cases())
def test_every_flag_refuses_values_outside_its_rule(tmp_path, capsys, cmd, argv, message):
    """One line naming the flag (its rule's range, or argparse's "invalid int value" for a
    number that is not a whole one), exit status 2, nothing written."""
    check(tmp_path, capsys, cmd.main, argv, message,
          extra=["--out", "{tmp}/results", "--no-figures", "--no-progress"])


def test_every_number_flag_is_bounded():
    """A rule with no upper bound would let 1e300 or 10**30 through to the run."""
    for cmd in COMMANDS.values():
        for flag in cmd.flags:
            assert flag.rule is None or flag.rule.hi is not None, flag.name


def test_help_states_each_rule(capsys):
    """The flag table writes the help: every rule's range is in the command's --help."""
    for cmd in COMMANDS.values():
        text = " ".join(cmd.parser().format_help().split())
        for flag in cmd.flags:
            if flag.rule is not None:
                assert f"{flag.name} " in text and flag.rule.text() in text, (flag.name, text)


FIGURE_CASES = [
    (["--results", "{missing}"], "--results"),
    (["--results", "{tmp}", "--figures", "{a_file}"], "--figures"),
]


def run(main, argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return exc.code


def check(tmp_path, capsys, main, argv, message, extra=()):
    files = make_inputs(tmp_path)
    names = {k: str(v) for k, v in files.items()} | {"missing": str(tmp_path / "nope.csv"),
                                                     "tmp": str(tmp_path)}
    before = sorted(os.listdir(tmp_path))
    argv = [a.format(**names) for a in argv] + [a.format(**names) for a in extra]
    status = run(main, argv)
    err = capsys.readouterr().err
    assert status == 2, (argv, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0], (message, lines[0])
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == before  # nothing written


COMPARE_CASES = [
    (["--eta", "5"], "for stable GD"),
    (["--d-in", "100000", "--seeds", "1000"], "needs ~"),
]


@pytest.mark.parametrize("argv, message", COMPARE_CASES)
def test_compare_refuses(tmp_path, capsys, argv, message):
    check(tmp_path, capsys, compare.main, argv, message,
          extra=["--out", "{tmp}/results", "--figures", "{tmp}/figs"])


@pytest.mark.parametrize("argv, message", MEASURE_CASES)
def test_measure_refuses(tmp_path, capsys, argv, message):
    check(tmp_path, capsys, measure.main, argv, message)


@pytest.mark.parametrize("argv, message", SWEEP_CASES)
def test_lambda_sweep_refuses(tmp_path, capsys, argv, message):
    out = [] if "--out" in argv else ["--out", "{tmp}/results"]
    check(tmp_path, capsys, lambda_sweep.main, argv, message,
          extra=[*out, "--no-progress"] + ([] if "--figures" in argv else ["--no-figures"]))


@pytest.mark.parametrize("argv, message", PARITY_CASES)
def test_parity_sweep_refuses(tmp_path, capsys, argv, message):
    out = [] if "--out" in argv else ["--out", "{tmp}/results"]
    check(tmp_path, capsys, parity_sweep.main, argv, message,
          extra=[*out, "--no-progress", "--no-figures"])


@pytest.mark.parametrize("argv, message", LAZY_RICH_CASES)
def test_lazy_rich_sweep_refuses(tmp_path, capsys, argv, message):
    out = [] if "--out" in argv else ["--out", "{tmp}/results"]
    check(tmp_path, capsys, lazy_rich_sweep.main, argv, message,
          extra=[*out, "--no-figures", "--no-progress"])


@pytest.mark.parametrize("argv, message", FIGURE_CASES)
def test_figures_refuse(tmp_path, capsys, argv, message):
    extra = [] if "--figures" in argv else ["--figures", "{tmp}/figs"]
    check(tmp_path, capsys, figures.main, argv, message, extra=extra)


def test_the_valid_neighbours_measure_right(tmp_path, capsys):
    """The same curves as fractions, as a gzipped file with a byte-order mark: the right jumps."""
    files = make_inputs(tmp_path)
    gz = tmp_path / "good.csv.gz"
    gz.write_bytes(gzip.compress(("\ufeff" + files["good"].read_text()).encode()))
    for path in (files["good"], gz):
        results = measure.run(measure.parse_args([str(path), "--ci", "0"]))
        m = results["all"]
        assert m.ok and m.train.jump_time == pytest.approx(800, rel=1e-6)
        assert m.test.jump_time == pytest.approx(1900, rel=1e-6)
        assert m.relative_sharpness == pytest.approx(0.5, rel=1e-6)
    capsys.readouterr()


def test_outputs_that_are_not_regular_files_are_refused_and_results_get_a_figures_mode(tmp_path, capsys):
    files = make_inputs(tmp_path)
    fifo, link = tmp_path / "fifo", tmp_path / "link.json"
    os.mkfifo(fifo)
    link.symlink_to(tmp_path / "target.json")
    for argv, message in (
            (["--json", "/dev/null"], "is not a regular file (a device, FIFO or socket)"),
            (["--json", str(fifo)], "is not a regular file"),
            (["--json", str(link)], "is a symbolic link"),
            (["--json", str(tmp_path / "a.png"), "--plot", str(tmp_path / "a.png")],
             "--json and --plot name the same file")):
        before = sorted(os.listdir(tmp_path))
        assert run(measure.main, [str(files["good"]), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert sorted(os.listdir(tmp_path)) == before and fifo.exists() and not fifo.is_file()
    out = tmp_path / "m.json"
    mask = os.umask(0o022)
    try:
        assert run(measure.main, [str(files["good"]), "--json", str(out)]) == 0
    finally:
        os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_output_folder_that_is_a_link_to_nothing_is_refused(tmp_path, capsys, name):
    """--out and --figures as a dangling symbolic link (or below one): one line, status 2, no
    traceback, nothing created through the link."""
    cmd = COMMANDS[name]
    lead = [cmd.preset_flag, next(iter(cmd.presets))] if cmd.preset_flag != "--preset" else []
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nothing")
    for flag, value in (("--out", link), ("--figures", link / "sub")):
        other = ["--figures", str(tmp_path / "figs")] if flag == "--out" else [
            "--out", str(tmp_path / "results")]
        assert run(cmd.main, [*lead, flag, str(value), *other, "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and flag in err[0] and "link to nothing" in err[0], err
    assert sorted(os.listdir(tmp_path)) == ["link"]


@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo"])
def test_a_result_name_that_is_not_a_regular_file_is_never_replaced(tmp_path, capsys, kind):
    """Even with --overwrite: one line, exit status 2, the thing left as it was, no temporary."""
    out = tmp_path / "results"
    out.mkdir()
    target = out / "lambda_sweep_quick_exact.npz"
    if kind == "folder":
        target.mkdir()
    elif kind == "symlink":
        target.symlink_to(tmp_path / "elsewhere.npz")
    else:
        os.mkfifo(target)
    status = run(lambda_sweep.main, ["--out", str(out), "--overwrite", "--no-figures", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "is not a regular file" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == [target.name]
    assert target.is_symlink() if kind == "symlink" else not target.is_file()


def test_a_second_run_of_the_same_result_refuses_while_the_first_runs(tmp_path, capsys):
    """The lock of a running result: a second run refuses at once, naming it."""
    from linear_grok import runner

    out = tmp_path / "results"
    path = out / "lambda_sweep_quick_exact"
    with runner._locked([path]):
        status = run(lambda_sweep.main, ["--out", str(out), "--no-figures", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "another run is writing this result now" in err[0], err
    assert not path.with_suffix(".npz").exists()


def test_figures_skip_each_unreadable_result_by_name_and_draw_the_rest(tmp_path, capsys):
    out, figs = tmp_path / "results", tmp_path / "figs"
    assert lambda_sweep.main(["--n-lam", "3", "--n-time", "300", "--out", str(out), "--no-figures",
                              "--no-progress"]) == 0
    (good,) = out.glob("lambda_sweep_*.npz")
    data, sidecar = good.read_bytes(), good.with_suffix(".json").read_text()
    broken = {"truncated": (data[: len(data) // 2], sidecar), "empty": (b"", sidecar),
              "no_sidecar": (data, None), "bad_sidecar": (data, "{not json"),
              "no_experiment": (data, "{}")}
    for name, (npz, meta) in broken.items():
        (out / f"{name}.npz").write_bytes(npz)
        if meta is not None:
            (out / f"{name}.json").write_text(meta)
    capsys.readouterr()
    assert figures.main(["--results", str(out), "--figures", str(figs)]) == 1
    captured = capsys.readouterr()
    skipped = captured.err.strip().splitlines()
    assert len(skipped) == len(broken), skipped
    for name in broken:
        assert sum(line.startswith(f"skipped {out / name}.npz: ") for line in skipped) == 1, name
    assert "Traceback" not in captured.err
    stem = good.stem.removeprefix("lambda_sweep_")
    assert {f"linear_fig{n}_{stem}.png" for n in (1, 3, 6)} <= {p.name for p in figs.iterdir()}
