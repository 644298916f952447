"""Training logs as accuracy curves: the files researchers already have.

* **CSV**: plain, UTF-8 with or without a byte-order mark, gzipped (by content, whatever the
  name), W&B exports, and PyTorch Lightning's ``CSVLogger`` ``metrics.csv``, where training and
  validation metrics sit on separate rows with empty cells: rows are merged on the time column
  (and the group column, if any). Two different values of one column at one time are an error,
  not a silent choice.
* **TensorBoard**: an event file, or a folder holding event files (each folder that holds some is
  one run, named by its path below the one given). Scalars are read by tag, from ``add_scalar``
  (PyTorch, TensorBoardX) or ``tf.summary.scalar`` (TensorFlow 2); the time is the logged ``step``
  (or ``wall_time``). Needs the optional reader: ``pip install "linear-grok[tensorboard]"``.

Every problem is an :class:`InputError` with one line that names the file and what is wrong; a
column or tag that does not exist is reported with the list of those that do.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import numpy as np

Curve = tuple[np.ndarray, np.ndarray, np.ndarray]  # (t, acc_train, acc_test), each (T,)


class InputError(ValueError):
    """Malformed input file or arguments: reported as one line, exit status 2."""


def read_curves(path: Path, time: str, train: str, test: str, group: str | None = None
                ) -> dict[str, Curve]:
    """``{run: (t, acc_train, acc_test)}`` from a CSV or a TensorBoard log, sorted by time, at the
    times where both curves have a value.

    Args:
      path: the log file (CSV, possibly gzipped) or a TensorBoard event file or folder.
      time, train, test: column names (CSV) or ``step``/``wall_time`` and tag names (TensorBoard).
      group: CSV column naming the run of each row (one run when ``None``).
    Raises:
      InputError: unreadable or malformed input, unknown columns or tags, no common times.
    """
    return read_columns(path, time, (train, test), group)


def read_columns(path: Path, time: str, columns: tuple[str, ...], group: str | None = None
                 ) -> dict[str, tuple[np.ndarray, ...]]:
    """``{run: (t, *values)}``: the given columns (CSV) or tags (TensorBoard) of a log, sorted by
    time, at the times where every one has a value (:func:`read_curves` with any columns)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir() or "tfevents" in path.name:
        if group is not None:
            raise InputError(f"{path}: --group applies to CSV files; a TensorBoard log has one run "
                             "per folder of event files")
        return _read_tensorboard(path, time, columns)
    return _read_csv(path, time, columns, group)


def _open_text(path: Path) -> io.TextIOBase:
    """The file as text: gunzipped when it starts with gzip's magic bytes, BOM removed."""
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    try:
        raw = gzip.open(path, "rb") if gzipped else path.open("rb")
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err}") from None


def _number(path: Path, line: int, column: str, cell: str | None) -> float | None:
    """A cell as a finite float, ``None`` when empty."""
    if cell is None or cell.strip() == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{path}:{line}: column {column} is not a number: {cell!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{path}:{line}: column {column} is {cell!r}; values must be finite")
    return value


def _read_csv(path: Path, time: str, columns: tuple[str, ...], group: str | None
              ) -> dict[str, tuple[np.ndarray, ...]]:
    # {run: {time: {column: value}}}; merging fills empty cells (Lightning's separate rows).
    runs: dict[str, dict[float, dict[str, float]]] = {}
    try:
        with _open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            wanted = [time, *columns] + ([group] if group else [])
            missing = [c for c in wanted if c not in header]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}; columns are "
                                 f"{', '.join(header) or '(none: an empty file?)'}")
            for line, row in enumerate(reader, start=2):
                t = _number(path, line, time, row[time])
                values = {c: _number(path, line, c, row[c]) for c in columns}
                if all(v is None for v in values.values()):
                    continue  # a row of other metrics only
                if t is None:
                    raise InputError(f"{path}:{line}: column {time} is empty")
                cells = runs.setdefault(row[group] if group else "all", {}).setdefault(t, {})
                for column, value in values.items():
                    if value is None:
                        continue
                    if column in cells and cells[column] != value:
                        raise InputError(
                            f"{path}:{line}: two values of {column} at {time} = {t:g} "
                            f"({cells[column]:g}, {value:g}); pick a time column with one row "
                            "per value (e.g. step) or a metric logged once per time")
                    cells[column] = value
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except (OSError, EOFError, csv.Error) as err:  # truncated gzip, unreadable file
        raise InputError(f"{path}: cannot read: {err}") from None
    if not runs:
        raise InputError(f"{path}: no data rows with {' or '.join(columns)}")
    return {name: _aligned(path, name, rows, columns) for name, rows in runs.items()}


def _aligned(path: Path, run: str, rows: dict[float, dict[str, float]], columns: tuple[str, ...]
             ) -> tuple[np.ndarray, ...]:
    """``(t, *values)`` at the times where every column has a value, in order."""
    times = sorted(t for t, cells in rows.items() if all(c in cells for c in columns))
    if not times:
        which = f"both {columns[0]} and {columns[1]}" if len(columns) == 2 else ", ".join(columns)
        raise InputError(f"{path}: run {run!r} has no time with {which}")
    return (np.array(times), *(np.array([rows[t][c] for t in times]) for c in columns))


def _read_tensorboard(path: Path, time: str, columns: tuple[str, ...]
                      ) -> dict[str, tuple[np.ndarray, ...]]:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise InputError(f"{path}: reading TensorBoard logs needs the tensorboard package: "
                         "pip install \"linear-grok[tensorboard]\"") from None
    if time not in ("step", "wall_time"):
        raise InputError(f"{path}: the time of a TensorBoard log is step or wall_time; got {time!r}")
    folders = [path] if path.is_file() else sorted(
        {f.parent for f in path.rglob("*") if f.is_file() and "tfevents" in f.name})
    if not folders:
        raise InputError(f"{path}: no TensorBoard event files (events.out.tfevents.*) found")
    curves = {}
    for folder in folders:
        name = "all" if folder == path or path.is_file() else str(folder.relative_to(path))
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        try:
            events.Reload()
        except Exception as err:  # noqa: BLE001  (a corrupt file: the reader's own errors vary)
            raise InputError(f"{folder}: cannot read the event file: {err}") from None
        rows: dict[float, dict[str, float]] = {}
        for tag in columns:
            for t, v in _scalar_series(folder, events, tag, time).items():
                rows.setdefault(t, {})[tag] = v
        curves[name] = _aligned(folder, name, rows, columns)
    return curves


def _scalar_series(folder: Path, events, tag: str, time: str) -> dict[float, float]:
    """``{time: value}`` of a scalar tag, written by ``add_scalar`` or as a TensorFlow 2 tensor;
    a step written twice keeps its last value."""
    from tensorboard.util import tensor_util

    tags = events.Tags()
    if tag in tags.get("scalars", []):
        pairs = [(getattr(e, time), e.value) for e in events.Scalars(tag)]
    elif tag in tags.get("tensors", []):
        pairs = [(getattr(e, time), float(tensor_util.make_ndarray(e.tensor_proto)))
                 for e in events.Tensors(tag)]
    else:
        known = sorted(set(tags.get("scalars", [])) | set(tags.get("tensors", [])))
        raise InputError(f"{folder}: no scalar tag {tag!r}; tags are {', '.join(known) or '(none)'}")
    return {float(t): float(v) for t, v in pairs}
