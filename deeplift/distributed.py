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
"""
import hashlib
import json
import logging
import os

logger = logging.getLogger(__name__)

#: seconds to wait for a scheduler to answer
CONNECT_TIMEOUT = 20
#: retries of a failed chunk task
RETRIES = 2


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


def _plugin_name(spec):
    """Plugin key: the model's digest and the rest of the job's settings."""
    text = json.dumps(spec.as_dict(), sort_keys=True, default=str)
    return "deeplift-%s-%s" % (spec.model_key[:16],
                               hashlib.sha256(text.encode()).hexdigest()[:12])


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
        """On each worker: TensorFlow's thread counts, then one
        :class:`~deeplift.genomics.jobs.ChunkRunner` (model converted
        once).  A failure is kept and reported by every task instead of
        hanging the job."""

        def __init__(self, spec, threads, runner_class):
            self.spec, self.threads = spec, threads
            self.runner_class = runner_class
            self.name = _plugin_name(spec)
            self.runner, self.error = None, None

        def setup(self, worker):
            # the model is loaded by the first task (get_runner), in a
            # task thread: never here, on the worker's event loop
            import threading
            self.lock = threading.Lock()

        def get_runner(self):
            with self.lock:
                if self.runner is None and self.error is None:
                    _set_tf_threads(self.threads)
                    try:
                        self.runner = self.runner_class(self.spec)
                    except Exception as exc:
                        text = " ".join(str(exc).split()) or \
                            type(exc).__name__
                        self.error = "%s: %s" % (type(exc).__name__, text)
            return self.runner

    return ModelPlugin


def _score_chunk(plugin_name, index):
    """Dask task: score chunk ``index`` with the worker's plugin; returns
    its number of rows."""
    from distributed import get_worker
    plugin = get_worker().plugins[plugin_name]
    runner = plugin.get_runner()
    if plugin.error is not None:
        raise DistributedError("a worker could not load the model: %s"
                               % plugin.error)
    return runner.run(index)


def _connect(workers, scheduler, scheduler_file, threads):
    """(client, cluster or None, TF threads per worker)."""
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
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.CRITICAL)
        return distributed.Client(cluster), cluster, threads
    if scheduler_file is not None and not os.path.isfile(scheduler_file):
        raise DistributedError("scheduler file %s does not exist"
                               % (scheduler_file,))
    try:
        client = distributed.Client(
            scheduler, scheduler_file=scheduler_file, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise DistributedError(
            "no Dask scheduler answered at %s within %d s (%s)"
            % (scheduler or scheduler_file, CONNECT_TIMEOUT,
               type(exc).__name__))
    return client, None, threads


def run_chunks(spec, pending, runner_class, report=None, workers=None,
               scheduler=None, scheduler_file=None, threads=None):
    """Score the chunks ``pending`` of ``spec`` on Dask with
    ``runner_class`` (the in-process path's chunk function,
    :class:`deeplift.genomics.jobs.ChunkRunner`, passed in so that this
    module does not import it back); ``report(rows)`` is called as each
    chunk completes.  ``threads``: TensorFlow threads per
    worker (default: the cores divided by the local workers; unchanged for
    a running cluster).  Raises :class:`DistributedError` on the first
    chunk that fails for good (after the others are cancelled)."""
    distributed = _import_distributed()
    from deeplift.genomics.store import ScoreStore
    ScoreStore.open(spec.store)      # a missing store fails before a cluster
    client, cluster, threads = _connect(workers, scheduler, scheduler_file,
                                        threads)
    try:
        plugin = _worker_plugin_class()(spec, threads, runner_class)
        client.register_plugin(plugin, name=plugin.name)
        futures = [client.submit(_score_chunk, plugin.name, index,
                                 key="%s-chunk-%d" % (plugin.name, index),
                                 retries=RETRIES, pure=False)
                   for index in pending]
        for future in distributed.as_completed(futures):
            try:
                rows = future.result()
            except Exception as exc:
                for other in futures:
                    other.cancel()
                if isinstance(exc, DistributedError):
                    raise DistributedError(str(exc))
                raise DistributedError("chunk failed after %d retries: %s: "
                                       "%s" % (RETRIES, type(exc).__name__,
                                               " ".join(str(exc).split())))
            if report is not None:
                report(rows)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
