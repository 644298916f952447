"""Sharding a sweep's batch axis across every device JAX sees, on one host or several.

A sweep's runs (λ × seeds, or input sizes × seeds) form one batch axis. :func:`shard_batch` pads it
to a multiple of the device count (repeating the last run), places it on a one-axis ``Mesh`` with
a ``NamedSharding``, and the jitted, vmapped program then runs each device's share where it lies;
:func:`gather` brings the results back (from every host) and the caller drops the padding. With
one device (a CPU) nothing changes.

Several hosts: call :func:`initialize` with the coordinator's address, the number of processes
and this process's id (``jax.distributed.initialize``) before anything else touches JAX; every
process runs the same command with the same config, and ``jax.devices()`` then lists the devices
of all hosts.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Start JAX's distributed runtime when a coordinator is given; otherwise do nothing."""
    if coordinator is None:
        return
    if num_processes is None or process_id is None:
        raise ValueError("num_processes and process_id are required with a coordinator address")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)


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
                       help="host:port of process 0, to run on several hosts")
    group.add_argument("--num-processes", type=int, default=None, help="number of hosts")
    group.add_argument("--process-id", type=int, default=None, help="this host's index")


def setup(args, n_runs: int) -> None:
    """Start the distributed runtime if asked, and print the device report if asked."""
    initialize(args.coordinator, args.num_processes, args.process_id)
    if args.devices:
        print(report(n_runs, batch_mesh()))
