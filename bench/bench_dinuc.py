"""Benchmark deeplift.dinuc_shuffle against deeplift 0.6.13's dinuc_shuffle.

Workload: 100 random one-hot sequences of 1000 bp, 20 dinucleotide shuffles
each.  Three variants, each timed two ways: in the steady state (rounds in
which every variant runs once untimed, then a few timed runs in a row; the
rounds spread changes in machine load over the variants) and interleaved
(round-robin, each run right after the other variants), in wall-clock time
and in CPU time of the process:

* original: deeplift 0.6.13's ``dinuc_shuffle`` called once per sequence
  (its module is loaded from the original source distribution by file path,
  under another module name; it only needs NumPy);
* ours, per sequence: ``deeplift.dinuc_shuffle.dinuc_shuffle`` called once
  per sequence, exactly like the original;
* ours, batch: one call of ``deeplift.dinuc_shuffle.dinuc_shuffle_batch``
  on the 100 x 1000 x 4 array.

A second table times the path users take: ``get_shuffle_seq_ref_function(
score, dinuc_shuffle)`` of each version (0.6.13's from its own
``deeplift/util.py``, loaded by file path like its shuffle), called on
50 one-hot sequences of 1000 bp with 20 references each, float64 and
float32.  The wrapper calls ``dinuc_shuffle(seq, rng=rng)`` once per
reference (one shuffle per call), stacks the references into one batch and
averages the scores; ``score`` returns its input unchanged, so only the
references, the wrapper's own copies and its mean are timed.

The original is looked for in $DEEPLIFT_ORIGINAL_DIR, then
/work/orig/deeplift-0.6.13.0, then ~/.cache/deeplift-tests/deeplift-0.6.13.0
(downloaded there with ``pip download --no-deps deeplift==0.6.13.0`` and
extracted when missing).

The results are written to a section of bench/RESULTS_dinuc.md (replacing
the section of a previous run).

Usage: python bench/bench_dinuc.py [--runs 5] [--no-write]
"""
import argparse
import glob
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from deeplift.dinuc_shuffle import dinuc_shuffle, dinuc_shuffle_batch  # noqa
from timing import round_robin  # noqa: E402

ORIGINAL_NAME = "deeplift-0.6.13.0"
RESULTS_PATH = os.path.join(HERE, "RESULTS_dinuc.md")
SECTION_BEGIN = "<!-- BEGIN bench_dinuc.py -->"
SECTION_END = "<!-- END bench_dinuc.py -->"

NUM_SEQS, SEQ_LEN, NUM_SHUFS = 100, 1000, 20
NUM_USER_SEQS = 50
BLOCK = 3


def find_original_dir():
    candidates = []
    if os.environ.get("DEEPLIFT_ORIGINAL_DIR"):
        candidates.append(os.environ["DEEPLIFT_ORIGINAL_DIR"])
    candidates.append(os.path.join("/work/orig", ORIGINAL_NAME))
    cache_dir = os.path.expanduser("~/.cache/deeplift-tests")
    cached = os.path.join(cache_dir, ORIGINAL_NAME)
    candidates.append(cached)
    for path in candidates:
        if os.path.isfile(os.path.join(path, "deeplift", "dinuc_shuffle.py")):
            return path
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp,
             "deeplift==0.6.13.0"])
        archives = glob.glob(os.path.join(tmp, "deeplift-*"))
        if not archives:
            raise RuntimeError("pip download produced no deeplift archive")
        archive = archives[0]
        if archive.endswith(".whl"):  # a wheel holds deeplift/ at its root
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(cached)
        elif archive.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(cache_dir)
        else:
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(cache_dir, filter="data")
                else:  # Python without extraction filters
                    tf.extractall(cache_dir)
    if not os.path.isfile(os.path.join(cached, "deeplift",
                                       "dinuc_shuffle.py")):
        raise RuntimeError("could not find the original deeplift in %s"
                           % cached)
    return cached


def load_original_module(original_dir):
    path = os.path.join(original_dir, "deeplift", "dinuc_shuffle.py")
    spec = importlib.util.spec_from_file_location(
        "deeplift_original_dinuc_shuffle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_original_util(original_dir):
    """0.6.13's ``deeplift/util.py`` (imports TensorFlow; its
    get_shuffle_seq_ref_function needs only NumPy), or None with the reason
    when it does not import."""
    path = os.path.join(original_dir, "deeplift", "util.py")
    spec = importlib.util.spec_from_file_location(
        "deeplift_original_util", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - report whatever it raises
        return None, "%s: %s" % (type(exc).__name__, exc)
    return module, None


def trivial_score(task_idx, input_data_list, input_references_list,
                  batch_size, progress_update=None):
    """A score function that returns its input unchanged: only the
    references and the wrapper's own work are timed."""
    return input_data_list[0]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "unknown"


def dinuc_count_matrix(one_hot):
    dim = one_hot.shape[-1]
    tokens = np.where(one_hot.any(-1), one_hot.argmax(-1), dim)
    counts = np.zeros((dim + 1, dim + 1), dtype=np.int64)
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    return counts


def write_section(text):
    header = ("# dinuc_shuffle benchmark\n\n"
              "Generated by `python bench/bench_dinuc.py`.\n\n")
    if os.path.exists(RESULTS_PATH):
        with open(RESULTS_PATH) as f:
            content = f.read()
    else:
        content = header
    section = "%s\n%s\n%s" % (SECTION_BEGIN, text.rstrip("\n"), SECTION_END)
    if SECTION_BEGIN in content and SECTION_END in content:
        before = content[:content.index(SECTION_BEGIN)]
        after = content[content.index(SECTION_END) + len(SECTION_END):]
        content = before + section + after
    else:
        content = content.rstrip("\n") + "\n\n" + section + "\n"
    with open(RESULTS_PATH, "w") as f:
        f.write(content)


def user_path_section(original_dir, runs):
    """The table of get_shuffle_seq_ref_function, ours against 0.6.13's."""
    from deeplift.util import get_shuffle_seq_ref_function
    original_util, reason = load_original_util(original_dir)
    original = load_original_module(original_dir)
    data_rng = np.random.RandomState(99)
    tokens = data_rng.randint(0, 4, (NUM_USER_SEQS, SEQ_LEN))
    funcs, names = [], []
    for dtype in (np.float64, np.float32):
        seqs = np.eye(4, dtype=dtype)[tokens]
        if original_util is not None:
            theirs = original_util.get_shuffle_seq_ref_function(
                trivial_score, original.dinuc_shuffle)
            their_name = "0.6.13 `get_shuffle_seq_ref_function`"
        else:   # its module does not import: the same loop, written here
            theirs = get_shuffle_seq_ref_function(
                trivial_score, original.dinuc_shuffle)
            their_name = ("0.6.13 `dinuc_shuffle` in our wrapper (0.6.13's "
                          "util does not import: %s)" % reason)
        ours = get_shuffle_seq_ref_function(trivial_score, dinuc_shuffle)
        # both give the mean of the same 'scores' (the inputs)
        np.testing.assert_array_equal(theirs(0, seqs[:2], 2, 10),
                                      ours(0, seqs[:2], 2, 10))
        for fn, name in ((theirs, their_name), (ours, "ours")):
            funcs.append(lambda fn=fn, seqs=seqs: fn(0, seqs, NUM_SHUFS, 100))
            names.append("%s, %s" % (name, np.dtype(dtype).name))
    load_before = load_average()
    steady = round_robin(funcs, runs, BLOCK, warm_each_round=True)
    interleaved = round_robin(funcs, runs)
    load_after = load_average()
    med = statistics.median
    rows = []
    per_seq = 1000.0 / NUM_USER_SEQS
    for i, name in enumerate(names):
        base = i - i % 2        # the original of the same dtype
        wall, cpu = steady[i]
        wall_i = interleaved[i][0]
        rows.append(
            "| %s | %.2f ms [%.2f-%.2f] | %.1fx [%.1f-%.1fx] | %.2f ms | "
            "%.1fx | %.2f ms [%.2f-%.2f] | %.1fx [%.1f-%.1fx] |" % (
                name, per_seq * med(wall), per_seq * min(wall),
                per_seq * max(wall), med(steady[base][0]) / med(wall),
                min(steady[base][0]) / max(wall),
                max(steady[base][0]) / min(wall), per_seq * med(cpu),
                med(steady[base][1]) / med(cpu), per_seq * med(wall_i),
                per_seq * min(wall_i), per_seq * max(wall_i),
                med(interleaved[base][0]) / med(wall_i),
                min(r / w for r, w in zip(interleaved[base][0], wall_i)),
                max(r / w for r, w in zip(interleaved[base][0], wall_i))))
    return "\n".join([
        "",
        "## The user path: `get_shuffle_seq_ref_function(score, "
        "dinuc_shuffle)`, %d sequences x %d bp x %d references"
        % (NUM_USER_SEQS, SEQ_LEN, NUM_SHUFS),
        "",
        "- One call scores %d one-hot sequences with %d references each; "
        "the wrapper calls `dinuc_shuffle(seq, rng=rng)` once per reference "
        "(one shuffle per call) and stacks them into one batch; `score` "
        "returns its input unchanged.  Times per sequence (a call's time / "
        "%d)." % (NUM_USER_SEQS, NUM_SHUFS, NUM_USER_SEQS),
        "- 1-minute load average %s before and %s after." % (
            load_before, load_after),
        "- Steady state as above (%d timed runs each: median [best-worst]); "
        "speed-up of the medians [lowest-highest: the original's fastest run "
        "over our slowest .. its slowest over our fastest]; interleaved: %d runs "
        "round-robin, speed-up of the medians [range of the per-round "
        "ratios]." % (runs * BLOCK, runs),
        "",
        "| wrapper, one-hot dtype | steady, per sequence | speed-up | "
        "median CPU | speed-up (CPU) | interleaved | speed-up (interleaved) "
        "|",
        "|---|---|---|---|---|---|---|",
    ] + rows + [""])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="rounds of the steady-state timing (3 timed "
                        "runs each) and runs of the interleaved timing")
    parser.add_argument("--no-write", action="store_true",
                        help="do not update bench/RESULTS_dinuc.md")
    args = parser.parse_args()
    runs = max(3, args.runs)

    original_dir = find_original_dir()
    original = load_original_module(original_dir)

    data_rng = np.random.RandomState(1234)
    seqs = np.eye(4)[data_rng.randint(0, 4, (NUM_SEQS, SEQ_LEN))]

    try:
        original.dinuc_shuffle("ACGTACGGTAC", 2, np.random.RandomState(0))
        string_note = "works"
    except Exception as exc:  # noqa: BLE001 - report whatever it raises
        string_note = "fails on this NumPy (%s: %s)" % (
            type(exc).__name__, exc)

    # Sanity check: our outputs keep the dinucleotide counts exactly.
    check = dinuc_shuffle_batch(seqs[:5], 3, np.random.RandomState(0))
    for i in range(5):
        for shuf in check[i]:
            assert (dinuc_count_matrix(shuf)
                    == dinuc_count_matrix(seqs[i])).all()

    rng = np.random.RandomState(0)

    def run_original():
        return [original.dinuc_shuffle(s, NUM_SHUFS, rng) for s in seqs]

    def run_ours_loop():
        return [dinuc_shuffle(s, NUM_SHUFS, rng) for s in seqs]

    def run_ours_batch():
        return dinuc_shuffle_batch(seqs, NUM_SHUFS, rng)

    funcs = [run_original, run_ours_loop, run_ours_batch]
    names = ["original `dinuc_shuffle`, loop over sequences",
             "`deeplift.dinuc_shuffle.dinuc_shuffle`, loop over sequences",
             "`deeplift.dinuc_shuffle.dinuc_shuffle_batch`, one call"]
    load_before = load_average()
    # steady state: every round runs each variant once untimed, then BLOCK
    # timed runs in a row; interleaved: one timed run each, round-robin
    steady = round_robin(funcs, runs, BLOCK, warm_each_round=True)
    interleaved = round_robin(funcs, runs)
    load_after = load_average()

    def fmt(times):
        return ", ".join("%.1f" % (1000 * t) for t in times)

    med = statistics.median
    rows = []
    for name, (wall, cpu), (wall_i, _) in zip(names, steady, interleaved):
        rows.append("| %s | %.1f ms | %.1fx | %.1f ms | %.1fx | %.1f ms | "
                    "%.1fx | %.1f ms [%s] | %.1fx |" % (
                        name, 1000 * med(wall), med(steady[0][0]) / med(wall),
                        1000 * min(wall), min(steady[0][0]) / min(wall),
                        1000 * med(cpu), med(steady[0][1]) / med(cpu),
                        1000 * med(wall_i), fmt(wall_i),
                        med(interleaved[0][0]) / med(wall_i)))
    text = "\n".join([
        "## %d one-hot sequences x %d bp x %d shuffles"
        % (NUM_SEQS, SEQ_LEN, NUM_SHUFS),
        "",
        "- CPU: %s (%d logical CPUs); 1-minute load average %s before and "
        "%s after the runs (other processes compete for the CPUs when it "
        "exceeds the CPU count)"
        % (cpu_name(), os.cpu_count() or 0, load_before, load_after),
        "- Python %s, NumPy %s" % (platform.python_version(), np.__version__),
        "- Original: `%s/deeplift/dinuc_shuffle.py`; its string path %s, so "
        "only the one-hot path is compared." % (original_dir, string_note)
        if string_note != "works" else
        "- Original: `%s/deeplift/dinuc_shuffle.py`" % original_dir,
        "- Steady state: %d rounds; in each round every variant runs once "
        "untimed, then %d timed runs in a row (%d timed runs per variant; "
        "median, best, and median CPU time of this process, which leaves "
        "out time spent waiting for a CPU held by other processes)."
        % (runs, BLOCK, runs * BLOCK),
        "- Interleaved: %d runs per variant, round-robin, each right after "
        "the other variants (all runs in brackets).  The batch call's fresh "
        "64 MB float64 output and its temporaries then come from memory the "
        "other variants just churned (page faults), so it is slower and "
        "noisier there than in a pipeline that calls it repeatedly." % runs,
        "",
        "| implementation | steady median | speed-up (medians) | best "
        "| speed-up (best) | median CPU | speed-up (CPU) | interleaved "
        "median | speed-up (interleaved) |",
        "|---|---|---|---|---|---|---|---|---|",
    ] + rows + [""])
    text += user_path_section(original_dir, runs)
    sys.stdout.write(text + "\n")
    batch_wall, batch_wall_i = steady[2][0], interleaved[2][0]
    sys.stdout.write(
        "SUMMARY: dinuc_shuffle_batch %.1f ms, %.1fx faster than the "
        "original (steady-state medians; %.1fx interleaved)\n"
        % (1000 * med(batch_wall), med(steady[0][0]) / med(batch_wall),
           med(interleaved[0][0]) / med(batch_wall_i)))
    if not args.no_write:
        write_section(text)
        sys.stdout.write("updated %s\n" % RESULTS_PATH)


if __name__ == "__main__":
    main()
