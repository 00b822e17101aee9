"""The shared helpers of the benchmarks: timing and writing a report."""
import os
import platform
import statistics
import sys
import time


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup``
    untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def round_robin(funcs, rounds, block=1, warm_each_round=False):
    """Time the zero-argument callables ``funcs`` in ``rounds`` rounds; in
    each round every function runs ``block`` timed times in a row (after
    one untimed run each round if ``warm_each_round``).  One untimed
    warm-up run each comes first.  Interleaving the functions spreads any
    change in machine load over them alike.  Returns, per function, a list
    of wall-clock times and a list of CPU times of this process (seconds;
    the CPU time leaves out time spent waiting for a CPU)."""
    for fn in funcs:
        fn()
    times = [([], []) for _ in funcs]
    for _ in range(rounds):
        for fn, (wall, cpu) in zip(funcs, times):
            if warm_each_round:
                fn()
            for _ in range(block):
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                cpu.append(time.process_time() - start_cpu)
                wall.append(time.perf_counter() - start)
    return times


def interleaved_medians(stages, repeats):
    """{name: median wall seconds} of the zero-argument callables in the
    dict ``stages``, timed with :func:`round_robin`."""
    times = round_robin(list(stages.values()), repeats)
    return {name: statistics.median(wall)
            for name, (wall, _) in zip(stages, times)}


def write_report(path, lines, append=False):
    """Write ``lines`` (markdown) to ``path`` (appended to it if
    ``append``) and to standard output."""
    text = "\n".join(lines) + "\n"
    with open(path, "a" if append else "w") as fh:
        fh.write(text)
    sys.stdout.write(text)


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def revision_parser(doc, batch, out):
    """The arguments of a profile of one revision's compiled batch:
    ``--root`` (the source tree to import deeplift from; default this
    checkout), ``--batch`` (pairs per batch, default ``batch``),
    ``--label`` and ``--out`` (default ``out``).  ``doc``: the script's
    docstring (its first line describes it)."""
    import argparse
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(here))
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out", default=out)
    return parser


def use_revision(root):
    """Import deeplift from the source tree ``root`` (this checkout's
    ``bench/`` and ``tests/`` stay importable, after it); raises if
    another deeplift was imported already.  Returns the module."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.abspath(root))
    sys.path.insert(1, here)
    sys.path.insert(2, os.path.dirname(here))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import deeplift
    if not os.path.abspath(deeplift.__file__).startswith(
            os.path.abspath(root)):
        raise RuntimeError("deeplift was imported from %s, not from %s"
                           % (deeplift.__file__, root))
    return deeplift


def region_and_shuffles(length, count):
    """One random one-hot region (1, length, 4) (seed 1) and ``count``
    dinucleotide shuffles of it (count, length, 4) float32 (seed 0), from
    the deeplift that :func:`use_revision` imported."""
    import numpy as np
    from deeplift.dinuc_shuffle import dinuc_shuffle_batch
    from tests.bpnet_net import random_onehot
    x = random_onehot(1, length, seed=1)
    refs = dinuc_shuffle_batch(x, count, rng=np.random.RandomState(0))[0]
    return x, refs.astype(np.float32)


def profile_heading(title, script, argv):
    """The heading lines of a profile section: ``title``, then how
    ``script`` was run (``argv``, default the command line's) and the
    load average."""
    argv = sys.argv[1:] if argv is None else argv
    return ["", "## " + title, "",
            "Written by `python bench/%s %s`; 1-minute load average %.1f "
            "(2 CPUs)." % (script, " ".join(argv), os.getloadavg()[0]), ""]
