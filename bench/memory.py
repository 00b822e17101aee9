"""Peak memory against batch size and number of sequences (issue 6), and of
converting and scoring big keras.applications models (issue 14).

    python bench/memory.py [--out bench/RESULTS_memory.md]
                           [--only basset|applications]

Each measurement is a fresh process that converts the Basset-like model of
bench/run.py and scores N one-hot sequences of 1000 bp (Rescale, shared GC
reference) in batches of B, then reports its peak resident memory
(``ru_maxrss``).  The inputs and the returned scores necessarily grow with
N (16 kB per sequence each); the table subtracts them, so what is left
should depend on the batch size and not on N.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from timing import write_report  # noqa: E402

CHILD = r"""
import os, resource, sys, tempfile
sys.path.insert(0, %(here)r)
sys.path.insert(0, os.path.dirname(%(here)r))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from run import basset_keras_model_file, random_onehot, GC_REF
from deeplift.conversion import kerasapi_conversion as kc
n, batch = %(n)d, %(batch)d
h5 = os.path.join(tempfile.mkdtemp(), "basset.h5")
basset_keras_model_file(h5)
model = kc.convert_model_from_saved_files(h5, nonlinear_mxts_mode="Rescale",
                                          verbose=False)
func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                      target_layer_idx=-2)
x = random_onehot(n, 1000)
scores = func(task_idx=0, input_data_list=[x],
              input_references_list=[GC_REF[None, None, :]],
              batch_size=batch, progress_update=None)
assert scores.shape == x.shape
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


# keras.applications: the model file is written by one process, then a fresh
# one converts it and scores one batch; it reports RSS (current, from
# /proc) after importing, after conversion and after the call, and the peak
APP_SAVE = r"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
model = getattr(keras.applications, %(app)r)(weights=None,
                                             input_shape=%(shape)r)
print(model.count_params())
model.save(%(path)r)
"""

APP_CHILD = r"""
import os, resource, sys, time
sys.path.insert(0, os.path.dirname(%(here)r))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(2)
from deeplift.conversion import kerasapi_conversion as kc
base = rss()
t0 = time.time()
model = kc.convert_model_from_saved_files(
    %(path)r, nonlinear_mxts_mode="Rescale", verbose=False,
    maxpool_deeplift_mode="summation_to_delta")
converted = rss()
names = model.get_input_layer_names()
target = [n for n in model.get_name_to_layer() if n.startswith("preact_")][-1]
func = model.get_target_contribs_func(find_scores_layer_name=names[0],
                                      pre_activation_target_layer_name=target)
x = np.random.RandomState(0).uniform(0, 255, (%(batch)d,) + %(shape)r
                                     ).astype("float32")
scores = func(task_idx=0, input_data_list=[x], batch_size=%(batch)d,
              progress_update=None)
assert scores.shape == x.shape
print(base, converted, rss(), resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss, time.time() - t0)
"""

APPLICATIONS = (("ResNet50", (224, 224, 3)), ("Xception", (299, 299, 3)))


def application_row(app, shape, batch, directory):
    path = os.path.join(directory, "%s.keras" % app)
    params = int(subprocess.run(
        [sys.executable, "-c", APP_SAVE % {"app": app, "shape": shape,
                                           "path": path}],
        capture_output=True, text=True, check=True).stdout.split()[-1])
    out = subprocess.run(
        [sys.executable, "-c", APP_CHILD % {"here": HERE, "path": path,
                                            "shape": shape, "batch": batch}],
        capture_output=True, text=True, check=True).stdout
    base, converted, after, peak, seconds = out.strip().splitlines()[-1] \
        .split()
    weights_mib = params * 4 / 2.0 ** 20
    mib = [int(v) / 1024.0 for v in (base, converted, after, peak)]
    return ("| %s %s | %d | %.0f | %.0f | %.0f (+%.0f) | %.0f (+%.0f) | "
            "%.0f | %.1fx | %.0f |"
            % (app, "x".join(map(str, shape[:2])), batch, weights_mib,
               mib[0], mib[1], mib[1] - mib[0], mib[2], mib[2] - mib[0],
               mib[3], (mib[2] - mib[0]) / weights_mib, float(seconds)))


def applications_lines(batch=4):
    import tempfile
    directory = tempfile.mkdtemp()
    lines = ["## keras.applications: conversion and one scoring call", "",
             "Written by `python bench/memory.py --only applications`: the "
             "model (weights=None, float32) is saved as .keras by one "
             "process; a fresh process converts it (Rescale, "
             "summation-to-delta max pooling) and scores one batch of %d "
             "against a zero reference. RSS from /proc/self/status; the "
             "increase over the process after `import deeplift` and "
             "TensorFlow is in parentheses; ratio = that increase after the "
             "call / the weights." % batch, "",
             "| model | batch | weights MiB | RSS after import MiB | after "
             "conversion MiB | after one call MiB | peak RSS MiB | "
             "resident / weights | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for app, shape in APPLICATIONS:
        lines.append(application_row(app, shape, batch, directory))
    return lines


def peak_kib(n, batch):
    code = CHILD % {"here": HERE, "n": n, "batch": batch}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out",
                        default=os.path.join(HERE, "RESULTS_memory.md"))
    parser.add_argument("--only", choices=("basset", "applications"))
    args = parser.parse_args(argv)
    if args.only == "applications":
        old = open(args.out).read().split("\n## keras.applications")[0]
        write_report(args.out, old.rstrip("\n").split("\n") + [""]
                     + applications_lines())
        return
    cases = [(n, b) for b in (64, 256) for n in (256, 1024, 4096)]
    per_sequence_kib = 2 * 1000 * 4 * 4 / 1024.0  # input + scores, float32
    lines = ["# Peak memory", "",
             "Written by `python bench/memory.py`: one fresh process per "
             "row, Basset-like CNN, Rescale, shared GC reference.", "",
             "| sequences N | batch B | peak RSS MiB | minus inputs and scores "
             "(N x 31.25 KiB) MiB |", "|---|---|---|---|"]
    for n, b in cases:
        peak = peak_kib(n, b)
        rest = peak - n * per_sequence_kib
        lines.append("| %d | %d | %.0f | %.0f |" % (n, b, peak / 1024.0,
                                                   rest / 1024.0))
    if args.only is None:
        lines += [""] + applications_lines()
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
