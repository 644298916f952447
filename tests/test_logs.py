"""The logs researchers already have, read by the measure command: a Lightning-shaped
``metrics.csv``, a CSV with a byte-order mark, a gzipped CSV and a TensorBoard log written by
TensorBoard's own writer give the same curves, hence the same measures, as a plain CSV; the jump
times are those of the curves that were written."""

import gzip
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
