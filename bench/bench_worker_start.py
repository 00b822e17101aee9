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
folder: the driver converts and stores, the workers read), and this code
with a warm cache; plus the in-process run as the total-time reference.
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
from tests.genomics_helpers import write_genome  # noqa: E402
from bench.bench_genome import make_inputs  # noqa: E402

DEMO_MODEL = os.path.join(REPO, "deeplift", "data", "demo_genomics_model.h5")


def workers_of(pid):
    import psutil
    found = 0
    try:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                cmd = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "spawn_main" in cmd and "resource_tracker" not in cmd:
                found += 1
    except psutil.Error:
        pass
    return found


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
        if workers and cluster is None and workers_of(proc.pid) >= workers:
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
            variants.append(("before (%s)" % before, args.before, None, 2))
        variants += [("this code, empty cache", REPO, "cold", 2),
                     ("this code, warm cache", REPO, warm, 2),
                     ("in-process, warm cache", REPO, warm, None)]
        run_id = 0
        for _ in range(args.repeats):
            for label, path, cache, workers in variants:
                run_id += 1
                store = os.path.join(tmp, "s%d.zarr" % run_id)
                env = dict(os.environ, PYTHONPATH=path,
                           DEEPLIFT_NO_PROGRESS="1", TF_CPP_MIN_LOG_LEVEL="3")
                if cache == "cold":
                    env["DEEPLIFT_CACHE_DIR"] = os.path.join(
                        tmp, "cold%d" % run_id)
                elif cache is not None:
                    env["DEEPLIFT_CACHE_DIR"] = cache
                argv = [sys.executable, "-m", "deeplift.cli", "contribs",
                        DEMO_MODEL, "--genome", genome, "--regions", peaks,
                        "--out", store, "--chunk-size", "32", "--reference",
                        "dinuc-shuffle:4", "--task", "0", "--quiet"]
                if workers:
                    argv += ["--workers", str(workers)]
                got = timed_run(argv, env, store, workers, path)
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
        "chunk | total |", "|---|---|---|---|---|"]
    for label, runs in results.items():
        cluster = [r[0] for r in runs]
        first = [r[1] for r in runs]
        ready = [f - c for c, f, _ in runs if c is not None and f is not None]
        lines.append("| %s | %s | %s | %s | %s |" % (
            label, cell(cluster), cell(first), cell(ready),
            cell([r[2] for r in runs])))
    lines.append("")
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
