"""A scoring job into a score store, cut into chunks of rows.

:class:`JobSpec` holds only plain, picklable settings (paths, names,
numbers): a task on any process is ``(chunk index)`` of a spec.
:class:`ChunkRunner` loads the model, opens the input and the store once
per process and scores one chunk at a time with :meth:`ChunkRunner.run`,
the one chunk function used in-process (:func:`run_job` without workers:
no Dask import) and by :mod:`deeplift.distributed`'s workers alike.
"""
import hashlib
import logging
from dataclasses import asdict, dataclass, field

from deeplift.progress import progress_bar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """The settings of a job (see :func:`deeplift.genomics.score_sequences`
    for the scoring ones).  ``source`` is ``(reader name, options)`` for
    :func:`deeplift.genomics.sources.open_source`; ``fuse`` is decided once
    for the job; ``model_key`` identifies the model's files (digests)."""
    model: str
    store: str
    source: tuple
    num: int
    length: int
    method: str = "genomics_default"
    json_file: str = None
    yaml_file: str = None
    model_key: str = ""
    task_idx: object = 0
    reference: str = "dinuc-shuffle:20"
    seed: int = 0
    batch_size: int = None
    ig_steps: int = None
    fuse: bool = False
    find_scores_layer: object = 0
    target_layer: object = -2
    target: str = None
    target_convention: str = "shap"
    conversion: dict = field(default_factory=dict)

    def as_dict(self):
        """The fields as a plain dict (what the store's settings record)."""
        return asdict(self)


def model_key(*paths):
    """sha256 over the bytes of the model's files (None entries skipped):
    what identifies a model for the fingerprint and the worker cache."""
    from deeplift.genomics.regions import file_digest
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(file_digest(path).encode())
    return digest.hexdigest()


class ChunkRunner:
    """Scores the chunks of one job in one process (model converted once).

    ``ChunkRunner(spec, model=None)``: ``model`` an already converted model
    for the spec (the driver's, in-process), else converted here.
    """

    def __init__(self, spec, model=None):
        from deeplift.genomics.models import load_model
        from deeplift.genomics.scoring import ScoringPlan
        from deeplift.genomics.sources import open_source
        from deeplift.genomics.store import ScoreStore
        self.spec = spec
        if model is None:       # converted once per model and options
            from deeplift.conversion.cache import cached_model
            model = cached_model(lambda: load_model(
                spec.model, json_file=spec.json_file, yaml_file=spec.yaml_file,
                method=spec.method, **spec.conversion), (
                    spec.model, spec.json_file, spec.yaml_file),
                dict(spec.conversion, method=spec.method))
        self.model = model
        kind, options = spec.source
        self.source = open_source(kind, **dict(options))
        self.store = ScoreStore.open(spec.store, mode="r+")
        self.plan = ScoringPlan(model, spec.method, spec.num, spec.length,
                                spec.task_idx, spec.reference, spec.seed,
                                spec.batch_size, spec.ig_steps, spec.fuse,
                                spec.find_scores_layer, spec.target_layer,
                                spec.target, spec.target_convention)

    def run(self, index):
        """Score and write work chunk ``index``, then mark it done; returns
        its number of rows."""
        start, stop = self.store.rows(index)
        onehot = self.source.onehot(start, stop)
        hyp = self.plan.score(onehot, start)
        self.store.write(index, onehot, hyp)
        return stop - start


def run_job(spec, pending, model=None, progress=True, workers=None,
            scheduler=None, scheduler_file=None, connection=None,
            **cluster_options):
    """Score the chunks ``pending`` of ``spec``'s store.

    In-process (no ``workers``/``scheduler``/``scheduler_file``/
    ``connection``: Dask is not imported) with one :class:`ChunkRunner`,
    else on Dask through :func:`deeplift.distributed.run_chunks` (which
    takes ``cluster_options``: worker_timeout, kernels, ...).  Shows a
    progress bar over rows on stderr.  Returns the number of chunks scored.
    """
    pending = list(pending)
    if not pending:
        return 0
    from deeplift.genomics.store import ScoreStore
    store = ScoreStore.open(spec.store)
    total = sum(stop - start for start, stop in map(store.rows, pending))
    with progress_bar(total, bool(progress),
                      "deeplift %s (%d chunks)" % (spec.method,
                                                   len(pending))) as bar:
        if connection is None and workers is None and scheduler is None \
                and scheduler_file is None:
            runner = ChunkRunner(spec, model)
            for index in pending:
                bar.update(runner.run(index))
        else:
            from deeplift import distributed
            distributed.run_chunks(spec, pending, ChunkRunner, bar.update,
                                   workers=workers, scheduler=scheduler,
                                   scheduler_file=scheduler_file,
                                   connection=connection, **cluster_options)
    return len(pending)
