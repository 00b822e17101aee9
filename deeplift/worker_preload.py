"""What a Dask worker needs before its first chunk, done at its start.

Importing this module imports TensorFlow (which starts no thread until it
runs an op), deeplift's scoring modules, and runs the dinucleotide shuffle
once on a short sequence so that numba's cached machine code is loaded.
Nothing here depends on the job.

* Local clusters (``deeplift contribs --workers N``):
  :func:`deeplift.distributed.prestart_workers` starts a fork server that
  imports this module once and forks every worker from itself, so that no
  worker imports TensorFlow on its own.
* Clusters you start: ``dask worker --preload deeplift.worker_preload
  SCHEDULER`` makes each worker do this work when it starts rather than in
  the job's first chunk.  Set ``TF_ENABLE_ONEDNN_OPTS`` in the worker's
  environment to the setting of the stores it scores (a worker that runs
  other kernels than a store's refuses it, naming the setting).
"""
import numpy as np
import tensorflow  # noqa: F401  (imported for the workers)

import deeplift.genomics.jobs  # noqa: F401
import deeplift.genomics.scoring  # noqa: F401
import deeplift.multiref  # noqa: F401
from deeplift.dinuc_shuffle import dinuc_shuffle_batch


def _load_shuffle_kernels():
    """One shuffle of a short one-hot sequence in each dtype the genomics
    path uses (float32 one-hot, a seeded ``Generator``, as in
    ``deeplift.genomics.references``); returns nothing."""
    onehot = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 2, 1, 3]][None]
    dinuc_shuffle_batch(onehot, 2, rng=np.random.default_rng([0, 0]))


_load_shuffle_kernels()
