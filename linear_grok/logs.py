"""Training logs as accuracy curves: the files researchers already have.

* **CSV**: plain, UTF-8 with or without a byte-order mark, gzipped (by content, whatever the
  name), W&B exports, and PyTorch Lightning's ``CSVLogger`` ``metrics.csv``, where training and
  validation metrics sit on separate rows with empty cells: rows are merged on the time column
  (and the group column, if any). Two different values of one column at one time are an error,
  not a silent choice.
* **JSON lines** (``.jsonl``, ``.json``; gzipped or not; recognised by content: the first line is
  a whole JSON object): one object per line, as training scripts write them. Records holding only
  some keys (training and evaluation logged on different lines) are merged on the time key, as
  Lightning's rows are; records with none of the wanted keys are skipped. Nested objects are read
  by dotted path: ``{"step": 3, "metrics": {"val/acc": 0.2}}`` has the keys ``step`` and
  ``metrics.val/acc``. Values are JSON numbers (``null`` is an empty cell); values of other keys
  may be anything. ``--group`` names a key whose value names the run of each record.
* **JSON histories**, one JSON document as ``json.dump`` writes a training script's history
  (gzipped or not): an object holding the history column-wise, ``{"epoch": [0, 100, 200],
  "train_acc": [0.01, 0.99, 1.0], "val_acc": [...], "config": {...}}``, whose wanted keys are arrays
  of one length: row ``i`` holds the ``i``-th value of each (``null`` is an empty cell, merged on
  the time as above; other keys may hold anything; nested objects by dotted path, so
  ``{"history": {"step": [...]}}`` has the key ``history.step``; one run, so no ``--group``). A
  one-line object is such a history when one of the wanted keys holds an array, else a one-line
  JSON-lines file. Or an array of objects, one record per logged time (``json.dump`` of a list of
  dicts), read as JSON lines are, ``--group`` included.
* **Hugging Face** ``trainer_state.json``, the Trainer's checkpoint file (recognised by content: a
  JSON object with a ``log_history`` list): the training and evaluation entries of
  ``log_history`` are merged on ``step`` or ``epoch``, the two times it holds; one run.
* **MLflow**'s local file store (``mlruns/``), read as plain files without MLflow: the store, an
  experiment folder or one run folder (recognised by their ``meta.yaml``). Each MLflow run gives
  one run, named by its run name (``name (run id)`` where two runs share a name); runs marked
  deleted are left out, unless the folder of one is given. A metric is the file
  ``<run>/metrics/<name>`` (a name with ``/`` is a nested folder), a line ``timestamp value step``
  per logged value (as MLflow, two fields mean step 0, and five add a dataset's name and digest).
  The time is ``step`` or ``timestamp`` (milliseconds; shared only by metrics logged in one
  ``log_metrics`` call); a time logged twice keeps its last value, as after a resumed run. MLflow 3
  writes a SQLite store by default, which is not read here.
* **TensorBoard**: an event file, or a folder holding event files (each folder that holds some is
  one run, named by its path below the one given). Scalars are read by tag, from ``add_scalar``
  (PyTorch, TensorBoardX) or ``tf.summary.scalar`` (TensorFlow 2); the time is the logged ``step``
  (or ``wall_time``); a step written twice keeps its last value. Needs the optional reader:
  ``pip install "linear-grok[tensorboard]"``.

Every value read must be a finite number. Every problem is an :class:`InputError` with one line
that names the file (and the line, where there is one) and what is wrong; a column, key, metric or
tag that does not exist is reported with the list of those that do.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["Curve", "Rows", "MLFLOW_NOT_RUNS", "InputError", "read_curves", "read_columns",
           "EXPECTED_JSON"]

Curve = tuple[np.ndarray, np.ndarray, np.ndarray]  # (t, acc_train, acc_test), each (T,)
# {run: {time: {column: value}}}: the values of each run at each time, before alignment.
Rows = dict[str, dict[float, dict[str, float]]]

# Folders of an MLflow store that hold no runs: deleted experiments at its top, registered models,
# and an experiment's logged models (which have metrics too), datasets, traces and tags.
MLFLOW_NOT_RUNS = frozenset({".trash", "models", "datasets", "traces", "tags"})


class InputError(ValueError):
    """Malformed input file or arguments: reported as one line, exit status 2."""


def read_curves(path: Path, time: str, train: str, test: str, group: str | None = None
                ) -> dict[str, Curve]:
    """``{run: (t, acc_train, acc_test)}`` from a training log, sorted by time, at the times where
    both curves have a value.

    Args:
      path: the log: a CSV (possibly gzipped), a JSON-lines file, a JSON history (an object of
        arrays or an array of records) or a Hugging Face ``trainer_state.json`` (possibly
        gzipped), an MLflow store, experiment or run folder, or a TensorBoard event file or folder.
      time, train, test: column names (CSV), keys (JSON lines and histories; dotted paths into
        nested objects), ``step``/``epoch`` and keys (``trainer_state.json``), ``step``/``timestamp``
        and metric names (MLflow), or ``step``/``wall_time`` and tag names (TensorBoard).
      group: CSV column, or key of JSON lines or of an array of records, naming the run of each row
        (one run when ``None``).
    Raises:
      InputError: unreadable or malformed input, unknown columns or tags, no common times.
    """
    return read_columns(path, time, (train, test), group)


def read_columns(path: Path, time: str, columns: tuple[str, ...], group: str | None = None
                 ) -> dict[str, tuple[np.ndarray, ...]]:
    """``{run: (t, *values)}``: the given columns, keys, metrics or tags of a log, sorted by time,
    at the times where every one has a value (:func:`read_curves` with any columns).

    The format is found from the path and the content: a folder is an MLflow store when it or a
    folder in it holds a ``meta.yaml``, else TensorBoard; a file is a TensorBoard event file when
    its name says ``tfevents``, JSON when its text starts with ``{`` or ``[``, else CSV."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir() and _is_mlflow(path):
        _no_group(path, group, "an MLflow store has one run per run folder")
        return _read_mlflow(path, time, columns)
    if path.is_dir() or "tfevents" in path.name:
        _no_group(path, group, "a TensorBoard log has one run per folder of event files")
        return _read_tensorboard(path, time, columns)
    if _looks_like_json(path):
        return _read_json(path, time, columns, group)
    return _read_csv(path, time, columns, group)


def _no_group(path: Path, group: str | None, why: str) -> None:
    """Refuses ``--group`` for a log whose runs are its folders, or that is one run."""
    if group is not None:
        raise InputError(f"{path}: --group applies to CSV files, JSON lines and JSON arrays of records; "
                         f"{why}")


def _open_text(path: Path) -> io.TextIOBase:
    """The file as text: gunzipped when it starts with gzip's magic bytes, BOM removed."""
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    try:
        raw = gzip.open(path, "rb") if gzipped else path.open("rb")
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err}") from None


def _read_text(path: Path) -> str:
    """The whole file as text (:func:`_open_text`), any failure an :class:`InputError`."""
    try:
        with _open_text(path) as fh:
            return fh.read()
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except (OSError, EOFError) as err:  # truncated gzip, unreadable file
        raise InputError(f"{path}: cannot read: {err}") from None


def _looks_like_json(path: Path) -> bool:
    """Whether the file's text (gunzipped, BOM removed) starts with ``{`` or ``[``; a file that
    cannot be decoded is left to the CSV reader, which says why."""
    try:
        with _open_text(path) as fh:
            head = fh.read(4096)
    except (UnicodeDecodeError, OSError, EOFError, InputError):
        return False
    return head.lstrip()[:1] in ("{", "[")


def _number(where: str, column: str, cell: str | None) -> float | None:
    """A CSV cell as a finite float, ``None`` when empty; ``where`` is ``file:line``."""
    if cell is None or cell.strip() == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{where}: column {column} is not a number: {cell!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: column {column} is {cell!r}; values must be finite")
    return value


def _merge(runs: Rows, where: str, run: str, time: str, t: float, values: dict[str, float | None]
           ) -> None:
    """Adds one row's values at time ``t`` to ``runs[run]``, filling the cells other rows left
    empty; a second, different value of a column at one time is an error, not a silent choice."""
    cells = runs.setdefault(run, {}).setdefault(t, {})
    for column, value in values.items():
        if value is None:
            continue
        if column in cells and cells[column] != value:
            raise InputError(
                f"{where}: two values of {column} at {time} = {t:g} "
                f"({cells[column]:g}, {value:g}); pick a time column with one row "
                "per value (e.g. step) or a metric logged once per time")
        cells[column] = value


def _read_csv(path: Path, time: str, columns: tuple[str, ...], group: str | None
              ) -> dict[str, tuple[np.ndarray, ...]]:
    runs: Rows = {}
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
                where = f"{path}:{line}"
                t = _number(where, time, row[time])
                values = {c: _number(where, c, row[c]) for c in columns}
                if all(v is None for v in values.values()):
                    continue  # a row of other metrics only
                if t is None:
                    raise InputError(f"{where}: column {time} is empty")
                _merge(runs, where, row[group] if group else "all", time, t, values)
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


def _read_json(path: Path, time: str, columns: tuple[str, ...], group: str | None
               ) -> dict[str, tuple[np.ndarray, ...]]:
    """JSON lines when the first line is a whole JSON object, else one JSON document: an array of
    records, or an object, which is a ``trainer_state.json`` or a column-wise history. A lone
    one-line object is a document when it holds ``log_history`` or one of the wanted keys holds an
    array (:func:`_is_history`), else one JSON-lines record."""
    text = _read_text(path)
    lines = text.split("\n")  # not splitlines(): a JSON string may hold U+2028 unescaped
    first = next((line for line in lines if line.strip()), "")
    if isinstance(_json_or_none(first), dict):
        records = _json_lines(path, lines)
        if len(records) != 1 or not _is_history(records[0][1], time, columns):
            return _read_records(path, records, time, columns, group)
        document = records[0][1]
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno}); "
                             "a truncated file?") from None
    if isinstance(document, list):
        return _read_array(path, document, time, columns, group)
    if not isinstance(document, dict):  # unreachable while JSON is told by its first { or [
        raise InputError(f"{path}: a JSON {_json_kind(document)}; {EXPECTED_JSON}")
    if "log_history" in document:
        return _read_trainer_state(path, document, time, columns, group)
    return _read_history(path, document, time, columns, group)


EXPECTED_JSON = ("expected JSON lines (one object per line), a JSON history (an object of equal-length "
                 "arrays, or an array of objects) or a Hugging Face trainer_state.json (an object with "
                 "a log_history list)")


def _is_history(record: dict, time: str, columns: tuple[str, ...]) -> bool:
    """Whether a lone one-line object is a document (a ``trainer_state.json``, or a column-wise
    history: one of the wanted keys holds an array) rather than one JSON-lines record."""
    flat = _flatten(record)
    return "log_history" in record or any(isinstance(flat.get(key), list) for key in (time, *columns))


def _read_array(path: Path, document: list, time: str, columns: tuple[str, ...], group: str | None
                ) -> dict[str, tuple[np.ndarray, ...]]:
    """A JSON array of records, one object per logged time, read as JSON lines are."""
    if not document:
        raise InputError(f"{path}: an empty JSON array; {EXPECTED_JSON}")
    return _read_records(path, _objects(path, document, ""), time, columns, group)


def _objects(path: Path, items: list, name: str) -> list[tuple[str, dict]]:
    """``[(where, record)]`` of a JSON array ``name`` (``""`` for the document itself) whose
    elements must be objects."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"{path}: {name}[{i}] is a JSON {_json_kind(item)}, not an object")
    return [(f"{path}: {name}[{i}]", item) for i, item in enumerate(items)]


def _read_history(path: Path, document: dict, time: str, columns: tuple[str, ...],
                  group: str | None) -> dict[str, tuple[np.ndarray, ...]]:
    """The one run of a column-wise history, ``{"epoch": [...], "train_acc": [...], ...}``: row
    ``i`` is the ``i``-th value of each wanted key (dotted paths into nested objects), merged on
    the time as records are (``null`` is an empty cell)."""
    _no_group(path, group, "a column-wise JSON history (an object of arrays) is one run")
    flat = _flatten(document)
    arrays = [key for key, value in flat.items() if isinstance(value, list)]
    if not arrays:
        raise InputError(f"{path}: a JSON object without arrays or log_history; {EXPECTED_JSON}")
    wanted = (time, *columns)
    bad = [key if key not in flat else f"{key} (a JSON {_json_kind(flat[key])})"
           for key in wanted if not isinstance(flat.get(key), list)]
    if bad:
        raise InputError(f"{path}: missing array(s) {', '.join(bad)}; keys holding arrays are "
                         f"{', '.join(arrays)}")
    n = len(flat[time])
    for key in columns:
        if len(flat[key]) != n:
            raise InputError(f"{path}: {time} has {n} values but {key} has {len(flat[key])}; the "
                             "arrays of a column-wise history need one value per time")
    runs: Rows = {}
    for i in range(n):
        values = {c: _json_number(str(path), f"{c}[{i}]", flat[c][i]) for c in columns}
        if all(v is None for v in values.values()):
            continue  # a time of other metrics only
        t = _json_number(str(path), f"{time}[{i}]", flat[time][i])
        if t is None:
            raise InputError(f"{path}: {time}[{i}] is null")
        _merge(runs, f"{path}: [{i}]", "all", time, t, values)
    if not runs:
        why = "the arrays are empty" if n == 0 else "every one is null"
        raise InputError(f"{path}: no values of {' or '.join(columns)} ({why})")
    return {"all": _aligned(path, "all", runs["all"], columns)}


def _json_or_none(text: str) -> object:
    """``text`` parsed as JSON, ``None`` when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _json_kind(value: object) -> str:
    """The JSON name of a parsed value's type: object, array, string, number, boolean or null."""
    kinds = ((dict, "object"), (list, "array"), (str, "string"), (bool, "boolean"),
             ((int, float), "number"))
    return next((name for types, name in kinds if isinstance(value, types)), "null")


def _json_lines(path: Path, lines: list[str]) -> list[tuple[str, dict]]:
    """``[(file:line, record)]`` of the non-blank lines, each a JSON object."""
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno}); "
                             "JSON lines hold one whole object per line") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{number}: a JSON {_json_kind(record)}, not an object")
        records.append((f"{path}:{number}", record))
    return records


def _flatten(record: dict, prefix: str = "") -> dict[str, object]:
    """A record with its nested objects' keys as dotted paths: ``{"m": {"a": 1}}`` -> ``{"m.a": 1}``."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _json_number(where: str, key: str, value: object) -> float | None:
    """A JSON value as a finite float, ``None`` for a missing key or ``null``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: {key} is not a number: {json.dumps(value)[:40]}")
    if not math.isfinite(value):
        raise InputError(f"{where}: {key} is {value}; values must be finite")
    return float(value)


def _read_records(path: Path, records: list[tuple[str, dict]], time: str, columns: tuple[str, ...],
                  group: str | None) -> dict[str, tuple[np.ndarray, ...]]:
    """The runs of JSON records ``[(where, record)]``, merged on the time key as CSV rows are."""
    flat = [(where, _flatten(record)) for where, record in records]
    keys = list(dict.fromkeys(key for _, record in flat for key in record))
    missing = [k for k in [time, *columns] + ([group] if group else []) if k not in keys]
    if missing:
        raise InputError(f"{path}: missing key(s) {', '.join(missing)}; keys are "
                         f"{', '.join(keys) or '(none)'}")
    runs: Rows = {}
    for where, record in flat:
        values = {c: _json_number(where, c, record.get(c)) for c in columns}
        if all(v is None for v in values.values()):
            continue  # a record of other metrics only
        t = _json_number(where, time, record.get(time))
        if t is None:
            raise InputError(f"{where}: no {time}")
        _merge(runs, where, _run_name(where, group, record), time, t, values)
    if not runs:
        raise InputError(f"{path}: no records with {' or '.join(columns)}")
    return {name: _aligned(path, name, rows, columns) for name, rows in runs.items()}


def _run_name(where: str, group: str | None, record: dict[str, object]) -> str:
    """The run a JSON record belongs to: its ``group`` value as text (``all`` without a group)."""
    if group is None:
        return "all"
    value = record.get(group)
    if value is None:
        raise InputError(f"{where}: no {group}")
    return value if isinstance(value, str) else json.dumps(value)


def _read_trainer_state(path: Path, state: dict, time: str, columns: tuple[str, ...],
                        group: str | None) -> dict[str, tuple[np.ndarray, ...]]:
    """The one run of a Hugging Face ``trainer_state.json``: its ``log_history`` entries (training
    logs, evaluations, the final summary, each with ``step`` and ``epoch``) merged on the time."""
    _no_group(path, group, "a trainer_state.json is one run")
    if time not in ("step", "epoch"):
        raise InputError(f"{path}: the time of a trainer_state.json is step or epoch; got {time!r}")
    history = state["log_history"]
    if not isinstance(history, list):
        raise InputError(f"{path}: log_history is a JSON {_json_kind(history)}, not an array")
    return _read_records(path, _objects(path, history, "log_history"), time, columns, None)


def _is_mlflow(folder: Path) -> bool:
    """Whether a folder is an MLflow store, experiment or run: it, or a folder in it, holds a
    ``meta.yaml`` (TensorBoard folders hold none)."""
    return (folder / "meta.yaml").is_file() or any(
        (sub / "meta.yaml").is_file() for sub in folder.iterdir() if sub.is_dir())


def _is_mlflow_run(folder: Path) -> bool:
    """A run folder holds ``meta.yaml`` and ``metrics/`` (an experiment's holds no ``metrics/``)."""
    return (folder / "meta.yaml").is_file() and (folder / "metrics").is_dir()


def _mlflow_runs(path: Path) -> list[Path]:
    """The run folders of a store, experiment or run folder, in name order, deleted runs left out
    (a run folder given is read even if deleted)."""
    if _is_mlflow_run(path):
        return [path]
    if (path / "meta.yaml").is_file():
        experiments = [path]
    else:
        experiments = sorted(d for d in path.iterdir()
                             if d.is_dir() and d.name not in MLFLOW_NOT_RUNS and (d / "meta.yaml").is_file())
    return [run for experiment in experiments for run in sorted(experiment.iterdir())
            if run.name not in MLFLOW_NOT_RUNS and _is_mlflow_run(run) and not _mlflow_deleted(run)]


def _mlflow_deleted(run: Path) -> bool:
    """Whether ``meta.yaml`` marks the run deleted (``lifecycle_stage: deleted``)."""
    try:
        meta = (run / "meta.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise InputError(f"{run / 'meta.yaml'}: cannot read: {err}") from None
    return any(line.split() == ["lifecycle_stage:", "deleted"] for line in meta.splitlines())


def _mlflow_run_name(run: Path) -> str:
    """The run's name, from its tag file ``tags/mlflow.runName`` (the raw text, which
    ``meta.yaml`` may quote), else its folder's name, the run id."""
    tag = run / "tags" / "mlflow.runName"
    try:
        name = tag.read_text(encoding="utf-8").rstrip("\r\n") if tag.is_file() else ""
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{tag}: cannot read the run name: {err}") from None
    return name or run.name


def _read_mlflow(path: Path, time: str, columns: tuple[str, ...]) -> dict[str, tuple[np.ndarray, ...]]:
    if time not in ("step", "timestamp"):
        raise InputError(f"{path}: the time of an MLflow run is step or timestamp; got {time!r}")
    runs = _mlflow_runs(path)
    if not runs:
        raise InputError(f"{path}: no MLflow runs (folders holding meta.yaml and metrics/) found")
    names = [_mlflow_run_name(run) for run in runs]
    curves = {}
    for run, name in zip(runs, names, strict=True):
        if names.count(name) > 1:
            name = f"{name} ({run.name})"
        metrics = _mlflow_metrics(run)
        rows: dict[float, dict[str, float]] = {}
        for metric in columns:
            if metric not in metrics:
                raise InputError(f"{run}: no metric {metric!r}; metrics are "
                                 f"{', '.join(sorted(metrics)) or '(none)'}")
            for t, v in _mlflow_series(metrics[metric], metric, time).items():
                rows.setdefault(t, {})[metric] = v
        curves[name] = _aligned(run, name, rows, columns)
    return curves


def _mlflow_metrics(run: Path) -> dict[str, Path]:
    """``{metric name: file}`` of a run; a name with ``/`` is a nested folder below ``metrics/``."""
    folder = run / "metrics"
    return {f.relative_to(folder).as_posix(): f for f in folder.rglob("*") if f.is_file()}


def _mlflow_series(file: Path, metric: str, time: str) -> dict[float, float]:
    """``{time: value}`` of a metric file, a line ``timestamp value step`` per value (two fields:
    step 0; five: a dataset's name and digest follow); a time logged twice keeps its last value."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{file}: cannot read: {err}") from None
    series: dict[float, float] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) not in (2, 3, 5):
                raise ValueError
            timestamp, value = int(fields[0]), float(fields[1])
            step = int(fields[2]) if len(fields) > 2 else 0
        except ValueError:
            raise InputError(f"{file}:{number}: not a metric line 'timestamp value step': "
                             f"{line.strip()[:60]!r}") from None
        if not math.isfinite(value):
            raise InputError(f"{file}:{number}: {metric} is {fields[1]}; values must be finite")
        series[float(step if time == "step" else timestamp)] = value
    if not series:
        raise InputError(f"{file}: no values (an empty metric file)")
    return series


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
