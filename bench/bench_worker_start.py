"""Worker start-up benchmark (issue 20, item 4).

    python bench/bench_worker_start.py [--regions 300] [--repeats 2]
        [--before /path/to/old/checkout] [--out bench/RESULTS_workers.md]

Runs ``deeplift contribs DEMO_MODEL --genome --regions --out X.zarr
--workers 2`` (reference dinuc-shuffle:4, task 0, --chunk-size 32) as a
subprocess and records, from its start: when both Dask worker processes
exist (the driver has imported TensorFlow, converted the model and started
the cluster), when the first chunk is marked done in the store, and the
end.  "worker start -> first chunk" is the difference of the first two:
what a worker spends before its first chunk is written (TensorFlow import,
the model, the scoring plan, tracing).  Variants, interleaved:
``--before`` (a checkout of the code before the cache, run with its
PYTHONPATH), this code with an empty cache (``DEEPLIFT_CACHE_DIR`` a new
folder: the driver converts and stores, the workers read), this code with
a warm cache (local workers forked from the fork server that imported
TensorFlow while the driver read the model), the same with
``DEEPLIFT_WORKER_PRELOAD=0`` (spawned workers, each importing TensorFlow),
the in-process run as the total-time reference, and a cluster started
before the command (``dask scheduler --scheduler-file`` and ``dask worker
--nworkers 2 --nthreads 1``, with and without ``--preload
deeplift.worker_preload``; its own start-up is reported apart) used through
``--scheduler-file``.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from tests.genomics_helpers import (dask_worker_processes,  # noqa: E402
                                     write_genome)
from bench.bench_genome import make_inputs  # noqa: E402

DEMO_MODEL = os.path.join(REPO, "deeplift", "data", "demo_genomics_model.h5")


def done_chunks(store):
    folder = os.path.join(store, "done", "c")
    try:
        return len(os.listdir(folder))
    except OSError:
        return 0


def timed_run(argv, env, store, workers, cwd):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    cluster = first = None
    while proc.poll() is None:
        now = time.perf_counter() - start
        if workers and cluster is None and \
                len(dask_worker_processes(proc.pid)) >= workers:
            cluster = now
        if first is None and done_chunks(store) > 0:
            first = now
        time.sleep(0.05)
    total = time.perf_counter() - start
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(argv),
                                             err.decode()[-2000:]))
    return cluster, first, total


def start_external_cluster(tmp, env, workers, preload):
    """``dask scheduler --scheduler-file`` and ``dask worker --nworkers
    workers --nthreads 1`` (``--preload deeplift.worker_preload`` if asked)
    as subprocesses; returns (scheduler file, processes, seconds until the
    workers were registered)."""
    import distributed
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    sched = os.path.join(tmp, "sched-%d.json" % time.monotonic_ns())
    start = time.perf_counter()
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", sched,
                               "--no-dashboard", "--port", "0"], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    while not os.path.exists(sched):
        time.sleep(0.05)
    argv = [dask, "worker", "--scheduler-file", sched, "--nworkers",
            str(workers), "--nthreads", "1", "--no-dashboard"]
    if preload:
        argv += ["--preload", "deeplift.worker_preload"]
    procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    with distributed.Client(scheduler_file=sched, timeout=60) as client:
        client.wait_for_workers(workers, timeout=300)
        if preload:             # registered before the preload finished?
            client.run(lambda: __import__("deeplift.worker_preload"))
    return sched, procs, time.perf_counter() - start


def stop(procs):
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regions", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before", default=None)
    parser.add_argument("--out", default=os.path.join(
        REPO, "bench", "RESULTS_workers.md"))
    args = parser.parse_args()
    sizes = {"chr%d" % i: 400000 for i in range(1, 6)}
    results = {}
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        genome = os.path.join(tmp, "genome.fa")
        write_genome(genome, sizes, seed=0)
        peaks = make_inputs(tmp, args.regions, sizes)
        warm = os.path.join(tmp, "warm-cache")
        variants = []
        if args.before:
            before = os.path.basename(os.path.normpath(args.before))
            variants.append(("before (%s)" % before, args.before, None, 2,
                             {}))
        spawned = {"DEEPLIFT_WORKER_PRELOAD": "0"}
        variants += [("this code, empty cache", REPO, "cold", 2, {}),
                     ("this code, warm cache", REPO, warm, 2, {}),
                     ("this code, warm cache, workers spawned "
                      "(DEEPLIFT_WORKER_PRELOAD=0)", REPO, warm, 2, spawned),
                     ("in-process, warm cache", REPO, warm, None, {}),
                     ("scheduler file, 2 workers started with --preload "
                      "deeplift.worker_preload, warm cache", REPO, warm,
                      "external-preload", {}),
                     ("scheduler file, 2 workers started without preload, "
                      "warm cache", REPO, warm, "external", {})]
        run_id = 0
        for _ in range(args.repeats):
            for label, path, cache, workers, extra in variants:
                run_id += 1
                store = os.path.join(tmp, "s%d.zarr" % run_id)
                env = dict(os.environ, PYTHONPATH=path,
                           DEEPLIFT_NO_PROGRESS="1", TF_CPP_MIN_LOG_LEVEL="3",
                           **extra)
                if cache == "cold":
                    env["DEEPLIFT_CACHE_DIR"] = os.path.join(
                        tmp, "cold%d" % run_id)
                elif cache is not None:
                    env["DEEPLIFT_CACHE_DIR"] = cache
                argv = [sys.executable, "-m", "deeplift.cli", "contribs",
                        DEMO_MODEL, "--genome", genome, "--regions", peaks,
                        "--out", store, "--chunk-size", "32", "--reference",
                        "dinuc-shuffle:4", "--task", "0", "--quiet"]
                procs, started = [], None
                if workers in ("external", "external-preload"):
                    sched, procs, started = start_external_cluster(
                        tmp, env, 2, workers == "external-preload")
                    argv += ["--scheduler-file", sched]
                elif workers:
                    argv += ["--workers", str(workers)]
                try:
                    got = timed_run(argv, env, store,
                                    workers if isinstance(workers, int)
                                    else None, path)
                finally:
                    stop(procs)
                if started is not None:
                    got = (None,) + got[1:] + (started,)
                results.setdefault(label, []).append(got)
                print(label, ["%.1f" % x if x is not None else "-"
                              for x in got], flush=True)
        loads.append(os.getloadavg())

    def cell(values):
        values = [v for v in values if v is not None]
        if not values:
            return "-"
        return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values),
                                     max(values))
    lines = [
        "# Worker start-up benchmark (bench/bench_worker_start.py)", "",
        "Machine: %s, %d CPU cores shared with other jobs (load average "
        "1/5/15 min %s at the start, %s at the end), Python %s. "
        "`deeplift contribs` of the demo model on %d regions, reference "
        "dinuc-shuffle:4, --chunk-size 32, %d runs per variant, "
        "interleaved: median (range), seconds from the command's start." % (
            platform.machine(), os.cpu_count(),
            "/".join("%.1f" % x for x in loads[0]),
            "/".join("%.1f" % x for x in loads[1]),
            platform.python_version(), args.regions, args.repeats), "",
        "| variant | workers up | first chunk done | worker start -> first "
        "chunk | total | cluster start-up before the command |",
        "|---|---|---|---|---|---|"]
    for label, runs in results.items():
        cluster = [r[0] for r in runs]
        first = [r[1] for r in runs]
        ready = [r[1] - r[0] for r in runs
                 if r[0] is not None and r[1] is not None]
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            label, cell(cluster), cell(first), cell(ready),
            cell([r[2] for r in runs]), cell([r[3] for r in runs
                                              if len(r) > 3])))
    lines.append("")
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
