"""Where a first call's extra time goes (issue 20, item 3).

    python bench/profile_first_call.py [--batch 128]

In this fresh process, for TensorFlow's gradient x input of the Basset-like
CNN (bench/run.py, the floor) and for this package's compiled Rescale
function (unfused and fuse=True), on one batch: the Python trace
(``get_concrete_function``), the first execution (graph optimisation by
Grappler, XLA compilation of the fused rule math, allocation) and the
median of three more executions (steady state); wall and CPU seconds of
this process.  Prints markdown.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import (basset_keras_model_file, random_onehot, GC_REF,  # noqa
                 ROOT, grad_x_input_task0)
sys.path.insert(0, ROOT)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def clock():
    return time.perf_counter(), time.process_time()


def since(start):
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    h5 = os.path.join(tempfile.mkdtemp(), "basset.h5")
    keras_model = basset_keras_model_file(h5)
    import tf_keras as k2
    from deeplift.conversion import kerasapi_conversion as kc
    pre = k2.Model(keras_model.inputs, keras_model.layers[-2].output)
    x = tf.constant(random_onehot(args.batch, 1000))
    ref = tf.constant(np.broadcast_to(GC_REF, (1, 1000, 4)).astype(
        np.float32))
    floor = grad_x_input_task0(pre)

    model = kc.convert_model_from_saved_files(h5, nonlinear_mxts_mode="Rescale",
                                              verbose=False)
    scorer = model.get_target_contribs_func(find_scores_layer_idx=0,
                                            target_layer_idx=-2).scorer
    seed = tf.constant(scorer.seed_for_task(0))
    contenders = {
        "floor: TF gradient x input": (floor, (x, ref)),
        "Rescale, compiled function": (
            scorer.compiled_function(np.float32, None, False),
            (x, ref, seed)),
        "Rescale, compiled function, fuse=True": (
            scorer.compiled_function(np.float32, None, True),
            (x, ref, seed)),
    }
    rows = []
    for name, (fn, fargs) in contenders.items():
        start = clock()
        concrete = fn.get_concrete_function(*fargs)
        trace = since(start)
        start = clock()
        tf.nest.map_structure(lambda t: t.numpy(), concrete(*fargs))
        first = since(start)
        steady = []
        for _ in range(3):
            start = clock()
            tf.nest.map_structure(lambda t: t.numpy(), concrete(*fargs))
            steady.append(since(start))
        wall = statistics.median(s[0] for s in steady)
        cpu = statistics.median(s[1] for s in steady)
        ops = len(concrete.graph.get_operations())
        rows.append("| %s | %d | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | "
                    "%.3f |" % (name, ops, trace[0], trace[1], first[0],
                                first[1], wall, cpu, first[0] - wall))
    print("One batch of %d, 1-minute load average %.1f (2 CPUs); seconds, "
          "wall / CPU of this process:\n" % (args.batch, os.getloadavg()[0]))
    print("| function | graph ops | trace | first execution | steady "
          "execution | first - steady (wall) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
