"""The shared helpers of the benchmarks: timing and writing a report."""
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


def interleaved_medians(stages, repeats):
    """{name: median seconds} of the zero-argument callables in the dict
    ``stages``, run round-robin after one warm-up run each, so that a
    change in machine load hits them alike."""
    for fn in stages.values():
        fn()
    times = {name: [] for name in stages}
    for _ in range(repeats):
        for name, fn in stages.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def write_report(path, lines):
    """Write ``lines`` (markdown) to ``path`` and to standard output."""
    text = "\n".join(lines) + "\n"
    with open(path, "w") as fh:
        fh.write(text)
    sys.stdout.write(text)
