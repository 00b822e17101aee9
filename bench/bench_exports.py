"""Export benchmark (issue 20, item 5): ``deeplift export`` of synthetic
stores, every format through the CLI path users take.

    python bench/bench_exports.py [--regions 20000,200000] [--runs 3]
                                  [--former] [--out bench/RESULTS_exports.md]

For each region count, writes a store directly (random scores, no model:
200 bp windows, chunk size 256, one task, float32; regions on 24
chromosomes of 10 Mb in random file order, so that genome order and store
order differ, about a third overlapping a neighbour) and then times, in
``--runs`` interleaved rounds, ``python -m deeplift.cli export STORE`` with
``--h5`` (which also writes the interpreted-regions BED), ``--bigwig`` and
``--modisco`` as subprocesses (wall time of the whole command, Python
start-up included), plus, in-process, the BED alone
(``exports.region_names`` + ``write_narrowpeak``) and pyBigWig alone
writing the same sections from memory (the floor of any writer through
pyBigWig: one zlib block per section, ten zoom levels per base).  ``--former``: also the
bigWig writer before the one-pass rewrite (tests/test_exports.py keeps it)
once, at the smallest region count.  The load average is read before and
after each region count.  Results go to a Markdown table (``--out``).
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

LENGTH = 200
CHUNK = 256
CHROMS = [("chr%d" % (k + 1), 10_000_000) for k in range(24)]


def make_store(tmp, num, seed=0):
    """A complete store of ``num`` regions at ``tmp/s<num>.zarr``, random
    scores; returns its path."""
    from deeplift.genomics.regions import file_digest, read_regions
    from deeplift.genomics.store import ScoreStore
    rng = np.random.RandomState(seed)
    peaks = os.path.join(tmp, "p%d.narrowPeak" % num)
    chrom = rng.randint(len(CHROMS), size=num)
    # about num/24 peaks per chromosome packed into the first part of it,
    # so that neighbours overlap
    span = max(1000, num // len(CHROMS) * 400)
    start = rng.randint(0, span, size=num)
    with open(peaks, "w") as handle:
        for i in range(num):
            handle.write("%s\t%d\t%d\tpeak%d\t0\t.\t1\t1\t1\t%d\n"
                         % (CHROMS[chrom[i]][0], start[i] + 1000,
                            start[i] + 1300, i, 150))
    table = read_regions(peaks, dict(CHROMS), LENGTH)
    path = os.path.join(tmp, "s%d.zarr" % num)
    store = ScoreStore.create(
        path, {"regions_sha256": file_digest(peaks)}, {"input": peaks},
        num, LENGTH, CHUNK, regions=table, chrom_sizes=CHROMS)
    eye = np.eye(4, dtype=np.uint8)
    for index in range(store.num_chunks):
        lo, hi = store.rows(index)
        onehot = eye[rng.randint(0, 4, (hi - lo, LENGTH))]
        hyp = rng.standard_normal((hi - lo, LENGTH, 4)).astype(np.float32)
        store.write(index, onehot, hyp)
    return path


def store_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def cli(argv):
    env = dict(os.environ, PYTHONPATH=REPO, DEEPLIFT_NO_PROGRESS="1",
               TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "deeplift.cli", "export"] + argv,
                   cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bed_in_process(store_path, out):
    from deeplift.genomics import exports
    from deeplift.genomics.store import ScoreStore
    start = time.perf_counter()
    store = ScoreStore.open(store_path)
    table = store.region_table()
    exports.write_narrowpeak(out, table, store.length,
                             exports.region_names(store, table))
    return time.perf_counter() - start


def pybigwig_floor(store_path, out):
    """pyBigWig alone writing the same sections (random values, already in
    memory): what any writer through pyBigWig pays at least."""
    import pyBigWig
    from deeplift.genomics import exports
    from deeplift.genomics.store import ScoreStore
    store = ScoreStore.open(store_path)
    table = store.region_table()
    sizes = store.group["regions"].attrs["chrom_sizes"]
    rank = {name: k for k, (name, _) in enumerate(sizes)}
    order, lo, hi = exports.bigwig_intervals(
        table, [rank[n] for n in table.chrom_names])
    chrom = table.chrom[order]
    runs = exports._runs(chrom, lo, hi)
    offsets = np.concatenate([[0], np.cumsum(hi - lo)])
    track = np.random.RandomState(0).standard_normal(
        int(offsets[-1])).astype(np.float32)
    start = time.perf_counter()
    handle = pyBigWig.open(out, "w")
    handle.addHeader([(name, int(size)) for name, size in sizes])
    for a, b in runs:
        handle.addEntries(table.chrom_names[chrom[a]], int(lo[a]),
                          values=track[offsets[a]:offsets[b]], span=1, step=1)
    handle.close()
    return time.perf_counter() - start


def former_bigwig(store_path, out):
    from deeplift.genomics.store import ScoreStore
    from tests.test_exports import reference_bigwig
    start = time.perf_counter()
    reference_bigwig(ScoreStore.open(store_path), out)
    return time.perf_counter() - start


def loadavg():
    return "%.1f/%.1f/%.1f" % os.getloadavg()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regions", default="20000,200000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--former", action="store_true")
    parser.add_argument("--tmp", default=None,
                        help="where the stores go (default: a temporary "
                        "directory, removed at the end)")
    parser.add_argument("--out", default=os.path.join(
        REPO, "bench", "RESULTS_exports.md"))
    args = parser.parse_args()
    counts = [int(n) for n in args.regions.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench_exports.", dir=args.tmp)
    rows, notes = [], []
    try:
        for num in counts:
            t0 = time.perf_counter()
            path = make_store(tmp, num)
            made = time.perf_counter() - t0
            size = store_bytes(path) / 2 ** 20
            load_before = loadavg()
            out = os.path.join(tmp, "out%d" % num)
            os.makedirs(out)
            jobs = {
                "h5 (+ BED)": lambda: cli([path, "--h5",
                                           os.path.join(out, "c.h5")]),
                "bigwig": lambda: cli([path, "--bigwig",
                                       os.path.join(out, "t.bw")]),
                "modisco": lambda: cli([path, "--modisco",
                                        os.path.join(out, "m")]),
                "BED alone (in-process)": lambda: bed_in_process(
                    path, os.path.join(out, "r.bed")),
                "pyBigWig alone, same sections (in-process)":
                    lambda: pybigwig_floor(path, os.path.join(out, "f.bw")),
            }
            times = {name: [] for name in jobs}
            ratios = []
            for _ in range(args.runs):
                for name, job in jobs.items():
                    times[name].append(job())
                ratios.append(times["bigwig"][-1] / times["h5 (+ BED)"][-1])
                print(num, {k: round(v[-1], 2) for k, v in times.items()},
                      flush=True)
            load_after = loadavg()
            for name, values in times.items():
                rows.append((num, name, statistics.median(values),
                             min(values), max(values), args.runs))
            rows.append((num, "ratio bigwig / h5 (same round)",
                         statistics.median(ratios), min(ratios),
                         max(ratios), args.runs))
            if args.former and num == counts[0]:
                former = former_bigwig(path, os.path.join(out, "old.bw"))
                rows.append((num, "bigwig, former writer (in-process)",
                             former, former, former, 1))
            notes.append("%d regions: store %.0f MiB written in %.0f s; "
                         "load average (1/5/15 min) %s before, %s after"
                         % (num, size, made, load_before, load_after))
            shutil.rmtree(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        "# Export benchmark (bench/bench_exports.py)", "",
        "Machine: %s, %d CPU cores (shared with other jobs while "
        "measured), Python %s. Synthetic stores (random float32 scores, "
        "one task, %d bp, --chunk-size %d, 24 chromosomes of 10 Mb, "
        "regions in random file order), `deeplift export` as a subprocess "
        "(wall time of the whole command, Python start-up included); %d "
        "interleaved rounds: median and range." % (
            platform.machine(), os.cpu_count(), platform.python_version(),
            LENGTH, CHUNK, args.runs), "",
        "| regions | export | median (s) | range (s) | runs |",
        "|---|---|---|---|---|"]
    for num, name, med, lo, hi, runs in rows:
        lines.append("| %d | %s | %.2f | %.2f-%.2f | %d |"
                     % (num, name, med, lo, hi, runs))
    lines += [""] + ["- " + n for n in notes] + [""]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
