"""Genome-scale scoring benchmark (issue 11).

    python bench/bench_genome.py [--regions 2000,20000] [--repeats 2]
                                 [--out bench/RESULTS_genome.md]

Writes a random genome and narrowPeak files, then runs
``deeplift contribs MODEL --genome --regions --out X.zarr`` with the demo
model (200 bp, 3 tasks) as subprocesses:

1. regions/s in-process vs ``--workers 2`` on the smaller region set
   (runs interleaved, ``--repeats`` each; median and range of the wall
   time of the whole command, start-up included);
2. peak resident memory of the driver and of the largest worker
   (``--workers 2``) for each region count at the same ``--chunk-size``
   (sampled every 50 ms with psutil): flat when memory is bounded by the
   chunk size, not the number of regions.

Results go to a Markdown table (``--out``).
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from tests.genomics_helpers import write_genome, write_peaks  # noqa: E402

DEMO_MODEL = os.path.join(REPO, "deeplift", "data", "demo_genomics_model.h5")


def make_inputs(tmp, num_regions, sizes):
    rng = np.random.RandomState(num_regions)
    names = list(sizes)
    rows = []
    for _ in range(num_regions):
        chrom = names[rng.randint(len(names))]
        start = int(rng.randint(200, sizes[chrom] - 500))
        rows.append((chrom, start, start + 300, int(rng.randint(0, 300))))
    return write_peaks(os.path.join(tmp, "peaks%d.narrowPeak" % num_regions),
                       rows)


def run(argv, sample_memory=False):
    """(wall seconds, driver peak RSS MiB, worker peak RSS MiB)."""
    import psutil
    env = dict(os.environ, PYTHONPATH=REPO, DEEPLIFT_NO_PROGRESS="1",
               TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    driver_peak = worker_peak = 0
    handle = psutil.Process(proc.pid)
    while proc.poll() is None:
        if sample_memory:
            try:
                driver_peak = max(driver_peak, handle.memory_info().rss)
                for child in handle.children(recursive=True):
                    try:
                        worker_peak = max(worker_peak,
                                          child.memory_info().rss)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit("command failed: %s\n%s" % (" ".join(argv),
                                                    err.decode()[-2000:]))
    return wall, driver_peak / 2 ** 20, worker_peak / 2 ** 20


def contribs(genome, peaks, out, chunk_size, reference, workers=None):
    argv = [sys.executable, "-m", "deeplift.cli", "contribs", DEMO_MODEL,
            "--genome", genome, "--regions", peaks, "--out", out,
            "--chunk-size", str(chunk_size), "--reference", reference,
            "--task", "0,1,2", "--quiet", "--overwrite"]
    if workers:
        argv += ["--workers", str(workers)]
    return argv


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="2000,20000")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--reference", default="dinuc-shuffle:10")
    parser.add_argument("--out", default=os.path.join(REPO, "bench",
                                                      "RESULTS_genome.md"))
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.regions.split(",")]
    sizes = {"chr%d" % i: 400000 for i in range(1, 6)}
    with tempfile.TemporaryDirectory() as tmp:
        genome = os.path.join(tmp, "genome.fa")
        write_genome(genome, sizes, seed=0)
        peaks = {n: make_inputs(tmp, n, sizes) for n in counts}
        store = os.path.join(tmp, "s.zarr")
        small = counts[0]
        times = {"in-process": [], "--workers 2": []}
        for _ in range(args.repeats):
            for label, workers in (("in-process", None), ("--workers 2", 2)):
                wall, _, _ = run(contribs(genome, peaks[small], store,
                                          args.chunk_size, args.reference,
                                          workers))
                times[label].append(wall)
                print("%s %d regions: %.1f s" % (label, small, wall),
                      flush=True)
        memory = {}
        for n in counts:
            for label, workers in (("in-process", None), ("--workers 2", 2)):
                wall, driver, worker = run(
                    contribs(genome, peaks[n], store, args.chunk_size,
                             args.reference, workers), sample_memory=True)
                memory[(n, label)] = (wall, driver, worker)
                print("%s %d regions: %.1f s, driver %.0f MiB, worker %.0f "
                      "MiB" % (label, n, wall, driver, worker), flush=True)
    lines = [
        "# Genome-scale scoring benchmark (bench/bench_genome.py)", "",
        "Machine: %s, %d CPU cores (shared with other jobs while measured),"
        " Python %s. Model: the demo model (200 bp, 3 tasks, all three "
        "scored), reference %s, --chunk-size %d, random genome of %d x 400 "
        "kb. Wall time of the whole command (model conversion, TensorFlow "
        "and, with --workers, cluster start-up included)." % (
            platform.machine(), os.cpu_count() or 0,
            platform.python_version(), args.reference, args.chunk_size,
            len(sizes)), "",
        "## Throughput, %d regions (%d runs each, interleaved)" % (
            small, args.repeats), "",
        "| run | median wall (s) | range (s) | regions/s (median) |",
        "|---|---|---|---|"]
    for label, values in times.items():
        med = statistics.median(values)
        lines.append("| %s | %.1f | %.1f-%.1f | %.0f |" % (
            label, med, min(values), max(values), small / med))
    lines += ["", "## Peak resident memory at --chunk-size %d"
              % args.chunk_size, "",
              "| regions | run | wall (s) | driver peak (MiB) | "
              "largest worker peak (MiB) |", "|---|---|---|---|---|"]
    for (n, label), (wall, driver, worker) in memory.items():
        lines.append("| %d | %s | %.1f | %.0f | %s |" % (
            n, label, wall, driver, "%.0f" % worker if worker else "-"))
    lines.append("")
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
