"""Where a Dask worker's start-up goes (issue 20, item 4).

    python bench/profile_worker_start.py [--model demo|chrombpnet|PATH]
                                         [--reference dinuc-shuffle:4]
                                         [--rows 8] [--cache DIR]
                                         [--xla-cache DIR]

Runs, in this fresh process, the steps a worker takes before its first
chunk is written, timing each: importing TensorFlow, importing deeplift's
genomics modules, reading the model file (h5py), converting it
(``genomics.models.load_model``: reading + conversion + building the
graph), the :class:`~deeplift.genomics.scoring.ScoringPlan`, the first
chunk of ``--rows`` sequences (tracing and compiling the scoring function,
then running it), and a second chunk (steady state).  Also says whether
the converted model pickles.  ``chrombpnet``: ``tests.bpnet_net.
chrombpnet_like`` (2114 bp, 64 filters, 8 dilated convolutions, counts
head) saved once as h5 under the temporary directory.  ``--cache DIR``:
the model goes through :mod:`deeplift.conversion.cache` (the first run
converts and stores, the next reads).  Prints one line of JSON.
"""
import argparse
import json
import os
import pickle
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def chrombpnet_file():
    path = os.path.join(tempfile.gettempdir(), "deeplift_bench_chrombpnet.h5")
    if not os.path.exists(path):
        from tests.bpnet_net import chrombpnet_like
        model = chrombpnet_like()
        model.save(path + ".tmp.h5")
        os.replace(path + ".tmp.h5", path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--reference", default="dinuc-shuffle:4")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--target", default=None)
    parser.add_argument("--cache", default=None,
                        help="load through deeplift.conversion.cache with "
                        "this cache folder (a second run reads the entry)")
    parser.add_argument("--xla-cache", default=None,
                        help="keep XLA's compiled kernels in this deeplift "
                        "cache folder (deeplift.xla_cache; a second run "
                        "loads them); without it, none are kept")
    args = parser.parse_args()
    times, cpu_times = {}, {}
    t = time.perf_counter()
    cpu = time.process_time()

    def lap(name):
        nonlocal t, cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        times[name] = round(now - t, 3)
        cpu_times[name] = round(now_cpu - cpu, 3)
        t, cpu = now, now_cpu

    # import deeplift names the XLA cache folder (deeplift.xla_cache):
    # this one, or none
    os.environ.pop("TF_XLA_FLAGS", None)
    os.environ["DEEPLIFT_CACHE_DIR"] = (os.path.abspath(args.xla_cache)
                                        if args.xla_cache else "off")
    import numpy as np
    import tensorflow as tf  # noqa: F401
    lap("import tensorflow")
    from deeplift.genomics.models import load_model
    from deeplift.genomics.scoring import ScoringPlan
    from deeplift.xla_cache import xla_cache_directory
    xla_folder = xla_cache_directory()
    if xla_folder:
        xla_entries = len(os.listdir(xla_folder))
    lap("import deeplift")
    if args.model == "demo":
        path = os.path.join(ROOT, "deeplift", "data",
                            "demo_genomics_model.h5")
        task, target = 0, None
    elif args.model == "chrombpnet":
        t0 = time.perf_counter()
        path = chrombpnet_file()
        t += time.perf_counter() - t0      # making the file is not counted
        task, target = 0, "counts"
    else:
        path, task, target = args.model, 0, args.target
    import h5py
    with h5py.File(path, "r") as handle:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                obj[()]
        handle.visititems(visit)
    lap("read h5 (all datasets)")
    if args.cache:
        from deeplift.conversion.cache import cached_model
        model = cached_model(
            lambda: load_model(path, method="genomics_default"), [path],
            {"method": "genomics_default"}, directory=args.cache)
        lap("model through the cache (%s)" % model.deeplift_cache)
    else:
        model = load_model(path, method="genomics_default")
        lap("convert (load_model)")
    try:
        pickle.dumps(model)
        picklable = True
    except Exception as exc:
        picklable = "%s: %s" % (type(exc).__name__, str(exc)[:80])
    t, cpu = time.perf_counter(), time.process_time()
    length = model.get_layers()[0].get_shape()[1] if hasattr(
        model, "get_layers") else None
    if not length:
        length = 2114 if args.model == "chrombpnet" else 200
    plan = ScoringPlan(model, "genomics_default", 1000, length, task,
                       args.reference, 0, None, target=target)
    lap("ScoringPlan")
    rng = np.random.RandomState(0)
    onehot = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (args.rows,
                                                            length))]
    plan.score(onehot, 0)
    lap("first chunk (trace + compile + run)")
    plan.score(onehot, args.rows)
    lap("second chunk")
    print(json.dumps({"model": args.model, "length": int(length),
                      "rows": args.rows, "reference": args.reference,
                      "batch_size": plan.batch_size,
                      "picklable": picklable, "fuse": plan.fuse,
                      "xla_cache_entries_before": (xla_entries if xla_folder
                                                   else None),
                      "seconds": times,
                      "cpu_seconds (all threads)": cpu_times,
                      "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
