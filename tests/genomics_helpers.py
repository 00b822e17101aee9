"""What the genomics tests share: the paths of the real genomics model and
data among the shared fixtures (``../shared/fixtures`` next to the
repository), small genomes and peaks, and the store tests' CLI runs (the
command, a subprocess environment, waiting for chunks to be done)."""
import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
REAL_JSON = (FIXTURES / "keras2_real" /
             "keras2_conv1d_record_5_model_PQzyq_modelJson.json")
REAL_WEIGHTS = (FIXTURES / "keras2_real" /
                "keras2_conv1d_record_5_model_PQzyq_modelWeights.h5")
SIMDATA = FIXTURES / "genomics_sim" / "sequences.simdata.gz"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason="../shared fixtures are absent")


def write_genome(path, sizes, seed=0, width=60):
    """A random genome FASTA with soft-masked (lowercase) and N bases;
    returns {name: sequence}."""
    import numpy as np
    rng = np.random.RandomState(seed)
    letters = np.array(list("ACGTacgtN"))
    probs = [.22, .22, .22, .22, .025, .025, .025, .025, .02]
    genome = {}
    with open(path, "w") as handle:
        for name, size in sizes.items():
            seq = "".join(letters[rng.choice(9, size, p=probs)])
            genome[name] = seq
            handle.write(">%s description words\n" % name)
            for i in range(0, size, width):
                handle.write(seq[i:i + width] + "\n")
    return genome


def write_peaks(path, rows):
    """A narrowPeak file of ``(chrom, start, end, summit)`` rows."""
    with open(path, "w") as handle:
        for i, (chrom, start, end, summit) in enumerate(rows):
            handle.write("%s\t%d\t%d\tpeak%d\t0\t.\t1.0\t1.0\t1.0\t%d\n"
                         % (chrom, start, end, i, summit))
    return path


def dask_worker_processes(pid):
    """The local Dask worker processes under process ``pid`` (psutil
    processes): spawned ones (``spawn_main`` in their command line) and
    those forked from a multiprocessing fork server (see
    ``deeplift.distributed.prestart_workers``), not the fork server itself
    nor the resource tracker."""
    import psutil
    server = "forkserver import main"
    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:               # gone already
        return found
    for child in children:
        try:
            cmdline = " ".join(child.cmdline())
            parent = " ".join(child.parent().cmdline()) \
                if server in cmdline else ""
        except (psutil.Error, AttributeError):
            continue
        if "resource_tracker" in cmdline:
            continue
        if "spawn_main" in cmdline or server in parent:
            found.append(child)
    return found


def random_peak_rows(sizes, count, seed=3):
    """``count`` rows ``(chrom, start, end, summit)`` of 150-bp peaks at
    random starts and summits (``np.random.RandomState(seed)``), every third
    on chr2, the others on chr1 (``sizes`` names both)."""
    import numpy as np
    rng = np.random.RandomState(seed)
    rows = []
    for i in range(count):
        chrom = "chr1" if i % 3 else "chr2"
        start = int(rng.randint(100, sizes[chrom] - 250))
        rows.append((chrom, start, start + 150, int(rng.randint(0, 150))))
    return rows


def contribs_argv(genome, peaks, out, *extra):
    """``deeplift contribs`` of the demo model on ``genome``'s ``peaks``
    into the store ``out``, then ``extra`` (a list of str for
    deeplift.cli.main)."""
    from deeplift.cli import DEMO_MODEL
    return ["contribs", DEMO_MODEL, "--genome", str(genome), "--regions",
            str(peaks), "--out", str(out)] + [str(a) for a in extra]


def repo_env():
    """os.environ with PYTHONPATH this checkout, for a subprocess."""
    return dict(os.environ, PYTHONPATH=str(REPO))


def done_count(path):
    """The number of done chunks of the store at ``path`` (0 while it
    cannot be opened yet)."""
    from deeplift.genomics.store import ScoreStore
    try:
        return int(ScoreStore.open(path).done_mask().sum())
    except Exception:
        return 0


def wait_for_chunks(path, proc, timeout, count=2, poll=0.05):
    """Wait until the store at ``path`` has ``count`` done chunks, the
    process ``proc`` has ended, or ``timeout`` seconds have passed."""
    deadline = time.time() + timeout
    while done_count(path) < count and proc.poll() is None \
            and time.time() < deadline:
        time.sleep(poll)
