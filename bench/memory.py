"""Peak memory against batch size and number of sequences (issue 6).

    python bench/memory.py [--out bench/RESULTS_memory.md]

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


def peak_kib(n, batch):
    code = CHILD % {"here": HERE, "n": n, "batch": batch}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out",
                        default=os.path.join(HERE, "RESULTS_memory.md"))
    args = parser.parse_args(argv)
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
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
