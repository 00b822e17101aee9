"""TensorFlow thread settings for one process against several (issue 13).

    python bench/bench_threads.py [--regions 24] [--refs 20] [--filters 64]
        [--repeats 3] [--lead 30] [--out bench/RESULTS_threads.md]

The many-reference path of workload (e) (``MultiRefScorer.run(...,
hypothetical=True)``, Rescale, counts head of the ChromBPNet-shaped model,
automatic batch size, fuse=True) run by P processes at once, each with its
own TensorFlow thread settings, as one process of ``deeplift contribs`` or
P Dask workers (``--workers P``) would run it:

  * 1 process, TensorFlow's default (intra-op and inter-op 0: all cores);
  * 1 process, intra-op = cores, inter-op 1; 1 process, intra-op 1;
  * P = 2 processes with deeplift's worker rule (intra-op = cores / P,
    inter-op 1: what ``deeplift.distributed`` sets), and P = 2 processes
    with TensorFlow's default each (every process uses all cores).

Each process converts the model, warms up, waits for a common start time,
then scores ``--regions`` regions x ``--refs`` references; throughput is all
processes' pairs over the time from the common start to the last finish.
Rounds of all settings are repeated ``--repeats`` times (round-robin);
the table gives medians and all runs.  Writes ``--out`` and prints it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

CHILD = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["DEEPLIFT_NO_PROGRESS"] = "1"
sys.path.insert(0, %(root)r)
import numpy as np
import tensorflow as tf
intra, inter = %(intra)d, %(inter)d
tf.config.threading.set_intra_op_parallelism_threads(intra)
tf.config.threading.set_inter_op_parallelism_threads(inter)
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.dinuc_shuffle import dinuc_shuffle_batch
from deeplift.multiref import MultiRefScorer
from tests.bpnet_net import random_onehot
model = kc.convert_model_from_saved_files(%(path)r,
    nonlinear_mxts_mode="Rescale", verbose=False)
scorer = MultiRefScorer(model, target_layer="logcounts")
x = random_onehot(%(regions)d, %(length)d, seed=%(seed)d)
refs = dinuc_shuffle_batch(x, %(refs)d, rng=np.random.RandomState(0)
                           ).astype(np.float32)
run = lambda n: scorer.run(x[:n], refs[:n], task_idx=0, hypothetical=True,
                           progress=False, fuse=True)
run(2)                                  # compile and warm up
while time.time() < %(start)f:
    time.sleep(0.01)
began = time.time()
run(%(regions)d)
print("THREADS", json.dumps({"began": began, "end": time.time(),
                             "pairs": %(regions)d * %(refs)d}))
"""

LENGTH = 2114


def settings(cores):
    """(label, processes, intra-op, inter-op) of the compared settings."""
    per_worker = max(1, cores // 2)
    return [
        ("1 process, TF default (intra 0, inter 0)", 1, 0, 0),
        ("1 process, intra %d, inter 1" % cores, 1, cores, 1),
        ("1 process, intra 1, inter 1", 1, 1, 1),
        ("2 processes, deeplift's worker rule (intra %d, inter 1 each)"
         % per_worker, 2, per_worker, 1),
        ("2 processes, TF default each (intra 0, inter 0)", 2, 0, 0),
    ]


def run_setting(path, processes, intra, inter, regions, refs, lead=40.0):
    """Pairs/s of ``processes`` children started together."""
    start = time.time() + lead        # time for every child to warm up
    children = [subprocess.Popen(
        [sys.executable, "-c", CHILD % dict(
            root=ROOT, path=path, intra=intra, inter=inter, regions=regions,
            refs=refs, length=LENGTH, seed=p, start=start)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(processes)]
    ends, pairs = [], 0
    for child in children:
        out, err = child.communicate()
        line = [l for l in out.splitlines() if l.startswith("THREADS")]
        if child.returncode != 0 or not line:
            raise RuntimeError("child failed: %s" % err.strip()[-400:])
        info = json.loads(line[0].split(None, 1)[1])
        if info["began"] > start + 1.0:
            # it was still warming up at the common start: the processes
            # did not run together; a longer --lead is needed
            raise RuntimeError("a process warmed up %.1f s after the common "
                               "start; use a --lead longer than %.0f s"
                               % (info["began"] - start, lead))
        ends.append(info["end"])
        pairs += info["pairs"]
    return pairs / (max(ends) - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--refs", type=int, default=20)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lead", type=float, default=30.0,
                        help="seconds from starting the processes to the "
                        "common start (their conversion and warm-up)")
    parser.add_argument("--out",
                        default=os.path.join(HERE, "RESULTS_threads.md"))
    args = parser.parse_args(argv)
    from bench_multiref import load, machine, make_model
    from timing import write_report
    tmp = tempfile.mkdtemp()
    _, path = make_model(tmp, args.filters)
    cores = os.cpu_count()
    rows = settings(cores)
    rates = {label: [] for label, _, _, _ in rows}
    loads = [load()]
    for _ in range(args.repeats):
        for label, processes, intra, inter in rows:
            rates[label].append(run_setting(path, processes, intra, inter,
                                            args.regions, args.refs,
                                            args.lead))
        loads.append(load())
    base = statistics.median(rates[rows[0][0]])
    lines = ["# TensorFlow threads: one process against several", "",
             "Written by `python bench/bench_threads.py %s`." % " ".join(
                 argv if argv is not None else sys.argv[1:]), "",
             "- Machine: " + machine(),
             "- Workload (e)'s many-reference path: %d filters, Rescale, "
             "counts head, %d regions x %d references per process, fuse=True,"
             " automatic batch size; throughput = all processes' pairs / "
             "(last finish - common start), each process warmed up first"
             % (args.filters, args.regions, args.refs),
             "- Median of %d rounds (round-robin over the settings); "
             "brackets: all rounds" % args.repeats, "",
             "| setting | pairs/s, all processes | vs 1 process, TF default |",
             "|---|---|---|"]
    for label, _, _, _ in rows:
        med = statistics.median(rates[label])
        lines.append("| %s | %.1f [%s] | %.2fx |" % (
            label, med, ", ".join("%.1f" % r for r in rates[label]),
            med / base))
    lines += ["", "- 1-minute load average during the run: %s (%d CPUs)"
              % (", ".join("%.1f" % l for l in loads), cores)]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
