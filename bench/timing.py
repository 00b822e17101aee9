"""The one timing helper of the benchmarks."""
import statistics
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
