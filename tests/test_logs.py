"""The logs researchers already have, read by the measure command: a Lightning-shaped
``metrics.csv``, a CSV with a byte-order mark, a gzipped CSV, JSON lines (plain, gzipped, nested),
a JSON history (column-wise, as ``json.dump(history, f, indent=2)`` writes it, or an array of
records), a Hugging Face ``trainer_state.json``, an MLflow file store (written by hand and, when MLflow is
installed, by MLflow) and a TensorBoard log written by TensorBoard's own writer give the same
curves, hence the same measures, as a plain CSV; the jump times are those of the curves that were
written. Malformed files are one-line errors naming the file (and line)."""

import gzip
import json
import math
import re
import time

import numpy as np
import pytest
from scipy.special import erf

from linear_grok import logs, measure

EPOCHS = np.arange(0, 400)
TRAIN = 0.5 * erf(0.02 * (EPOCHS - 100)) + 0.5
VAL = 0.5 * erf(0.01 * (EPOCHS - 250)) + 0.5


def plain_csv(path):
    path.write_text("epoch,train_acc,val_acc\n" + "".join(
        f"{e},{float(a)!r},{float(b)!r}\n" for e, a, b in zip(EPOCHS, TRAIN, VAL, strict=True)))
    return path


def lightning_csv(path):
    """As Lightning's CSVLogger writes it: one row per logging call, train and validation metrics
    on separate rows sharing epoch and step, other metrics and empty cells around them."""
    rows = ["epoch,step,train_acc,train_loss,val_acc,val_loss"]
    for e, a, b in zip(EPOCHS, TRAIN, VAL, strict=True):
        step = 10 * (e + 1) - 1
        rows.append(f"{e},{step - 5},,{1 - a:.6f},,")  # a step-level row of another metric
        rows.append(f"{e},{step},{float(a)!r},{float(1 - a)!r},,")
        rows.append(f"{e},{step},,,{float(b)!r},{float(1 - b)!r}")
    path.write_text("\n".join(rows) + "\n")
    return path


def measured(path, *args):
    results = measure.run(measure.parse_args([str(path), "--time", "epoch", "--ci", "0", *args]))
    return results["all"]


def test_every_csv_flavour_gives_the_plain_csvs_curves_and_measures(tmp_path):
    reference = measured(plain_csv(tmp_path / "plain.csv"))
    assert reference.ok
    assert reference.train.jump_time == pytest.approx(100, rel=1e-6)
    assert reference.test.jump_time == pytest.approx(250, rel=1e-6)
    bom = tmp_path / "bom.csv"
    bom.write_text(plain_csv(tmp_path / "p2.csv").read_text(), encoding="utf-8-sig")
    assert bom.read_bytes()[:3] == b"\xef\xbb\xbf"
    gz = tmp_path / "curves.csv.gz"
    gz.write_bytes(gzip.compress(plain_csv(tmp_path / "p3.csv").read_bytes()))
    unnamed_gz = tmp_path / "curves.csv"
    unnamed_gz.write_bytes(gz.read_bytes())  # gzip found by its content, not its name
    for path in (bom, gz, unnamed_gz, lightning_csv(tmp_path / "metrics.csv")):
        t, a, b = logs.read_curves(path, "epoch", "train_acc", "val_acc")["all"]
        np.testing.assert_array_equal(t, EPOCHS)
        np.testing.assert_array_equal(a, TRAIN)
        np.testing.assert_array_equal(b, VAL)
        m = measured(path)
        assert m.relative_gap == reference.relative_gap
        assert m.relative_sharpness == reference.relative_sharpness


def test_lightning_step_level_metrics_need_a_step_time(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_acc,val_acc\n0,4,0.1,\n0,9,0.2,\n0,9,,0.05\n")
    with pytest.raises(logs.InputError, match="two values of train_acc at epoch = 0"):
        logs.read_curves(path, "epoch", "train_acc", "val_acc")
    t, a, b = logs.read_curves(path, "step", "train_acc", "val_acc")["all"]
    assert list(t) == [9.0] and list(a) == [0.2] and list(b) == [0.05]


def write_tensorboard(folder, scale=1.0):
    """Scalars written by TensorBoard's own event writer, as PyTorch's SummaryWriter does."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder))
    for e, a, b in zip(EPOCHS, TRAIN, VAL, strict=True):
        for tag, value in (("train/acc", a), ("val/acc", b)):
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value * scale)])
            writer.add_event(Event(step=int(e), wall_time=time.time(), summary=summary))
    writer.add_event(Event(step=0, wall_time=time.time(), summary=Summary(
        value=[Summary.Value(tag="lr", simple_value=0.1)])))
    writer.close()


def test_tensorboard_log_gives_the_written_curves(tmp_path):
    pytest.importorskip("tensorboard")
    write_tensorboard(tmp_path / "run_a")
    write_tensorboard(tmp_path / "run_b")
    curves = logs.read_curves(tmp_path, "step", "train/acc", "val/acc")
    assert sorted(curves) == ["run_a", "run_b"]
    t, a, b = curves["run_a"]
    np.testing.assert_array_equal(t, EPOCHS)
    np.testing.assert_allclose(a, TRAIN, atol=1e-7)  # stored as float32
    np.testing.assert_allclose(b, VAL, atol=1e-7)
    results = measure.run(measure.parse_args([str(tmp_path / "run_a"), "--train", "train/acc",
                                              "--test", "val/acc", "--ci", "0"]))
    m = results["all"]
    assert m.ok and m.train.jump_time == pytest.approx(100, rel=1e-4)
    assert m.test.jump_time == pytest.approx(250, rel=1e-4)
    with pytest.raises(logs.InputError, match="no scalar tag 'val_acc'; tags are lr, train/acc, val/acc"):
        logs.read_curves(tmp_path / "run_a", "step", "train/acc", "val_acc")
    event_file = next((tmp_path / "run_a").iterdir())
    assert logs.read_curves(event_file, "step", "train/acc", "val/acc")["all"][0].size == EPOCHS.size


def test_tensorboard_errors_are_one_line(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    write_tensorboard(tmp_path, scale=100.0)  # percentages
    status = measure.main([str(tmp_path), "--train", "train/acc", "--test", "val/acc"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "divide them by 100" in err[0]
    status = measure.main([str(tmp_path), "--time", "epoch", "--train", "train/acc"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "step or wall_time" in err[0]


def reference_measures(tmp_path):
    """The measures of the plain CSV, which every other format must reproduce exactly."""
    return measured(plain_csv(tmp_path / "reference.csv"))


def assert_written_curves(curve):
    t, a, b = curve
    np.testing.assert_array_equal(t, EPOCHS)
    np.testing.assert_array_equal(a, TRAIN)
    np.testing.assert_array_equal(b, VAL)


def one_line_error(capsys, *argv):
    """The command's exit status and its one line of error."""
    status = measure.main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return status, err[0]


def jsonl_lines(run=None):
    """Records as a training script writes them: training and evaluation on separate lines sharing
    the epoch, the evaluation nested under ``metrics``, other keys of any type around them."""
    tag = {} if run is None else {"run": run}
    for e, a, b in zip(EPOCHS, TRAIN, VAL, strict=True):
        yield {"epoch": int(e), "step": 10 * int(e), "lr": 0.1, **tag}  # another metric only
        yield {"epoch": int(e), "step": 10 * int(e) + 9, "train_acc": float(a), "phase": "train",
               "loss": [float(1 - a)], **tag}
        yield {"epoch": int(e), "metrics": {"val/acc": float(b), "val/loss": None}, "note": "eval", **tag}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_json_lines_give_the_plain_csvs_curves_and_measures(tmp_path):
    reference = reference_measures(tmp_path)
    plain = write_jsonl(tmp_path / "log.jsonl", jsonl_lines())
    gz = tmp_path / "log.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bom = tmp_path / "log.json"
    bom.write_text(plain.read_text().replace("\n", "\r\n"), encoding="utf-8-sig")
    for path in (plain, gz, bom):
        assert_written_curves(logs.read_curves(path, "epoch", "train_acc", "metrics.val/acc")["all"])
        m = measured(path, "--train", "train_acc", "--test", "metrics.val/acc")
        assert m.relative_gap == reference.relative_gap
        assert m.relative_sharpness == reference.relative_sharpness
    keys = "epoch, step, lr, train_acc, phase, loss, metrics.val/acc, metrics.val/loss, note"
    with pytest.raises(logs.InputError, match=rf"log.jsonl: missing key\(s\) val_acc; keys are {keys}$"):
        logs.read_curves(plain, "epoch", "train_acc", "val_acc")


def test_json_lines_group_key_names_the_runs(tmp_path):
    records = [r for pair in zip(jsonl_lines("a"), jsonl_lines(7), strict=True) for r in pair]
    curves = logs.read_curves(write_jsonl(tmp_path / "log.jsonl", records), "epoch", "train_acc",
                              "metrics.val/acc", group="run")
    assert sorted(curves) == ["7", "a"]
    for curve in curves.values():
        assert_written_curves(curve)


@pytest.mark.parametrize("text, match", [
    ('{"epoch": 0, "train_acc": 0.5, "val_acc": 0.1}\n{"epoch": 1, "train_a', r":2: not valid JSON \("),
    ('{"epoch": 0, "train_acc": 0.5, "val_acc": 0.1}\nepoch 1 done\n', r":2: not valid JSON \("),
    ('{"epoch": 0, "train_acc": 0.5, "val_acc": 0.1}\n\n[1, 2]\n', r":3: a JSON array, not an object"),
    ('{"epoch": 0, "train_acc": NaN, "val_acc": 0.1}\n', r":1: train_acc is nan; values must be finite"),
    ('{"epoch": 0, "train_acc": 0.5, "val_acc": -Infinity}\n', r":1: val_acc is -inf; values must be"),
    ('{"epoch": 0, "train_acc": "0.5", "val_acc": 0.1}\n', r':1: train_acc is not a number: "0.5"'),
    ('{"epoch": 0, "train_acc": true, "val_acc": 0.1}\n', r":1: train_acc is not a number: true"),
    ('{"epoch": 0, "val_acc": 0.1}\n{"train_acc": 0.5}\n', r":2: no epoch$"),
    ('{"epoch": 0, "train_acc": 0.5, "val_acc": 0.1}\n{"epoch": 0, "train_acc": 0.6}\n',
     r":2: two values of train_acc at epoch = 0 \(0.5, 0.6\)"),
    ('{"epoch": 0, "train_acc": 0.5}\n', r"log.jsonl: missing key\(s\) val_acc; keys are epoch, train_acc$"),
    ('{"epoch": 0, "lr": 0.1, "train_acc": null, "val_acc": null}\n',
     r"no records with train_acc or val_acc"),
    ('{\n  "loss": [0.5, 0.4],\n  "val_acc": [0.1, 0.2]\n}\n',  # Keras's history, pretty-printed
     r"log.jsonl: missing array\(s\) epoch, train_acc; keys holding arrays are loss, val_acc$"),
    ('{\n  "epoch": 0,\n  "train_acc": 0.5,\n  "val_acc": 0.1\n}\n',
     r"log.jsonl: a JSON object without arrays or log_history; expected JSON lines \(one object per "
     r"line\), a JSON history \(an object of equal-length arrays, or an array of objects\) or a Hugging "
     r"Face trainer_state.json"),
    ('[[0, 0.5, 0.1]]\n', r"log.jsonl: \[0\] is a JSON array, not an object"),
    ('[]\n', r"log.jsonl: an empty JSON array; expected JSON lines"),
    ('{\n  "epoch": 0,\n  "log_history": [\n    {"step": 1,\n', r":5: not valid JSON \(.*a truncated file\?"),
])
def test_malformed_json_lines_are_one_line_errors(tmp_path, capsys, text, match):
    path = tmp_path / "log.jsonl"
    path.write_text(text)
    status, err = one_line_error(capsys, path, "--time", "epoch", "--train", "train_acc", "--test", "val_acc")
    assert status == 2 and str(path) in err
    assert re.search(match, err), err


def trainer_state(path):
    """A ``trainer_state.json`` as the Hugging Face Trainer writes it (``TrainerState.save_to_json``
    of transformers 5.x: ``json.dumps(asdict(state), indent=2, sort_keys=True)``): training logs
    (``loss``, ``grad_norm``, ``learning_rate``), evaluations on the validation set (``eval_``) and
    on the training set (``trainer.evaluate(train_dataset, metric_key_prefix="train")``), each with
    ``epoch`` and ``step``, then the summary ``Trainer.train`` logs at its end."""
    history = []
    for e, a, b in zip(EPOCHS, TRAIN, VAL, strict=True):
        step = 10 * (int(e) + 1)
        history.append({"epoch": float(e), "grad_norm": 1.5, "learning_rate": 1e-4, "loss": float(1 - a),
                        "step": step})
        for prefix, acc in (("eval", b), ("train", a)):
            history.append({"epoch": float(e), f"{prefix}_accuracy": float(acc), f"{prefix}_loss": 0.5,
                            f"{prefix}_runtime": 0.1234, f"{prefix}_samples_per_second": 812.3,
                            f"{prefix}_steps_per_second": 101.5, "step": step})
    history.append({"epoch": float(EPOCHS[-1]), "step": 10 * EPOCHS.size, "total_flos": 1.2e12,
                    "train_loss": 0.3, "train_runtime": 61.2, "train_samples_per_second": 522.9,
                    "train_steps_per_second": 65.4})
    state = {"best_global_step": None, "best_metric": None, "best_model_checkpoint": None,
             "epoch": float(EPOCHS[-1]), "eval_steps": 10, "global_step": 10 * EPOCHS.size,
             "is_hyper_param_search": False, "is_local_process_zero": True, "is_world_process_zero": True,
             "log_history": history, "logging_steps": 10, "max_steps": 10 * EPOCHS.size,
             "num_input_tokens_seen": 0, "num_train_epochs": EPOCHS.size, "save_steps": 500,
             "stateful_callbacks": {"TrainerControl": {"args": {
                 "should_epoch_stop": False, "should_evaluate": False, "should_log": False,
                 "should_save": True, "should_training_stop": True}, "attributes": {}}},
             "total_flos": 1.2e12, "train_batch_size": 8, "trial_name": None, "trial_params": None}
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def test_trainer_state_gives_the_logged_curves_by_epoch_or_step(tmp_path, capsys):
    reference = reference_measures(tmp_path)
    path = trainer_state(tmp_path / "trainer_state.json")
    assert_written_curves(logs.read_curves(path, "epoch", "train_accuracy", "eval_accuracy")["all"])
    t, a, b = logs.read_curves(path, "step", "train_accuracy", "eval_accuracy")["all"]
    np.testing.assert_array_equal(t, 10 * (EPOCHS + 1))
    m = measured(path, "--train", "train_accuracy", "--test", "eval_accuracy")
    assert m.relative_gap == reference.relative_gap
    assert m.relative_sharpness == reference.relative_sharpness
    with pytest.raises(logs.InputError, match=r"missing key\(s\) eval_acc; keys are epoch, grad_norm, "
                                              r"learning_rate, loss, step, eval_accuracy, eval_loss, "):
        logs.read_curves(path, "step", "train_accuracy", "eval_acc")
    status, err = one_line_error(capsys, path, "--time", "global_step", "--train", "train_accuracy",
                                 "--test", "eval_accuracy")
    assert status == 2 and err.endswith("trainer_state.json is step or epoch; got 'global_step'")
    status, err = one_line_error(capsys, path, "--group", "run", "--train", "train_accuracy",
                                 "--test", "eval_accuracy")
    assert status == 2 and "--group applies to CSV files, JSON lines and JSON arrays of records" in err


@pytest.mark.parametrize("cut, match", [
    (lambda text: text[: len(text) // 2], r"trainer_state.json:\d+: not valid JSON .*a truncated file\?"),
    (lambda text: text.replace('"log_history": [', '"log_history": [7, '),
     r"trainer_state.json: log_history\[0\] is a JSON number, not an object"),
    (lambda text: re.sub(r'"eval_accuracy": [-0-9.e]+', '"eval_accuracy": NaN', text, count=1),
     r"trainer_state.json: log_history\[\d+\]: eval_accuracy is nan; values must be finite"),
])
def test_malformed_trainer_state_is_a_one_line_error(tmp_path, capsys, cut, match):
    path = trainer_state(tmp_path / "trainer_state.json")
    path.write_text(cut(path.read_text()))
    status, err = one_line_error(capsys, path, "--train", "train_accuracy", "--test", "eval_accuracy")
    assert status == 2 and re.search(match, err), err


def history(path, indent=2, **extra):
    """A column-wise history as grokking scripts save it, ``json.dump(history, f, indent=2)``: the
    lists of logged values, a loss that diverged to NaN (written as ``NaN``, read by Python's
    ``json``), and the configuration beside them."""
    data = {"epoch": [int(e) for e in EPOCHS], "train_acc": [float(a) for a in TRAIN],
            "val_acc": [float(b) for b in VAL], "train_loss": [float(1 - a) for a in TRAIN[:-1]] + [math.nan],
            "config": {"p": 113, "lr": 1e-3, "seeds": [0, 1]}, **extra}
    with path.open("w") as fh:
        json.dump(data, fh, indent=indent)
    return path


def test_column_wise_history_gives_the_written_curves_and_measures(tmp_path):
    reference = reference_measures(tmp_path)
    path = history(tmp_path / "training_history.json")
    assert path.read_text().startswith('{\n  "epoch": [\n    0,\n')
    one_line = history(tmp_path / "one_line.json", indent=None)
    gz = tmp_path / "history.json.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    for log in (path, one_line, gz):
        assert_written_curves(logs.read_curves(log, "epoch", "train_acc", "val_acc")["all"])
        m = measured(log)
        assert m.relative_gap == reference.relative_gap
        assert m.relative_sharpness == reference.relative_sharpness
    # a lone one-line record whose wanted keys are numbers stays a JSON-lines record
    record = write_jsonl(tmp_path / "one.jsonl",
                         [{"epoch": 3, "train_acc": 0.5, "val_acc": 0.1, "loss": [1]}])
    t, a, b = logs.read_curves(record, "epoch", "train_acc", "val_acc")["all"]
    assert list(t) == [3] and list(a) == [0.5] and list(b) == [0.1]


def test_nested_column_wise_history_is_read_by_dotted_path(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"config": {"lr": 0.1}, "history": {
        "step": [int(e) for e in EPOCHS], "train": {"acc": [float(a) for a in TRAIN]},
        "val_acc": [float(b) for b in VAL]}}, indent=2))
    curves = logs.read_curves(path, "history.step", "history.train.acc", "history.val_acc")
    assert_written_curves(curves["all"])
    with pytest.raises(logs.InputError, match=r"missing array\(s\) step; keys holding arrays are "
                                              r"history.step, history.train.acc, history.val_acc$"):
        logs.read_curves(path, "step", "history.train.acc", "history.val_acc")


def test_null_cells_of_a_column_wise_history_are_empty(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({  # evaluated every other epoch; train and eval rows at one epoch
        "epoch": [0, 0, 1, 2, 2, 3], "train_acc": [0.1, None, 0.2, 0.3, None, 0.4],
        "val_acc": [None, 0.0, None, None, 0.5, None], "lr": [None] * 6}, indent=2))
    t, a, b = logs.read_curves(path, "epoch", "train_acc", "val_acc")["all"]
    assert list(t) == [0, 2] and list(a) == [0.1, 0.3] and list(b) == [0.0, 0.5]


@pytest.mark.parametrize("data, match", [
    ({"epoch": [0, 1, 2], "train_acc": [0.1, 0.2, 0.3], "val_acc": [0.0, 0.1]},
     r"history.json: epoch has 3 values but val_acc has 2; the arrays of a column-wise history need "
     r"one value per time$"),
    ({"epoch": [0, 1], "train_acc": [0.1, 0.2], "test_acc": [0.0, 0.1], "config": {"seeds": [0, 1]}},
     r"history.json: missing array\(s\) val_acc; keys holding arrays are epoch, train_acc, test_acc, "
     r"config.seeds$"),
    ({"epoch": 2, "train_acc": [0.1, 0.2], "val_acc": [0.0, 0.1]},
     r"missing array\(s\) epoch \(a JSON number\); keys holding arrays are train_acc, val_acc$"),
    ({"epoch": [0, 1, 2], "train_acc": [0.1, 0.2, "0.3"], "val_acc": [0.0, 0.1, 0.2]},
     r'history.json: train_acc\[2\] is not a number: "0.3"$'),
    ({"epoch": [0, 1, 2], "train_acc": [0.1, 0.2, 0.3], "val_acc": [0.0, [0.1], 0.2]},
     r"history.json: val_acc\[1\] is not a number: \[0.1\]$"),
    ({"epoch": [0, 1, 2], "train_acc": [0.1, 0.2, 0.3], "val_acc": [0.0, math.nan, 0.2]},
     r"history.json: val_acc\[1\] is nan; values must be finite$"),
    ({"epoch": [0, 1, 2], "train_acc": [0.1, 0.2, math.inf], "val_acc": [0.0, 0.1, 0.2]},
     r"history.json: train_acc\[2\] is inf; values must be finite$"),
    ({"epoch": [0, None, 2], "train_acc": [0.1, 0.2, 0.3], "val_acc": [0.0, 0.1, 0.2]},
     r"history.json: epoch\[1\] is null$"),
    ({"epoch": [0, 0], "train_acc": [0.1, 0.2], "val_acc": [0.0, 0.1]},
     r"history.json: \[1\]: two values of train_acc at epoch = 0 \(0.1, 0.2\)"),
    ({"epoch": [], "train_acc": [], "val_acc": []},
     r"no values of train_acc or val_acc \(the arrays are empty\)"),
])
def test_malformed_column_wise_history_is_a_one_line_error(tmp_path, capsys, data, match):
    path = tmp_path / "history.json"
    path.write_text(json.dumps(data, indent=2))
    status, err = one_line_error(capsys, path, "--time", "epoch", "--train", "train_acc", "--test", "val_acc")
    assert status == 2 and str(path) in err and re.search(match, err), err


def test_column_wise_history_is_one_run(tmp_path, capsys):
    status, err = one_line_error(capsys, history(tmp_path / "history.json"), "--time", "epoch",
                                 "--group", "config.p")
    assert status == 2 and err.endswith("arrays of records; a column-wise JSON history (an object of "
                                        "arrays) is one run")


def test_json_array_of_records_gives_the_curves_and_groups(tmp_path, capsys):
    path = tmp_path / "log.json"
    path.write_text(json.dumps(list(jsonl_lines()), indent=2))
    assert_written_curves(logs.read_curves(path, "epoch", "train_acc", "metrics.val/acc")["all"])
    records = [r for pair in zip(jsonl_lines("a"), jsonl_lines(7), strict=True) for r in pair]
    path.write_text(json.dumps(records))  # one line
    curves = logs.read_curves(path, "epoch", "train_acc", "metrics.val/acc", group="run")
    assert sorted(curves) == ["7", "a"]
    for curve in curves.values():
        assert_written_curves(curve)
    records[5]["train_acc"] = "high"
    path.write_text(json.dumps(records, indent=2))
    status, err = one_line_error(capsys, path, "--time", "epoch", "--test", "metrics.val/acc",
                                 "--group", "run")
    assert status == 2 and err.endswith('log.json: [5]: train_acc is not a number: "high"'), err


def write_mlflow_run(experiment, run_id, name, scale=1.0, lifecycle="active"):
    """A run folder as MLflow's file store writes it (MLflow 3.17): ``meta.yaml``, the run name in
    ``tags/mlflow.runName``, one file per metric (``train/acc`` in a folder ``train``), a line
    ``timestamp value step`` per value, the value as Python prints a float."""
    run = experiment / run_id
    for folder in ("artifacts", "metrics/train", "metrics/val", "params", "tags"):
        (run / folder).mkdir(parents=True)
    (run / "meta.yaml").write_text(
        f"artifact_uri: file://{run}/artifacts\nend_time: 1795991293807\nentry_point_name: ''\n"
        f"experiment_id: '{experiment.name}'\nlifecycle_stage: {lifecycle}\nrun_id: {run_id}\n"
        f"run_name: {name}\nsource_name: ''\nsource_type: 4\nsource_version: ''\n"
        "start_time: 1795991293796\nstatus: 3\ntags: []\nuser_id: root\n")
    (run / "tags" / "mlflow.runName").write_text(name)
    (run / "params" / "lr").write_text("0.1")
    ms = 1795991293800
    for metric, values in (("train/acc", TRAIN), ("val/acc", VAL)):
        (run / "metrics" / metric).write_text("".join(
            f"{ms + 2 * int(e)} {float(v) * scale} {int(e)}\n" for e, v in zip(EPOCHS, values, strict=True)))
    (run / "metrics" / "loss").write_text(f"{ms} 0.7 0\n{ms + 1} 0.6\n")  # two fields: step 0
    return run


def write_mlflow_store(root):
    """A store with the default experiment (no runs), one experiment holding two runs, a deleted
    run and a logged model (whose metrics are not a run's), and a deleted experiment in .trash."""
    (root / "0").mkdir(parents=True)
    (root / "0" / "meta.yaml").write_text("experiment_id: '0'\nlifecycle_stage: active\nname: Default\n")
    experiment = root / "837820368545947394"
    experiment.mkdir()
    (experiment / "meta.yaml").write_text(
        "experiment_id: '837820368545947394'\nlifecycle_stage: active\nname: grok\n")
    write_mlflow_run(experiment, "282049fdb4dc48529731d366fb188e24", "lam-0.5")
    write_mlflow_run(experiment, "e523dee2a3e545749807ccd5e3e20706", "lam: 1 'q'")
    write_mlflow_run(experiment, "0b4c5b5e0d1f4d0c9c1a8f2e7d6c5b4a", "gone", lifecycle="deleted")
    write_mlflow_run(experiment / "models", "m-db22ba2092814555854ccebac6fe491f", "model")
    write_mlflow_run(root / ".trash" / "42", "9f86507ce074457951c1aaf572bbd6b0", "trashed")
    return experiment


def test_mlflow_file_store_gives_the_written_curves(tmp_path, capsys):
    reference = reference_measures(tmp_path)
    root = tmp_path / "mlruns"
    experiment = write_mlflow_store(root)
    for path in (root, experiment):
        curves = logs.read_curves(path, "step", "train/acc", "val/acc")
        assert list(curves) == ["lam-0.5", "lam: 1 'q'"]
        for curve in curves.values():
            assert_written_curves(curve)
    run = experiment / "282049fdb4dc48529731d366fb188e24"
    deleted = experiment / "0b4c5b5e0d1f4d0c9c1a8f2e7d6c5b4a"
    assert list(logs.read_curves(run, "step", "train/acc", "val/acc")) == ["lam-0.5"]
    assert list(logs.read_curves(deleted, "step", "train/acc", "val/acc")) == ["gone"]  # given: read
    m = measure.run(measure.parse_args([str(run), "--train", "train/acc", "--test", "val/acc", "--ci", "0"]))
    assert m["lam-0.5"].relative_gap == reference.relative_gap
    assert m["lam-0.5"].relative_sharpness == reference.relative_sharpness
    with pytest.raises(logs.InputError, match=r"282049fdb4dc48529731d366fb188e24: no metric 'val_acc'; "
                                              r"metrics are loss, train/acc, val/acc$"):
        logs.read_curves(root, "step", "train/acc", "val_acc")
    (experiment / "e523dee2a3e545749807ccd5e3e20706" / "tags" / "mlflow.runName").write_text("lam-0.5")
    assert list(logs.read_curves(root, "step", "train/acc", "val/acc")) == [
        "lam-0.5 (282049fdb4dc48529731d366fb188e24)", "lam-0.5 (e523dee2a3e545749807ccd5e3e20706)"]


def test_mlflow_times_and_repeated_steps(tmp_path):
    run = write_mlflow_store(tmp_path / "mlruns") / "282049fdb4dc48529731d366fb188e24"
    (run / "metrics" / "val" / "acc").write_text("100 0.1 0\n102 0.2 1\n103 0.3 1\n")  # step 1 logged again
    (run / "metrics" / "train" / "acc").write_text("100 0.5 0 train_set 65195afa\n102 0.6 1\n")
    t, a, b = logs.read_curves(run, "step", "train/acc", "val/acc")["lam-0.5"]
    assert list(t) == [0, 1] and list(a) == [0.5, 0.6] and list(b) == [0.1, 0.3]  # the last value
    t, a, b = logs.read_curves(run, "timestamp", "train/acc", "val/acc")["lam-0.5"]
    assert list(t) == [100, 102] and list(a) == [0.5, 0.6] and list(b) == [0.1, 0.2]


@pytest.mark.parametrize("line, match", [
    ("1795991293800 0.5", None),  # MLflow's old two-field line: step 0, a value like the others
    ("1795991293800 abc 3", r"acc:3: not a metric line 'timestamp value step': '1795991293800 abc 3'"),
    ("1795991293800 0.5 3 4", r"acc:3: not a metric line"),
    ("1795991293800 0.5 3.5", r"acc:3: not a metric line"),
    ("1795991293800 nan 3", r"acc:3: val/acc is nan; values must be finite"),
    ("1795991293800 -inf 3", r"acc:3: val/acc is -inf; values must be finite"),
])
def test_a_bad_mlflow_metric_line_is_a_one_line_error(tmp_path, capsys, line, match):
    run = write_mlflow_store(tmp_path / "mlruns") / "282049fdb4dc48529731d366fb188e24"
    (run / "metrics" / "val" / "acc").write_text(f"100 0.1 1\n102 0.2 2\n{line}\n")
    (run / "metrics" / "train" / "acc").write_text("100 0.1 0\n100 0.5 1\n102 0.6 2\n")
    if match is None:
        t, a, b = logs.read_curves(run, "step", "train/acc", "val/acc")["lam-0.5"]
        assert list(t) == [0, 1, 2] and list(b) == [0.5, 0.1, 0.2]
        return
    status, err = one_line_error(capsys, run, "--train", "train/acc", "--test", "val/acc")
    assert status == 2 and str(run / "metrics" / "val" / "acc") in err and re.search(match, err), err


def test_mlflow_errors_are_one_line(tmp_path, capsys):
    root = tmp_path / "mlruns"
    experiment = write_mlflow_store(root)
    args = ["--train", "train/acc", "--test", "val/acc"]
    status, err = one_line_error(capsys, root, "--time", "epoch", *args)
    assert status == 2 and "the time of an MLflow run is step or timestamp; got 'epoch'" in err
    status, err = one_line_error(capsys, root, "--group", "run", *args)
    assert status == 2 and "JSON lines and JSON arrays of records; an MLflow store" in err
    status, err = one_line_error(capsys, root / "0", *args)
    assert status == 2 and err.endswith("0: no MLflow runs (folders holding meta.yaml and metrics/) found")
    (experiment / "282049fdb4dc48529731d366fb188e24" / "metrics" / "val" / "acc").write_text("")
    status, err = one_line_error(capsys, root, *args)
    assert status == 2 and err.endswith("acc: no values (an empty metric file)")


def test_mlflow_store_written_by_mlflow(tmp_path, monkeypatch):
    """The file store as the installed MLflow writes it. MLflow 3's default store is SQLite
    (``mlflow.db``), and since 3.13 it refuses a file store unless ``MLFLOW_ALLOW_FILE_STORE=true``
    (checked with 3.17.2)."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    experiment = mlflow.create_experiment("grok")
    for name, scale in (("lam-0.5", 1.0), ("lam-2", 0.5)):
        with mlflow.start_run(experiment_id=experiment, run_name=name):
            mlflow.log_param("lam", name)
            for e, a, b in zip(EPOCHS, TRAIN, VAL, strict=True):
                mlflow.log_metric("train/acc", float(a) * scale, step=int(e))
                mlflow.log_metric("val/acc", float(b) * scale, step=int(e))
            mlflow.log_metric("final_loss", 0.1)
    for path in (tmp_path / "mlruns", tmp_path / "mlruns" / experiment):
        curves = logs.read_curves(path, "step", "train/acc", "val/acc")
        assert sorted(curves) == ["lam-0.5", "lam-2"]
        assert_written_curves(curves["lam-0.5"])
        np.testing.assert_array_equal(curves["lam-2"][1], TRAIN * 0.5)
    with pytest.raises(logs.InputError, match="'val_acc'; metrics are final_loss, train/acc, val/acc$"):
        logs.read_curves(tmp_path / "mlruns", "step", "train/acc", "val_acc")


@pytest.mark.parametrize("fmt", ["jsonl", "history", "trainer_state", "mlflow"])
def test_cli_measures_each_format(tmp_path, capsys, fmt):
    if fmt == "history":
        argv = [history(tmp_path / "training_history.json"), "--time", "epoch"]
        runs = ["all"]
    elif fmt == "jsonl":
        argv = [write_jsonl(tmp_path / "log.jsonl", jsonl_lines()), "--time", "epoch",
                "--train", "train_acc", "--test", "metrics.val/acc"]
        runs = ["all"]
    elif fmt == "trainer_state":
        argv = [trainer_state(tmp_path / "trainer_state.json"), "--time", "epoch",
                "--train", "train_accuracy", "--test", "eval_accuracy"]
        runs = ["all"]
    else:
        argv = [tmp_path / "mlruns", "--train", "train/acc", "--test", "val/acc"]
        write_mlflow_store(tmp_path / "mlruns")
        runs = ["lam-0.5", "lam: 1 'q'"]
    assert measure.main([str(a) for a in argv] + ["--ci", "0"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["run", "shape", "b_train", "b_test", "gap"]
    for run, row in zip(runs, table[2:], strict=True):
        assert row.split()[-1] == "ok" and row.strip().startswith(run)
        assert row.split()[-8:-6] == ["100", "250"]  # the jump times written
