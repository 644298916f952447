"""Result files: one ``.npz`` of arrays plus a JSON sidecar, written as one unit.

The sidecar holds the config, seeds, package versions and the git revision, so every figure can be
traced back to the command that produced its data, and the layout version :data:`FORMAT`: files
written before it (format 1: erf fits only, no ``shape``/``theta``/``c``/``d`` or interval arrays)
are still read, and a file that lacks what a reader needs says so by name and version.

The two files of a pair carry the same random token (``__pair__`` in the npz, ``pair`` in the
sidecar). Both are written to temporaries, then renamed, the sidecar last, with SIGINT and SIGTERM
held off between the two renames: a reader finds the previous pair or the new one, and
:func:`load_results` refuses a mixture (left only by a hard kill between the renames). A command
that was interrupted (:mod:`linear_grok.cli`) starts no new pair.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import signal
import subprocess
import tempfile
import threading
import uuid
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

from linear_grok.cli import stop_point

__all__ = ["FORMAT", "atomic_write", "to_jsonable", "config_tag", "result_path", "check_new_results",
           "check_new_table", "check_output_dir", "add_arguments",
           "print_written", "check_output_file", "write_json", "provenance",
           "save_results", "load_results"]

# 2: S-curve families (``shape``, ``theta_*``, ``c_*``, ``d_*``), optional ``*_lo``/``*_hi``
# intervals and the ``measure`` options in the sidecar. 1: everything before.
FORMAT = 2


def _write_temporary(path: Path, write) -> Path:
    """Write through ``write(fh)`` into a synced temporary file beside ``path``; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from the group
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _umask() -> int:
    """The process's file-mode creation mask (read by setting it, and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM off: noted, and acted on (as before) once the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread handles signals
        return
    noted = []
    previous = {s: signal.signal(s, lambda signum, frame: noted.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in noted:
            signal.raise_signal(signum)


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    tmp = _write_temporary(path, write)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def to_jsonable(obj):
    """Dataclasses, NumPy scalars/arrays, tuples and non-finite floats to plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def config_tag(config) -> str:
    """A short hash (8 hex digits) of a configuration (dataclasses, dicts, arrays...): result names
    carry it so that different configurations never share a file."""
    text = json.dumps(to_jsonable(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def result_path(out, name: str, changed: bool, config) -> Path:
    """``out/name``, with ``_<config_tag(config)>`` appended when ``changed`` (the configuration
    is not the preset's own): different configurations never share a file."""
    return Path(out) / (f"{name}_{config_tag(config)}" if changed else name)


def check_new_results(path, overwrite: bool) -> None:
    """Raise ``ValueError`` when the result pair ``path`` exists and ``overwrite`` is False, or
    when either name is not a regular file (a folder, a symbolic link, a device): never replaced."""
    path = Path(path)
    for p in (path.with_suffix(".npz"), path.with_suffix(".json")):
        if p.is_symlink() or (p.exists() and not p.is_file()):
            raise ValueError(f"{p} is not a regular file (a folder, link, device or FIFO); it is "
                             "never replaced: move it, or pass --out to write elsewhere")
    found = [p for p in (path.with_suffix(".npz"), path.with_suffix(".json")) if p.exists()]
    if found and not overwrite:
        raise ValueError(f"{found[0]} exists (same configuration); pass --overwrite to replace "
                         "it, or --out to write elsewhere")


def check_new_table(path, overwrite: bool) -> None:
    """Raise ``ValueError`` unless the table ``path`` can be written: its folder (``--out``) can
    be created or written, and it does not exist yet or ``overwrite`` is set."""
    path = Path(path)
    check_output_dir(path.parent, "--out")
    if path.exists() and not overwrite:
        raise ValueError(f"{path} exists; pass --overwrite to replace it, or --out to write elsewhere")


def check_output_dir(path, flag: str) -> None:
    """Raise ``ValueError`` naming ``flag`` unless ``path`` is a folder that exists or can be
    created, and can be written: checked before any work starts, so nothing is lost at the end."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path}: exists and is not a folder")
    for p in (path, *path.parents):  # a link to nothing, where the folder would be made
        if p.exists():
            break
        if p.is_symlink():
            raise ValueError(f"{flag} {path}: {p} is a symbolic link to nothing")
    parent = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: cannot create or write in {parent}")
    # os.access trusts permission bits, which root passes everywhere (/proc, read-only mounts):
    # create and remove a folder there, as the run will.
    try:
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix=".probe-"))
    except OSError as err:
        raise ValueError(f"{flag} {path}: cannot create or write in {parent} ({err.strerror})") from None


def add_arguments(parser) -> None:
    """The output flags every sweep shares: ``--out``, ``--figures``, ``--no-figures``,
    ``--overwrite`` (checked by :mod:`linear_grok.runner` before any work)."""
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--figures", type=Path, default=Path("figures"), help="figures folder")
    parser.add_argument("--no-figures", action="store_true", help="skip drawing figures")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results of the same configuration (refused otherwise)")


def print_written(paths) -> None:
    """One ``wrote PATH`` line per file a command wrote."""
    for path in paths:
        print(f"wrote {path}")


def check_output_file(path, flag: str, inputs=()) -> None:
    """Raise ``ValueError`` naming ``flag`` unless ``path`` can be written as a regular file: its
    folder can be created or written, it is not a folder, a symbolic link or a special file (a
    device, FIFO or socket, which an atomic rename would replace), and it is none of ``inputs``."""
    path = Path(path)
    if path.is_symlink():
        raise ValueError(f"{flag} {path}: is a symbolic link; give the file it points to (the "
                         "result is written by renaming a new file over the name)")
    if path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise ValueError(f"{flag} {path}: is not a regular file (a device, FIFO or socket); "
                         "give a file name")
    if any(path.resolve() == Path(i).resolve() for i in inputs):
        raise ValueError(f"{flag} {path}: would overwrite an input file")
    check_output_dir(path.parent, flag)


def write_json(path, obj) -> None:
    """Atomically write ``obj`` (see :func:`to_jsonable`) as indented JSON."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    atomic_write(Path(path), lambda fh: fh.write(text.encode()))


def provenance() -> dict:
    """Package versions, Python, platform and git revision of the working tree (if any)."""
    versions = {}
    for pkg in ("linear_grok", "jax", "jaxlib", "optax", "numpy", "scipy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {"versions": versions, "python": platform.python_version(),
            "platform": platform.platform(), "git_revision": rev}


def save_results(path, arrays: dict[str, np.ndarray], meta: dict) -> tuple[Path, Path]:
    """Write ``path.npz`` (arrays) and ``path.json`` (meta + provenance), each atomically.

    Returns the two paths. ``path`` is given without suffix. On several hosts only process 0
    writes (every process holds the same gathered results).
    """
    path = Path(path)
    npz, sidecar = path.with_suffix(".npz"), path.with_suffix(".json")
    if jax.process_index() != 0:
        return npz, sidecar
    stop_point()  # an interrupted command writes no new pair
    pair = uuid.uuid4().hex
    # Uncompressed: curves of smooth floats deflate only ~2x, at ~1 s per 50 MB.
    tmp_npz = _write_temporary(npz, lambda fh: np.savez(fh, __pair__=np.array(pair), **arrays))
    text = json.dumps(to_jsonable({**meta, "format": FORMAT, "provenance": provenance(),
                                   "arrays": sorted(arrays), "pair": pair}),
                      indent=2, allow_nan=False) + "\n"
    try:
        tmp_json = _write_temporary(sidecar, lambda fh: fh.write(text.encode()))
    except BaseException:
        tmp_npz.unlink(missing_ok=True)
        raise
    try:
        with _signals_held():
            os.replace(tmp_npz, npz)
            os.replace(tmp_json, sidecar)
    finally:  # a rename that failed leaves no temporary behind
        tmp_npz.unlink(missing_ok=True)
        tmp_json.unlink(missing_ok=True)
    return npz, sidecar


def load_results(path, require: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict]:
    """Read what :func:`save_results` wrote: ``(arrays, meta)``, ``meta["format"]`` filled in
    (1 for files from before the version was recorded).

    Raises:
      ValueError: the two files are from different writes, the file is from a newer version than
        this package reads, or it lacks one of the arrays named in ``require`` (the message names
        the file, its version and the arrays).
    """
    path = Path(path)
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(path.with_suffix(".json").read_text())
    pair = arrays.pop("__pair__", None)
    if meta.get("pair") is not None and (pair is None or str(pair) != meta["pair"]):
        raise ValueError(f"{path}: .npz and .json are from different writes (interrupted by a "
                         f"hard kill?); rerun: {meta.get('command', 'the experiment')}")
    meta.setdefault("format", 1)
    if meta["format"] > FORMAT:
        raise ValueError(f"{path}: result format {meta['format']} is newer than this linear_grok "
                         f"reads ({FORMAT}); update the package")
    missing = [k for k in require if k not in arrays]
    if missing:
        raise ValueError(f"{path}: result format {meta['format']} has no {', '.join(missing)}; "
                         f"rerun: {meta.get('command', 'the experiment that wrote it')}")
    return arrays, meta
