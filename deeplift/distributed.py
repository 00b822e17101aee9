"""Scoring a job's chunks on Dask distributed.

:func:`run_chunks` starts a local cluster of ``workers`` processes or joins
a running one (``scheduler`` address or ``scheduler_file``), registers a
:class:`ModelPlugin` (each worker converts the model once, keyed by the
model's digest; the model object is never pickled) and submits one task
per chunk carrying only its index.  Each task runs
:meth:`deeplift.genomics.jobs.ChunkRunner.run`, the same chunk function as
the in-process path, which writes the chunk to the store and then marks it
done.  Failed tasks are retried; a chunk whose worker died is redone
elsewhere (writing the same bytes).  Needs ``pip install
'deeplift[distributed]'``.

Every chunk of a store is scored by the same kernels: each worker sets
``TF_ENABLE_ONEDNN_OPTS`` to the store's setting before it imports
TensorFlow, then checks what TensorFlow resolved and its version against
the store's (see ``deeplift.genomics.store.current_kernels``).  With no
worker for ``worker_timeout`` seconds the run stops with an error (done
chunks stay done).  :func:`connect` joins the cluster before the caller
creates anything, so an unreachable scheduler leaves nothing behind.
"""
import hashlib
import json
import logging
import os
import sys
import time

from deeplift.xla_cache import use_xla_cache

logger = logging.getLogger(__name__)

#: seconds to wait for a scheduler to answer
CONNECT_TIMEOUT = 20
#: retries of a failed chunk task
RETRIES = 2
#: default seconds without any worker before a run gives up
WORKER_TIMEOUT = 300
#: seconds between checks for workers
POLL = 1.0


class DistributedError(RuntimeError):
    """A cluster problem reported in one line (no answer, a worker that
    cannot load the model, a chunk that keeps failing)."""


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DistributedError("--workers / --scheduler need Dask "
                               "distributed: pip install "
                               "'deeplift[distributed]'")
    return distributed


def _plugin_name(spec, kernels=None):
    """Plugin key: the model's digest and the rest of the job's settings."""
    text = json.dumps([spec.as_dict(), kernels], sort_keys=True, default=str)
    return "deeplift-%s-%s" % (spec.model_key[:16],
                               hashlib.sha256(text.encode()).hexdigest()[:12])


#: the modules a local worker process starts with: imported once by a fork
#: server (before TensorFlow has started any thread), which then forks each
#: worker, so that no worker imports TensorFlow itself
WORKER_PRELOAD = ("distributed", "deeplift.worker_preload")

#: environment variable: ``0`` starts local workers by spawning fresh
#: interpreters (each imports TensorFlow) instead of forking them from a
#: fork server that has imported it once
PRELOAD_VARIABLE = "DEEPLIFT_WORKER_PRELOAD"

# the fork server this process started (multiprocessing keeps one per
# process): the TF_ENABLE_ONEDNN_OPTS it was given, None for this
# process's own; empty while none was started here
_FORK_SERVER = {}


def _preload_allowed():
    """Linux only: macOS's system libraries are not safe to use in a child
    forked after they were loaded (why Python spawns there by default),
    and Windows cannot fork."""
    if os.environ.get(PRELOAD_VARIABLE, "1").strip().lower() in (
            "0", "false", "no", "off"):
        return False
    return sys.platform.startswith("linux")


def prestart_workers(onednn=None):
    """Start, in the background, the fork server that local Dask workers
    are forked from; it imports TensorFlow and deeplift's scoring modules
    (:data:`WORKER_PRELOAD`) once, while this process goes on (reading
    the model, say).  ``onednn``: the oneDNN setting (bool) the workers
    must run with; None: this process's environment.  Returns True when
    the fork server runs with that setting, False when workers will be
    spawned instead (not Linux,
    ``DEEPLIFT_WORKER_PRELOAD=0``, or one started earlier with another
    setting)."""
    if not _preload_allowed():
        return False
    wanted = None if onednn is None else ("1" if onednn else "0")
    if _FORK_SERVER:
        return _FORK_SERVER["onednn"] == wanted
    import multiprocessing
    from multiprocessing import forkserver
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        list(WORKER_PRELOAD))
    saved = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    try:
        if wanted is not None:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = wanted
        # returns once the server is launched; it imports the modules
        # before it answers its first request
        forkserver.ensure_running()
    finally:
        if saved is None:
            os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
        else:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = saved
    _FORK_SERVER["onednn"] = wanted
    return True


def _start_method(kernels):
    """How a local cluster starts its workers: ``"forkserver"`` (forked
    from the fork server of :func:`prestart_workers`, TensorFlow already
    imported) when the workers must run the ``kernels`` it runs, else
    ``"spawn"`` (fresh interpreters that set the store's kernels before
    importing TensorFlow).  ``kernels`` None: unknown, spawn."""
    if not kernels or not _preload_allowed():
        return "spawn"
    wanted = bool(kernels.get("onednn"))
    if not _FORK_SERVER:
        prestart_workers(wanted)
    started = _FORK_SERVER["onednn"]
    if started is None:       # this process's setting: what it resolved
        from deeplift.genomics.store import current_kernels
        started = "1" if current_kernels()["onednn"] else "0"
    return "forkserver" if started == ("1" if wanted else "0") else "spawn"


#: the size (bytes) above which glibc's malloc maps memory instead of using
#: its heap that :func:`keep_large_blocks_on_the_heap` sets: the most glibc
#: accepts on 64-bit systems, where its adaptive rule would also end up
MMAP_THRESHOLD = 32 * 1024 * 1024
_M_MMAP_THRESHOLD = -3          # glibc's mallopt parameter number


def keep_large_blocks_on_the_heap(environ=None):
    """Undo a cost of ``MALLOC_TRIM_THRESHOLD_`` in a worker process.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_`` before they start a
    worker (so that freed memory goes back to the system).  With it set,
    glibc stops adapting the size above which ``malloc`` maps memory, so
    every block over 128 KiB (each batch's activations) is mapped and
    unmapped again on every use: that made deeplift's spawned workers
    spend 5x the system time and about 40% more wall time per chunk
    (``bench/RESULTS_workers.md``).  This raises that size to
    :data:`MMAP_THRESHOLD`, as glibc's own rule would; freed memory is
    still trimmed.  Does nothing unless ``MALLOC_TRIM_THRESHOLD_`` is in
    ``environ`` (default ``os.environ``) and ``MALLOC_MMAP_THRESHOLD_`` is
    not, or where the C library has no ``mallopt`` (not glibc).  Returns
    True when it changed the setting."""
    environ = os.environ if environ is None else environ
    if "MALLOC_TRIM_THRESHOLD_" not in environ or \
            "MALLOC_MMAP_THRESHOLD_" in environ:
        return False
    import ctypes
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def _set_tf_threads(threads):
    """Give TensorFlow ``threads`` intra-op threads (before it starts)."""
    if not threads:
        return
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(
            max(1, min(2, int(threads))))
    except RuntimeError:      # TensorFlow already running in this process
        logger.debug("TensorFlow threads already set in this process")


def _worker_plugin_class():
    distributed = _import_distributed()

    class ModelPlugin(distributed.WorkerPlugin):
        """On each worker: the store's ``TF_ENABLE_ONEDNN_OPTS`` (before
        TensorFlow is imported), TensorFlow's thread counts, then one
        :class:`~deeplift.genomics.jobs.ChunkRunner` (model converted
        once) and a check of the worker's kernels.  A failure is kept and
        reported by every task instead of hanging the job."""

        def __init__(self, spec, threads, runner_class, kernels=None,
                     allow_kernel_mismatch=False):
            self.spec, self.threads = spec, threads
            self.runner_class = runner_class
            self.kernels = kernels
            self.allow_kernel_mismatch = allow_kernel_mismatch
            self.name = _plugin_name(spec, kernels)
            self.runner, self.error = None, None

        def setup(self, worker):
            # only cheap work here, on the worker's event loop: the kernel
            # setting must be in the environment before TensorFlow is
            # imported; the model is loaded by the first task
            # (get_runner), in a task thread
            import threading
            if self.kernels and "tensorflow" not in sys.modules:
                os.environ["TF_ENABLE_ONEDNN_OPTS"] = (
                    "1" if self.kernels.get("onednn") else "0")
            # TensorFlow reads TF_XLA_FLAGS at its first XLA compilation,
            # which is later (the first chunk)
            use_xla_cache()
            self.heap_kept = keep_large_blocks_on_the_heap()
            self.lock = threading.Lock()
            self.address = getattr(worker, "address", "?")
            if not self.threads:
                # a running cluster: TensorFlow gets the worker's share of
                # the machine as Dask counts it, its task threads
                # (--nthreads; Dask's nannies set OMP_NUM_THREADS=1 too),
                # not every core of the host for each of its workers
                state = getattr(worker, "state", None)
                self.threads = getattr(state, "nthreads", None)

        def get_runner(self):
            """The worker's ChunkRunner, made by the first task that asks
            (kernels checked, model loaded); None with ``error`` set when
            that failed."""
            with self.lock:
                if self.runner is None and self.error is None:
                    self._load()
            return self.runner

        def _load(self):
            _set_tf_threads(self.threads)
            try:
                problem = _kernel_problem(self.kernels)
            except Exception:     # TensorFlow does not import: the
                problem = None    # runner below says so
            if problem and not self.allow_kernel_mismatch:
                self.error = "worker %s: %s" % (self.address, problem)
                return
            try:
                self.runner = self.runner_class(self.spec)
            except Exception as exc:
                text = " ".join(str(exc).split()) or type(exc).__name__
                self.error = "a worker could not load the model: %s: %s" % (
                    type(exc).__name__, text)

    return ModelPlugin


def _kernel_problem(kernels):
    """None if this process scores with ``kernels``, else what differs."""
    if not kernels:
        return None
    from deeplift.genomics.store import current_kernels, describe_kernels
    mine = current_kernels()
    if mine.get("tensorflow") == kernels.get("tensorflow") and \
            bool(mine.get("onednn")) == bool(kernels.get("onednn")):
        return None
    return ("this worker runs %s but the store is scored with %s (it had "
            "imported TensorFlow before the job, or runs another "
            "TensorFlow): start the workers with TF_ENABLE_ONEDNN_OPTS=%d "
            "and TensorFlow %s, or pass --allow-kernel-mismatch"
            % (describe_kernels(mine), describe_kernels(kernels),
               int(bool(kernels.get("onednn"))), kernels.get("tensorflow")))


def _score_chunk(plugin_name, index):
    """Dask task: score chunk ``index`` with the worker's plugin; returns
    its number of rows."""
    from distributed import get_worker
    plugin = get_worker().plugins[plugin_name]
    runner = plugin.get_runner()
    if plugin.error is not None:
        raise DistributedError(plugin.error)
    return runner.run(index)


class Connection:
    """A Dask client, the local cluster it started (or None) and the
    TensorFlow threads per worker; ``close`` (or ``with``) ends both."""

    def __init__(self, client, cluster, threads, where):
        self.client, self.cluster = client, cluster
        self.threads, self.where = threads, where

    def close(self):
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(workers=None, scheduler=None, scheduler_file=None, threads=None,
            dashboard=None, kernels=None):
    """Start a local cluster of ``workers`` processes or join a running one
    (``scheduler`` address or ``scheduler_file``); returns a
    :class:`Connection`.  ``dashboard``: the local cluster's dashboard
    address (default: none, and no warning about a busy port 8787).
    ``kernels``: the store's ``current_kernels`` dict, when known: local
    workers that must run what this process runs are forked with
    TensorFlow imported (:func:`prestart_workers`), the others spawned.
    Raises :class:`DistributedError` in one line when nothing answers."""
    distributed = _import_distributed()
    given = [x is not None for x in (workers, scheduler, scheduler_file)]
    if sum(given) > 1:
        raise DistributedError("give only one of --workers, --scheduler and "
                               "--scheduler-file")
    if workers is not None:
        workers = int(workers)
        if workers < 1:
            raise DistributedError("--workers must be at least 1")
        cores = os.cpu_count() or 1
        threads = threads or max(1, cores // workers)
        # without a dashboard the scheduler's HTTP server still starts:
        # a random port (":0") never collides with another cluster's
        import dask
        method = _start_method(kernels)
        with dask.config.set({
                "distributed.worker.multiprocessing-method": method}):
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=dashboard or ":0",
                scheduler_kwargs={"dashboard": dashboard is not None},
                silence_logs=logging.CRITICAL)
        logger.debug("local cluster: %d workers started by %s", workers,
                     method)
        return Connection(distributed.Client(cluster), cluster, threads,
                          "the local cluster")
    if scheduler_file is not None and not os.path.isfile(scheduler_file):
        raise DistributedError("scheduler file %s does not exist"
                               % (scheduler_file,))
    where = scheduler or scheduler_file
    try:
        client = distributed.Client(
            scheduler, scheduler_file=scheduler_file, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise DistributedError(
            "no Dask scheduler answered at %s within %d s (%s)%s"
            % (where, CONNECT_TIMEOUT, type(exc).__name__,
               "; the scheduler file may be stale (its scheduler gone)"
               if scheduler_file else ""))
    except (ValueError, KeyError) as exc:
        raise DistributedError("scheduler file %s is not a Dask scheduler "
                               "file (%s)" % (scheduler_file, exc))
    return Connection(client, None, threads, where)


def _count_workers(client):
    try:
        return len(client.nthreads())
    except Exception:               # scheduler gone: no workers either
        return 0


def run_chunks(spec, pending, runner_class, report=None, workers=None,
               scheduler=None, scheduler_file=None, threads=None,
               connection=None, worker_timeout=WORKER_TIMEOUT, kernels=None,
               allow_kernel_mismatch=False):
    """Score the chunks ``pending`` of ``spec`` on Dask with
    ``runner_class`` (the in-process path's chunk function,
    :class:`deeplift.genomics.jobs.ChunkRunner`, passed in so that this
    module does not import it back); ``report(rows)`` is called as each
    chunk completes.

    ``connection``: a :class:`Connection` from :func:`connect` (left open),
    else one is made from ``workers`` / ``scheduler`` / ``scheduler_file``
    and closed.  ``threads``: TensorFlow threads per worker (default: the
    cores divided by the local workers; on a running cluster, each
    worker's Dask threads, ``dask worker --nthreads``).
    ``worker_timeout``: seconds without any worker before giving up (0 or
    None: wait forever).  ``kernels``: the store's
    ``deeplift.genomics.store.current_kernels``, which every worker
    must match (unless ``allow_kernel_mismatch``).  Raises
    :class:`DistributedError` on the first chunk that fails for good, or
    when no worker came for ``worker_timeout`` seconds (after the other
    chunks are cancelled; chunks done stay done)."""
    distributed = _import_distributed()
    from deeplift.genomics.store import ScoreStore
    store = ScoreStore.open(spec.store)   # a missing store fails first
    own = connection is None
    if own:
        connection = connect(workers, scheduler, scheduler_file, threads,
                             kernels=kernels)
    client = connection.client
    futures = []
    try:
        plugin = _worker_plugin_class()(spec, threads or connection.threads,
                                        runner_class, kernels,
                                        allow_kernel_mismatch)
        client.register_plugin(plugin, name=plugin.name)
        futures = {client.submit(_score_chunk, plugin.name, index,
                                 key="%s-chunk-%d" % (plugin.name, index),
                                 retries=RETRIES, pure=False):
                   index for index in pending}
        _gather(distributed, client, futures, store, report, worker_timeout,
                connection.where)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        if own:
            connection.close()


def _gather(distributed, client, futures, store, report, worker_timeout,
            where):
    """Wait for ``futures`` (future -> chunk index).  Results are never
    fetched from the workers (a finished chunk's worker may be gone; its
    rows are in the store): a finished future counts its chunk's rows."""
    remaining = set(futures)
    alone_since = None
    while remaining:
        try:
            done, remaining = distributed.wait(
                remaining, timeout=POLL, return_when="FIRST_COMPLETED")
        except (TimeoutError, distributed.TimeoutError):
            done = set()
        for future in done:
            if future.status == "error":
                exc = future.exception()
                if isinstance(exc, DistributedError):
                    raise DistributedError(str(exc))
                raise DistributedError("chunk failed after %d retries: %s: "
                                       "%s" % (RETRIES, type(exc).__name__,
                                               " ".join(str(exc).split())))
            if future.status != "finished":
                raise DistributedError("chunk %d was %s on the cluster"
                                       % (futures[future], future.status))
            # forget it on the cluster: a result lost with its worker is
            # not recomputed (the chunk is in the store)
            future.release()
            if report is not None:
                start, stop = store.rows(futures[future])
                report(stop - start)
        if not remaining or not worker_timeout:
            continue
        if _count_workers(client):
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > worker_timeout:
            raise DistributedError(
                "no Dask worker at %s for %g s; %d of %d chunks are still to "
                "do (the done ones are kept: rerun the same command to "
                "resume; --worker-timeout sets the wait)"
                % (where, worker_timeout, len(remaining), len(futures)))
