"""Running on a store with others: its lock (a second run refused, naming
the holder; stale locks), the kernels it records (refused on resume with
others), the mismatch message in CLI words, the umask, and on Dask: no
store left by an unreachable scheduler, --worker-timeout keeping the done
chunks, workers given the store's TF_ENABLE_ONEDNN_OPTS, no dashboard
warning."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("zarr")
pytest.importorskip("pyfaidx")

from deeplift.cli import DEMO_MODEL, main  # noqa: E402
from deeplift.genomics import store as store_module  # noqa: E402
from deeplift.genomics.store import (LOCK_NAME, ScoreStore,  # noqa: E402
                                     StoreError, StoreLock)
from tests.genomics_helpers import (REPO, contribs_argv,  # noqa: E402
                                    done_count, random_peak_rows, repo_env,
                                    wait_for_chunks, write_genome,
                                    write_peaks)

SIZES = {"chr1": 2400, "chr2": 900}
COMMON = ["--reference", "dinuc-shuffle:3", "--task", "0,2",
          "--batch-size", "24", "--chunk-size", "2", "--quiet"]
NUM_CHUNKS = 8


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A genome, 16 peaks and the complete store of an in-process run."""
    tmp = tmp_path_factory.mktemp("dist")
    write_genome(tmp / "g.fa", SIZES, seed=2)
    peaks = write_peaks(tmp / "p.narrowPeak", random_peak_rows(SIZES, 16))
    data = {"genome": str(tmp / "g.fa"), "peaks": str(peaks),
            "ref": str(tmp / "ref.zarr")}
    assert main(argv(data, data["ref"])) == 0
    return data


def argv(data, out, *extra):
    return contribs_argv(data["genome"], data["peaks"], out, *COMMON, *extra)


def run(args, capfd):
    status = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return status, out, err


def cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "deeplift.cli"] +
                            [str(a) for a in args], cwd=str(REPO),
                            env=repo_env(),
                            text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def same_bytes(path, ref):
    a, b = ScoreStore.open(path), ScoreStore.open(ref)
    for name in ("onehot", "hypothetical", "contribs"):
        x, y = np.asarray(a.array(name)[:]), np.asarray(b.array(name)[:])
        if x.dtype != y.dtype or x.tobytes() != y.tobytes():
            return False
    return True


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------------------
# the mismatch message names what the user sets
# ---------------------------------------------------------------------------

def test_mismatch_names_cli_flags_not_derived_settings(tmp_path):
    """Changing --reference changes the derived ``fuse`` too (decided from
    the number of (sequence, reference) pairs): only --reference is named."""
    old = {"reference": "dinuc-shuffle:3", "fuse": False, "seed": 0}
    new = {"reference": "dinuc-shuffle:100", "fuse": True, "seed": 0}
    path = tmp_path / "m.zarr"
    with StoreLock(path):
        store_module.prepare(path, old, settings={}, num=4, length=10,
                             chunk_size=2)
        with pytest.raises(StoreError) as info:
            store_module.prepare(path, new)
    assert "(it differs in: --reference);" in str(info.value)
    with pytest.raises(StoreError, match=r"differs in: settings this "
                       r"deeplift derives from yours \(fuse\), so it was "
                       r"probably written by another deeplift version"):
        store_module.prepare(path, dict(old, fuse=True))


def test_changing_only_the_reference_names_only_the_reference(data, capfd,
                                                              tmp_path):
    """End to end: 16 sequences x 3 references are not fused, x 200 are
    (the case the bug report saw as 'fuse, reference')."""
    from deeplift.scoring import FUSE_MIN_EXAMPLES
    assert 16 * 3 < FUSE_MIN_EXAMPLES <= 16 * 200
    out = tmp_path / "r.zarr"
    shutil.copytree(data["ref"], out)
    status, _, err = run(argv(data, out, "--reference", "dinuc-shuffle:200"),
                         capfd)
    assert status == 2
    assert "(it differs in: --reference); use another --out" in err, err


# ---------------------------------------------------------------------------
# the lock
# ---------------------------------------------------------------------------

@pytest.mark.slow   # Dask workers in subprocesses: 15-50 s
def test_two_concurrent_runs_one_refused_naming_the_other(data, tmp_path):
    out = tmp_path / "c.zarr"
    first, second = cli(argv(data, out)), cli(argv(data, out))
    results = [p.communicate(timeout=400) + (p.returncode, p.pid)
               for p in (first, second)]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    winner = [r for r in results if r[2] == 0][0]
    loser = [r for r in results if r[2] == 2][0]
    assert "%d scored now, 0 done before" % NUM_CHUNKS in winner[0]
    assert "is in use by process %d on host %s" % (
        winner[3], socket.gethostname()) in loser[1], loser[1]
    assert "--break-lock" in loser[1] and loser[1].count("\n") == 1
    assert not os.path.exists(out / LOCK_NAME)
    assert same_bytes(out, data["ref"])


def test_stale_and_foreign_locks(data, capfd, tmp_path):
    out = tmp_path / "s.zarr"
    shutil.copytree(data["ref"], out)
    lock = out / LOCK_NAME
    # a live process of this host: refused, named
    sleeper = subprocess.Popen([sys.executable, "-c",
                                "import time; time.sleep(120)"])
    try:
        lock.write_text(json.dumps({"host": socket.gethostname(),
                                    "pid": sleeper.pid, "since": "x"}))
        status, _, err = run(argv(data, out), capfd)
        assert status == 2
        assert "is in use by process %d on host %s" % (
            sleeper.pid, socket.gethostname()) in err
    finally:
        sleeper.kill()
        sleeper.wait()
    # a dead process of this host: removed without asking
    lock.write_text(json.dumps({"host": socket.gethostname(),
                                "pid": dead_pid(), "since": "x"}))
    status, stdout, err = run(argv(data, out), capfd)
    assert status == 0, err
    assert "(0 scored now, %d done before)" % NUM_CHUNKS in stdout
    assert not lock.exists()
    # another host: cannot be checked, refused until --break-lock
    lock.write_text(json.dumps({"host": "node-elsewhere", "pid": 1,
                                "since": "x"}))
    status, _, err = run(argv(data, out), capfd)
    assert status == 2 and "process 1 on host node-elsewhere" in err
    status, stdout, _ = run(["status", out], capfd)
    assert status == 0
    assert "in use by process 1 on host node-elsewhere" in stdout
    status, stdout, err = run(argv(data, out, "--break-lock"), capfd)
    assert status == 0, err
    assert not lock.exists()


def test_lock_is_atomic_and_released(tmp_path):
    path = tmp_path / "l.zarr"
    with StoreLock(path) as lock:
        info = json.loads((path / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and lock.held
        with pytest.raises(StoreError, match="in use by process %d"
                           % os.getpid()):
            StoreLock(path).acquire()
    assert not path.exists()          # created for nothing: removed


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------

def test_store_records_kernels_and_refuses_others(data, capfd, tmp_path):
    import tensorflow as tf
    mine = store_module.current_kernels()
    assert mine["tensorflow"] == tf.__version__
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if setting in ("0", "1"):
        assert mine["onednn"] == (setting == "1")
    assert ScoreStore.open(data["ref"]).kernels == mine
    out = tmp_path / "k.zarr"
    shutil.copytree(data["ref"], out)
    import zarr
    other = dict(mine, onednn=not mine["onednn"])
    zarr.open_group(str(out), mode="r+").attrs["kernels"] = other
    status, _, err = run(argv(data, out), capfd)
    assert status == 2 and err.count("\n") == 1
    assert "set TF_ENABLE_ONEDNN_OPTS=%d" % int(other["onednn"]) in err
    assert "--allow-kernel-mismatch" in err
    status, stdout, err = run(argv(data, out, "--allow-kernel-mismatch"),
                              capfd)
    assert status == 0, err
    store = ScoreStore.open(out)
    assert store.kernels == other
    assert store.group.attrs["other_kernels"] == [mine]
    status, stdout, _ = run(["status", out], capfd)
    assert "scored with TensorFlow %s with oneDNN %s" % (
        tf.__version__, "on" if other["onednn"] else "off") in stdout
    # a store written before stores recorded kernels adopts this run's
    del zarr.open_group(str(out), mode="r+").attrs["kernels"]
    assert ScoreStore.open(out).kernels == {}
    status, _, err = run(argv(data, out), capfd)
    assert status == 0, err
    assert ScoreStore.open(out).kernels == mine


# ---------------------------------------------------------------------------
# umask
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_store_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = tmp_path / "u.zarr"
        with StoreLock(path):
            assert stat.S_IMODE(os.stat(path / LOCK_NAME).st_mode) == \
                0o666 & ~umask
            store = store_module.prepare(path, {"a": 1}, settings={}, num=4,
                                         length=10, chunk_size=2)
            store.write(0, np.ones((2, 10, 4), np.float32),
                        np.ones((2, 10, 4), np.float32))
    finally:
        os.umask(old)
    seen = 0
    for root, dirs, files in os.walk(path):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) \
                == 0o777 & ~umask, name
        for name in files:
            seen += 1
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) \
                == 0o666 & ~umask, name
    assert seen > 5


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------

def _scheduler(tmp_path):
    """A Dask scheduler process and its scheduler file."""
    sched = tmp_path / "sched.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler",
         "--scheduler-file", str(sched), "--port", "0",
         "--dashboard-address", ":0", "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not sched.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert sched.exists()
    return proc, sched


def test_stale_scheduler_file_leaves_no_store(data, capfd, tmp_path,
                                              monkeypatch):
    pytest.importorskip("distributed")
    from deeplift import distributed
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 2)
    sched = tmp_path / "sched.json"
    sched.write_text(json.dumps({"type": "Scheduler",
                                 "address": "tcp://127.0.0.1:9",
                                 "id": "Scheduler-gone", "workers": {}}))
    out = tmp_path / "n.zarr"
    status, _, err = run(argv(data, out, "--scheduler-file", sched), capfd)
    assert status == 2 and err.count("\n") == 1
    assert "no Dask scheduler answered" in err and "stale" in err
    assert not out.exists()


@pytest.mark.slow   # Dask workers in subprocesses: 15-50 s
def test_no_worker_for_worker_timeout_exits_2_keeping_done_chunks(
        data, capfd, tmp_path):
    """A worker scores some chunks and dies; with no worker for
    --worker-timeout seconds the run stops (exit 2, one line), the done
    chunks stay done, and a resume (in-process) gives the same bytes."""
    pytest.importorskip("distributed")
    scheduler, sched = _scheduler(tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker",
         "--scheduler-file", str(sched), "--nthreads", "1", "--no-nanny"],
        env=repo_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp_path / "t.zarr"
    try:
        proc = cli(argv(data, out, "--scheduler-file", sched,
                        "--worker-timeout", "3"))
        wait_for_chunks(out, proc, 300)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = done_count(out)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        for p in (worker, scheduler):
            p.kill()
            p.wait()
    assert proc.returncode == 2, stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "no Dask worker at" in lines[0], stderr
    assert "for 3 s" in lines[0] and "rerun the same command" in lines[0]
    done = done_count(out)
    assert 2 <= killed_at <= done < NUM_CHUNKS, (killed_at, done)
    assert not (out / LOCK_NAME).exists()
    status, stdout, err = run(argv(data, out), capfd)
    assert status == 0, err
    assert "(%d scored now, %d done before)" % (NUM_CHUNKS - done, done) \
        in stdout
    assert same_bytes(out, data["ref"])


@pytest.mark.slow   # Dask workers in subprocesses: 15-50 s
def test_workers_get_the_store_kernel_setting_and_no_dashboard(data):
    """A worker that has not imported TensorFlow yet runs with the store's
    TF_ENABLE_ONEDNN_OPTS (the opposite of this process's here, so the
    check cannot pass by inheritance); a busy port 8787 gives no
    warning."""
    pytest.importorskip("distributed")
    from deeplift import distributed
    from deeplift.genomics.jobs import ChunkRunner, JobSpec
    mine = store_module.current_kernels()
    other = dict(mine, onednn=not mine["onednn"])
    store = ScoreStore.open(data["ref"])
    spec = JobSpec(model=DEMO_MODEL, store=data["ref"],
                   source=("regions", {"genome": data["genome"],
                                       "regions": data["peaks"],
                                       "length": store.length}),
                   num=store.num, length=store.length, model_key="k",
                   task_idx=[0, 2], reference="dinuc-shuffle:3",
                   batch_size=24)
    busy = socket.socket()
    try:
        busy.bind(("", 8787))
        busy.listen()
    except OSError:
        pass                          # taken already: as good
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with distributed.connect(workers=1) as conn:
                plugin = distributed._worker_plugin_class()(
                    spec, 1, ChunkRunner, other)
                conn.client.register_plugin(plugin, name=plugin.name)
                seen = conn.client.run(_worker_state, plugin.name)
    finally:
        busy.close()
    assert not [w for w in caught if "8787" in str(w.message)]
    (state,) = seen.values()
    assert state["error"] is None
    assert state["env"] == str(int(other["onednn"]))
    assert state["kernels"] == other


@pytest.mark.slow   # a fork server importing TensorFlow, Dask workers: 10-30 s
def test_local_workers_start_with_tensorflow_when_kernels_match(
        monkeypatch):
    """Local workers that must run this process's kernels are forked from
    a fork server that imported TensorFlow once (no import of their own);
    workers for other kernels, unknown kernels or
    DEEPLIFT_WORKER_PRELOAD=0 are spawned (fresh interpreters that set the
    store's TF_ENABLE_ONEDNN_OPTS before importing TensorFlow)."""
    pytest.importorskip("distributed")
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked from a fork server on Linux only")
    from deeplift import distributed
    mine = store_module.current_kernels()
    other = dict(mine, onednn=not mine["onednn"])
    with distributed.connect(workers=1, kernels=mine) as conn:
        (state,) = conn.client.run(_worker_start_state).values()
    assert state == {"tensorflow_at_start": True, "kernels": mine,
                     "parent_is_fork_server": True}
    assert distributed._start_method(mine) == "forkserver"
    assert distributed._start_method(other) == "spawn"
    assert distributed._start_method(None) == "spawn"
    monkeypatch.setenv(distributed.PRELOAD_VARIABLE, "0")
    assert distributed._start_method(mine) == "spawn"


def test_large_blocks_stay_on_the_heap_only_under_a_trim_threshold():
    """Dask's nannies set MALLOC_TRIM_THRESHOLD_, which freezes glibc's
    mmap threshold at 128 KiB; workers raise it (and only then)."""
    from deeplift.distributed import keep_large_blocks_on_the_heap
    assert keep_large_blocks_on_the_heap({}) is False
    assert keep_large_blocks_on_the_heap(
        {"MALLOC_TRIM_THRESHOLD_": "65536",
         "MALLOC_MMAP_THRESHOLD_": "131072"}) is False   # the user's own
    import ctypes
    try:
        ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        pytest.skip("no mallopt in this C library (not glibc)")
    assert keep_large_blocks_on_the_heap(
        {"MALLOC_TRIM_THRESHOLD_": "65536"}) is True


def _worker_start_state():
    import psutil
    from deeplift.genomics.store import current_kernels
    started_with = "tensorflow" in sys.modules     # before this task
    parent = " ".join(psutil.Process().parent().cmdline())
    return {"tensorflow_at_start": started_with, "kernels": current_kernels(),
            "parent_is_fork_server": "forkserver" in parent}


@pytest.mark.slow   # Dask workers in subprocesses: 15-50 s
def test_running_cluster_workers_get_their_dask_threads_and_heap(tmp_path):
    """On a cluster deeplift did not start, TensorFlow gets each worker's
    Dask threads (not every core per worker), and a worker spawned under
    Dask's MALLOC_TRIM_THRESHOLD_ keeps large blocks on the heap."""
    distributed_ = pytest.importorskip("distributed")
    from deeplift import distributed
    from deeplift.genomics.jobs import ChunkRunner, JobSpec
    spec = JobSpec(model=DEMO_MODEL, store=str(tmp_path / "none.zarr"),
                   source=("fasta", {}), num=1, length=200, model_key="k")
    with distributed_.LocalCluster(n_workers=1, threads_per_worker=1,
                                   processes=True, dashboard_address=":0",
                                   silence_logs=50) as cluster, \
            distributed_.Client(cluster) as client:
        plugin = distributed._worker_plugin_class()(spec, None, ChunkRunner)
        client.register_plugin(plugin, name=plugin.name)
        (state,) = client.run(_plugin_settings, plugin.name).values()
    import ctypes
    glibc = hasattr(ctypes.CDLL(None), "mallopt")
    assert state == {"threads": 1, "heap_kept": glibc}


def _plugin_settings(plugin_name, dask_worker):
    plugin = dask_worker.plugins[plugin_name]
    return {"threads": plugin.threads, "heap_kept": plugin.heap_kept}


def _worker_state(plugin_name, dask_worker):
    from deeplift.genomics.store import current_kernels
    plugin = dask_worker.plugins[plugin_name]
    return {"error": plugin.error,
            "env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "kernels": current_kernels()}


def test_worker_with_other_kernels_is_one_error():
    """A worker whose TensorFlow already runs with other kernels says so
    and what to set."""
    from deeplift.distributed import _kernel_problem
    mine = store_module.current_kernels()
    assert _kernel_problem(mine) is None
    other = dict(mine, onednn=not mine["onednn"])
    problem = _kernel_problem(other)
    assert "TF_ENABLE_ONEDNN_OPTS=%d" % int(other["onednn"]) in problem
    assert "--allow-kernel-mismatch" in problem
