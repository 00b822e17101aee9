"""The shared helpers of the benchmarks: timing and writing a report."""
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

