"""Sharding a sweep's batch axis across every device JAX sees, on one host or several.

A sweep's runs (λ × seeds, or input sizes × seeds) form one batch axis. :func:`shard_batch` pads it
to a multiple of the device count (repeating the last run), places it on a one-axis ``Mesh`` with
a ``NamedSharding``, and the jitted, vmapped program then runs each device's share where it lies;
:func:`gather` brings the results back (from every host) and the caller drops the padding. With
one device (a CPU) nothing changes.

Several hosts: call :func:`initialize` with the coordinator's address, the number of processes
and this process's id (``jax.distributed.initialize``) before anything else touches JAX; every
process runs the same command with the same config, and ``jax.devices()`` then lists the devices
of all hosts. Every process computes and gathers the same results; only :func:`is_writer`
(process 0) writes files.

Errors, for a command's caller: :func:`check_arguments` (no JAX: run it with the other value checks
before any work) raises ``ValueError`` for bad flags; :func:`initialize` and :func:`setup` raise
that ``ValueError`` too, and :class:`DistributedError` (a ``RuntimeError``) when the runtime
cannot start. Both carry one line naming the flag: catch ``(ValueError, DistributedError)`` and
report it. One failure cannot be raised: when not every process joins within the timeout, JAX's
runtime would abort the process with a C++ stack trace, so :func:`initialize` prints one
``error:`` line on stderr and ends the process with status 1 just before that.
"""

from __future__ import annotations

import math
import numbers
import os
import socket
import sys
import threading
import time

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


MAX_PROCESSES = 4096
TIMEOUT = 300  # seconds every process waits for the others to join (JAX's default)


class DistributedError(RuntimeError):
    """JAX's distributed runtime could not start (coordinator unreachable, port in use...); the
    message is one line naming ``--coordinator``."""


def _whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _split_address(coordinator: str) -> tuple[str, int]:
    """``(host, port)`` of ``host:port`` or ``[IPv6]:port``; ``ValueError`` naming the flag."""
    form = "--coordinator must be host:port with a port in [1, 65535]"
    if not isinstance(coordinator, str):
        raise ValueError(f"{form}, got {coordinator!r}")
    host, colon, port = coordinator.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{form} (an IPv6 address in brackets: [::1]:1234), got {coordinator!r}")
    if not colon or not host or not port:
        raise ValueError(f"{form}, got {coordinator!r}")
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"{form}, got port {port!r}")
    return host, int(port)


def check_arguments(coordinator: str | None, num_processes: int | None,
                    process_id: int | None) -> None:
    """Check the multi-host flags before any work; raise ``ValueError`` with one line naming the
    flag and its valid range.

    With no ``coordinator`` the other two must be absent too (one host). With one, both are
    required: ``coordinator`` is ``host:port`` (``[IPv6]:port``) with a port in [1, 65535] and a
    host that resolves (``socket.getaddrinfo``); ``num_processes`` a whole number in
    [1, :data:`MAX_PROCESSES`]; ``process_id`` a whole number in [0, ``num_processes``).
    """
    if coordinator is None:
        for flag, value in (("--num-processes", num_processes), ("--process-id", process_id)):
            if value is not None:
                raise ValueError(f"{flag} needs --coordinator (host:port of process 0)")
        return
    if num_processes is None or process_id is None:
        raise ValueError("--coordinator needs --num-processes and --process-id")
    host, port = _split_address(coordinator)
    if not _whole(num_processes) or not 1 <= num_processes <= MAX_PROCESSES:
        raise ValueError(f"--num-processes must be a whole number in [1, {MAX_PROCESSES}], "
                         f"got {num_processes!r}")
    if not _whole(process_id) or not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be a whole number in [0, {num_processes - 1}] "
                         f"(below --num-processes {num_processes}), got {process_id!r}")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:  # gaierror is an OSError; IDNA rejects long labels
        reason = getattr(err, "strerror", None) or str(err)
        raise ValueError(f"--coordinator {coordinator}: cannot resolve host {host!r} "
                         f"({reason})") from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _wait_for_coordinator(coordinator: str, host: str, port: int, timeout: float) -> None:
    """Poll a TCP connection to the coordinator until it answers; ``DistributedError`` after
    ``timeout`` seconds (JAX's client would abort the process instead of raising)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            socket.create_connection((host, port), timeout=max(0.1, min(2.0, left))).close()
            return
        except OSError as err:
            if time.monotonic() + 0.25 >= deadline:
                raise DistributedError(
                    f"--coordinator {coordinator}: nothing answered within {timeout:g} s "
                    f"({err.strerror or err}); is process 0 running there, on that port?") from None
            time.sleep(0.25)


def _check_port_free(coordinator: str, port: int) -> None:
    """``DistributedError`` unless process 0 can bind the coordinator's port on every address, as
    JAX's service will (``[::]:port``): with the port taken, jaxlib crashes (a segmentation
    fault) instead of raising."""
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        address = ("::", port)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    except OSError:  # no IPv6 on this machine
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("", port)
    with probe:
        # As gRPC's listener: a port in TIME_WAIT may be reused, one listened on may not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise DistributedError(
                f"--coordinator {coordinator}: port {port} is already in use on this machine, "
                f"where process 0 starts the coordinator ({err.strerror or err})") from None


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, timeout: float = TIMEOUT) -> None:
    """Start JAX's distributed runtime when a coordinator is given; otherwise do nothing.

    Call it before anything else touches JAX (a device, a computation). Raises ``ValueError``
    from :func:`check_arguments`, and :class:`DistributedError` (one line) when the runtime
    cannot start: a process other than 0 finds nothing listening at ``coordinator`` within
    ``timeout`` seconds, process 0 finds the port taken on its machine, JAX's backend was already
    started, or the runtime was already initialized. When the coordinator answers but not every process
    joins within ``timeout`` seconds, JAX would abort the process; a watchdog instead prints one
    ``error:`` line on stderr and ends the process with status 1 (``os._exit``).
    """
    check_arguments(coordinator, num_processes, process_id)
    if coordinator is None:
        return
    host, port = _split_address(coordinator)
    start = time.monotonic()
    if process_id == 0:  # process 0 starts the service itself
        _check_port_free(coordinator, port)
    else:
        _wait_for_coordinator(coordinator, host, port, timeout)
    left = max(1.0, timeout - (time.monotonic() - start))

    def give_up():
        print(f"error: --coordinator {coordinator}: not all {num_processes} processes joined "
              f"within {timeout:g} s (this is --process-id {process_id}); stopping",
              file=sys.stderr, flush=True)
        os._exit(1)

    watchdog = threading.Timer(left, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        # JAX's own deadline lies after the watchdog's: it ends the process with a stack trace.
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id,
                                   initialization_timeout=int(math.ceil(left)) + 30)
    except Exception as err:  # JaxRuntimeError (a RuntimeError), ValueError, TypeError
        raise DistributedError(f"--coordinator {coordinator}: the distributed runtime did not "
                               f"start: {_one_line(err)}") from None
    finally:
        watchdog.cancel()


def is_writer() -> bool:
    """Whether this process writes the command's files: ``True`` only on process 0
    (``jax.process_index() == 0``), and always on one host.

    Every process of a multi-host sweep computes and gathers the same results, so exactly one
    must write them: a command gates every file it writes (result pairs, CSV tables, figures,
    logs) on this. Call it after :func:`setup`/:func:`initialize` (it starts JAX's backend).
    """
    return jax.process_index() == 0


def batch_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"batch"`` over ``devices`` (default: all devices, all hosts)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (AXIS,))


def padded_size(n: int, mesh: Mesh) -> int:
    """``n`` rounded up to a multiple of the mesh's device count."""
    k = mesh.devices.size
    return int(math.ceil(n / k) * k)


def shard_batch(arrays, mesh: Mesh):
    """Pad each array's leading axis to a multiple of the devices and shard it on ``mesh``.

    Args:
      arrays: a pytree of NumPy arrays with a common leading (batch) size ``n``; the same on
        every host.
    Returns:
      the pytree as global ``jax.Array``s of leading size :func:`padded_size`, the padding
      repeating the last run (dropped again by the caller).
    """
    def put(a):
        a = np.asarray(a)
        n_pad = padded_size(a.shape[0], mesh) - a.shape[0]
        if n_pad:
            a = np.concatenate([a, np.repeat(a[-1:], n_pad, axis=0)])
        spec = PartitionSpec(AXIS, *([None] * (a.ndim - 1)))
        sharding = NamedSharding(mesh, spec)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return jax.tree_util.tree_map(put, arrays)


def per_device(fn, mesh: Mesh, n_replicated: int = 0):
    """``jit(shard_map(fn))``: ``fn`` runs on each device's block of the batch axis, no communication.

    ``fn`` takes and returns pytrees whose leaves have the (local) batch as leading axis; its
    ``n_replicated`` last arguments are instead whole on every device (data shared by all runs).
    """
    spec = PartitionSpec(AXIS)
    in_specs = (spec,) + (PartitionSpec(),) * n_replicated
    return jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=spec))


def lapack_batches_safe(mesh: Mesh) -> bool:
    """Whether batched LAPACK kernels (``eigh``) may run on every device of ``mesh`` at once.

    ``False`` when two or more of the mesh's devices are CPU devices of this process (for example
    ``--xla_force_host_platform_device_count``): they share one intra-op thread pool, and jaxlib's
    CPU LAPACK kernels split a batch into tasks on that pool and block until they finish, so
    device programs running concurrently can hold every worker and wait on each other for ever.
    A caller then decomposes its matrices one at a time (batch 1 runs inline).
    """
    local = [d for d in mesh.devices.ravel()
             if d.platform == "cpu" and d.process_index == jax.process_index()]
    return len(local) < 2


def gather(tree, n: int):
    """NumPy copies of a batch-sharded pytree (from all hosts), the first ``n`` rows kept."""
    if jax.process_count() > 1:
        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[:n], tree)


def report(n_runs: int, mesh: Mesh) -> str:
    """One paragraph: the devices found and how ``n_runs`` runs are split over them."""
    devices = mesh.devices.ravel()
    kinds = sorted({f"{d.platform}:{d.device_kind}" for d in devices})
    padded = padded_size(n_runs, mesh)
    return (f"devices: {devices.size} ({', '.join(kinds)}) on {jax.process_count()} process(es); "
            f"{n_runs} runs padded to {padded}, {padded // devices.size} per device")


def add_arguments(parser) -> None:
    """``--devices`` and the multi-host flags, shared by the experiments' command lines."""
    group = parser.add_argument_group("devices")
    group.add_argument("--devices", action="store_true",
                       help="print the devices found and how the runs are split over them")
    group.add_argument("--coordinator", default=None,
                       help="host:port of process 0, to run on several hosts (every process "
                            "runs the same command; only process 0 writes files)")
    group.add_argument("--num-processes", type=int, default=None,
                       help=f"number of processes (hosts), 1 to {MAX_PROCESSES}; with --coordinator")
    group.add_argument("--process-id", type=int, default=None,
                       help="this process's index, 0 to --num-processes - 1; with --coordinator")


def setup(args, n_runs: int, timeout: float = TIMEOUT) -> None:
    """Start the distributed runtime if asked, and print the device report if asked.

    Raises ``ValueError`` (bad flags, :func:`check_arguments`) or :class:`DistributedError` (the
    runtime did not start), each one line to report; see :func:`initialize`.
    """
    initialize(args.coordinator, args.num_processes, args.process_id, timeout=timeout)
    if args.devices:
        print(report(n_runs, batch_mesh()))
