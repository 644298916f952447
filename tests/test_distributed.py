"""Sharded sweeps equal single-device sweeps, on 4 simulated CPU devices (in a subprocess, since
the device count is fixed when JAX starts); a sweep run as two processes with JAX's distributed
runtime equals the one-process sweep and only process 0 writes; the multi-host flags are checked
before any work."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from linear_grok import distributed

SCRIPT = textwrap.dedent("""
    import dataclasses, sys
    import jax, numpy as np
    from linear_grok import distributed
    from linear_grok.settings import parity
    from linear_grok.settings.linear import simulator
    assert jax.device_count() == 4, jax.devices()
    cfg = simulator.SimConfig(d_in=30, n_test=50, eps=(1e-3,))
    steps = np.array([0, 10, 100, 1000])
    # 7 λ × 5 seeds = 35 runs, padded to 36 on 4 devices. Batched eigh on this many runs per
    # simulated device used to deadlock XLA's shared CPU thread pool.
    lams, seeds = np.linspace(0.4, 0.95, 7), np.arange(5)
    assert not distributed.lapack_batches_safe(distributed.batch_mesh())
    assert distributed.lapack_batches_safe(distributed.batch_mesh(jax.devices()[:1]))
    for engine in ("spectral", "steps"):
        many = simulator.simulate_sweep(cfg, lams, seeds, steps, engine=engine)
        one = simulator.simulate_sweep(cfg, lams, seeds, steps, engine=engine,
                                       devices=jax.devices()[:1])
        np.testing.assert_allclose(many.train_loss, one.train_loss, rtol=1e-12)
        np.testing.assert_allclose(many.gen_loss, one.gen_loss, rtol=1e-12)
        np.testing.assert_array_equal(many.test_acc, one.test_acc)
    pcfg = parity.ParityConfig(input_sizes=(5, 7, 8), seeds=(0,), hidden=16, n_train=40,
                               n_val=20, batch_size=8, epochs=3)
    a = parity.train_sweep(pcfg, chunk=2, progress=False)
    b = parity.train_sweep(pcfg, chunk=2, progress=False, devices=jax.devices()[:1])
    for k in ("train_loss", "val_loss"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5)
    assert a["train_loss"].shape == (3, 3)
    print(distributed.report(35, distributed.batch_mesh()))
    print("SHARDED-EQUAL")
""")


def test_sharded_sweeps_equal_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-EQUAL" in proc.stdout
    assert "devices: 4" in proc.stdout and "35 runs padded to 36, 9 per device" in proc.stdout


def test_padding_and_gather_on_one_device():
    mesh = distributed.batch_mesh()
    sharded = distributed.shard_batch({"x": np.arange(5.0)}, mesh)
    assert sharded["x"].shape[0] == distributed.padded_size(5, mesh)
    np.testing.assert_array_equal(distributed.gather(sharded, 5)["x"], np.arange(5.0))
    assert distributed.lapack_batches_safe(mesh)


# --- the multi-host flags ----------------------------------------------------------------------

@pytest.mark.parametrize("coordinator, num_processes, process_id, message", [
    ("localhost:1234", 0, 0, "--num-processes must be a whole number in [1, 4096], got 0"),
    ("localhost:1234", -1, 0, "--num-processes must be a whole number in [1, 4096], got -1"),
    ("localhost:1234", 10**30, 0, "--num-processes must be a whole number in [1, 4096]"),
    ("localhost:1234", 2.0, 0, "--num-processes must be a whole number"),
    ("localhost:1234", True, 0, "--num-processes must be a whole number"),
    ("localhost:1234", 2, 5, "--process-id must be a whole number in [0, 1] (below "
                             "--num-processes 2), got 5"),
    ("localhost:1234", 2, 2, "--process-id must be a whole number in [0, 1]"),
    ("localhost:1234", 2, -1, "--process-id must be a whole number in [0, 1]"),
    ("localhost:1234", 2, 10**30, "--process-id must be a whole number in [0, 1]"),
    ("nohost", 2, 0, "--coordinator must be host:port with a port in [1, 65535]"),
    (":1234", 2, 0, "--coordinator must be host:port"),
    ("localhost:", 2, 0, "--coordinator must be host:port"),
    ("localhost:0", 2, 0, "--coordinator must be host:port with a port in [1, 65535], got port '0'"),
    ("localhost:99999", 2, 0, "port '99999'"),
    ("localhost:-5", 2, 0, "port '-5'"),
    ("localhost:+80", 2, 0, "port '+80'"),
    ("::1:1234", 2, 0, "an IPv6 address in brackets"),
    (1234, 2, 0, "--coordinator must be host:port"),
    ("no-such-host.invalid:1234", 2, 0, "--coordinator no-such-host.invalid:1234: cannot resolve "
                                        "host 'no-such-host.invalid'"),
    ("nohost:1234", 2, 0, "cannot resolve host 'nohost'"),
    ("a" * 300 + ":1234", 2, 0, "cannot resolve host"),
    (None, 2, None, "--num-processes needs --coordinator"),
    (None, None, 0, "--process-id needs --coordinator"),
    (None, 2, 0, "--num-processes needs --coordinator"),
    ("localhost:1234", None, None, "--coordinator needs --num-processes and --process-id"),
    ("localhost:1234", 2, None, "--coordinator needs --num-processes and --process-id"),
    ("localhost:1234", None, 0, "--coordinator needs --num-processes and --process-id"),
])
def test_bad_multihost_flags_refused(coordinator, num_processes, process_id, message):
    with pytest.raises(ValueError) as info:
        distributed.check_arguments(coordinator, num_processes, process_id)
    text = str(info.value)
    assert message in text and "\n" not in text, text
    with pytest.raises(ValueError, match="^--"):  # initialize checks first: JAX is left alone
        distributed.initialize(coordinator, num_processes, process_id)


@pytest.mark.parametrize("coordinator, num_processes, process_id", [
    (None, None, None), ("localhost:1234", 1, 0), ("localhost:1", 4096, 4095),
    ("127.0.0.1:65535", 2, 1), ("localhost:1234", np.int64(3), np.int32(2)),
])
def test_good_multihost_flags_accepted(coordinator, num_processes, process_id):
    distributed.check_arguments(coordinator, num_processes, process_id)


def test_ipv6_coordinator_in_brackets():
    assert distributed._split_address("[::1]:1234") == ("::1", 1234)


def test_setup_checks_the_flags():
    args = type("Args", (), dict(coordinator=None, num_processes=0, process_id=None,
                                 devices=False))()
    with pytest.raises(ValueError, match="--num-processes needs --coordinator"):
        distributed.setup(args, 4)


def test_is_writer_on_one_process():
    assert distributed.is_writer()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def environment(**extra) -> dict:
    """The subprocesses' environment: CPU only, one device per process unless ``extra`` says."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    return dict(env, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1", **extra)


FAILURES = textwrap.dedent("""
    import socket, sys
    from linear_grok import distributed
    free = int(sys.argv[1])
    # A process other than 0, and nothing listens at the coordinator's address.
    try:
        distributed.initialize(f"localhost:{free}", 2, 1, timeout=1.5)
    except distributed.DistributedError as err:
        print("UNREACHABLE", err)
    # Process 0, and its port is taken.
    with socket.create_server(("", 0)) as taken:
        busy = taken.getsockname()[1]
        try:
            distributed.initialize(f"localhost:{busy}", 2, 0, timeout=1.5)
        except distributed.DistributedError as err:
            print("BUSY", err)
    # Process 0, and process 1 never joins: JAX would abort; the watchdog ends the process.
    distributed.initialize(f"localhost:{free}", 2, 0, timeout=1.5)
    print("NOT REACHED")
""")


def test_runtime_failures_are_one_line():
    port = free_port()
    proc = subprocess.run([sys.executable, "-c", FAILURES, str(port)], env=environment(),
                          capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    unreachable = [ln for ln in lines if ln.startswith("UNREACHABLE")]
    busy = [ln for ln in lines if ln.startswith("BUSY")]
    assert unreachable and f"--coordinator localhost:{port}: nothing answered within 1.5 s" \
        in unreachable[0], proc.stdout + proc.stderr
    assert busy and "is already in use on this machine" in busy[0], proc.stdout + proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "NOT REACHED" not in proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: --coordinator localhost:{port}: not all 2 processes joined within "
                      "1.5 s (this is --process-id 0); stopping"], proc.stderr
    assert "Traceback" not in proc.stderr and "Check failure" not in proc.stderr, proc.stderr


# --- a sweep on two processes ------------------------------------------------------------------

# The command the sweep runs as (the runner may rename it).
SWEEP = [sys.executable, "-m", "experiments.parity_sweep"]
FLAGS = ["--input-sizes", "25", "30", "--seeds", "0", "1", "--epochs", "30", "--hidden", "16",
         "--n-train", "40", "--n-val", "20", "--no-progress"]


def sweep(out: Path, *extra, env=None) -> subprocess.Popen:
    # Figures on, each process with its own folders: only process 0 may write any of them.
    return subprocess.Popen([*SWEEP, *FLAGS, "--out", str(out), "--figures", str(out / "figures"),
                             *extra], env=env or environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(procs, timeout=150) -> list[str]:
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
    return outputs


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """Output folders of the sweep run as processes 0 and 1 of two, and as one process on two
    simulated devices (the same split of the runs) and on one device."""
    root = tmp_path_factory.mktemp("two_processes")
    port = free_port()
    pair = [sweep(root / f"process{i}", "--coordinator", f"localhost:{port}",
                  "--num-processes", "2", "--process-id", str(i)) for i in (0, 1)]
    outputs = finish(pair)
    singles = [sweep(root / "two_devices", "--devices", env=environment(
                   XLA_FLAGS="--xla_force_host_platform_device_count=2")),
               sweep(root / "one_device")]
    outputs += finish(singles)
    assert "devices: 2 (cpu:cpu) on 1 process(es)" in outputs[2], outputs[2]
    return root, outputs


def results(folder: Path) -> dict:
    [npz] = folder.glob("*.npz")
    with np.load(npz) as f:
        return {k: f[k] for k in f.files if k != "__pair__"}  # __pair__: a random pairing tag


def test_two_processes_equal_one_process(sweeps):
    root, outputs = sweeps
    two, local, one = (results(root / name) for name in ("process0", "two_devices", "one_device"))
    assert sorted(two) == sorted(local) == sorted(one)
    for k in two:
        # The same split of runs over two devices, in one process or two: equal bit for bit.
        np.testing.assert_array_equal(two[k], local[k], err_msg=k)
        # On one device the batch per device differs: float32 training agrees to rounding.
        if two[k].dtype.kind == "f":
            np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-6, err_msg=k)
        else:
            np.testing.assert_array_equal(two[k], one[k], err_msg=k)
    process0 = {p.name for p in (root / "process0").rglob("*") if p.is_file()}
    for end in (".npz", ".json", "_runs.csv", "_trends.csv", ".png"):
        assert any(name.endswith(end) for name in process0), (end, process0)
    # Process 1 computed everything too but wrote nothing: test_process_1_writes_no_file.


def test_process_1_writes_no_file(sweeps):
    root, _ = sweeps
    process1 = root / "process1"
    written = sorted(str(p.relative_to(root)) for p in process1.rglob("*") if p.is_file()) \
        if process1.exists() else []
    assert written == [], written
