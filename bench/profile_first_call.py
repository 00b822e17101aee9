"""Where a first call's extra time goes (issue 20, item 3).

    python bench/profile_first_call.py [--batch 128]
    python bench/profile_first_call.py --public-call MODE [--n 512]

In this fresh process, for TensorFlow's gradient x input of the Basset-like
CNN (bench/run.py, the floor) and for this package's compiled Rescale
function (unfused and fuse=True), on one batch: the Python trace
(``get_concrete_function``), the first execution (graph optimisation by
Grappler, XLA compilation of the fused rule math, allocation) and the
median of three more executions (steady state); wall and CPU seconds of
this process.  Prints markdown.

``--public-call MODE`` (e.g. ``Rescale``, ``DeepLIFT_GenomicsDefault``)
instead times the path users call: the first and second
``get_target_contribs_func`` call on ``--n`` sequences (batches of
``--batch``), the first under ``cProfile``, which splits it into
TensorFlow's execution (``TFE_Py_Execute``) and the Python around it (the
trace); prints one markdown row.  Run it in a fresh process with an empty
``DEEPLIFT_CACHE_DIR`` for a user's first run.
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
    parser.add_argument("--public-call", default=None, metavar="MODE")
    parser.add_argument("--n", type=int, default=512)
    args = parser.parse_args(argv)
    if args.public_call:
        return public_call(args)
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


def public_call(args):
    """The first and second ``get_target_contribs_func`` call, the first
    split by cProfile into TensorFlow's execution and the Python trace."""
    import cProfile
    import pstats
    h5 = os.path.join(tempfile.mkdtemp(), "basset.h5")
    basset_keras_model_file(h5)
    from deeplift.conversion import kerasapi_conversion as kc
    x = random_onehot(args.n, 1000)
    ref = np.broadcast_to(GC_REF, (1, 1000, 4)).astype(np.float32)
    model = kc.convert_model_from_saved_files(
        h5, nonlinear_mxts_mode=args.public_call, verbose=False)
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=-2)

    def call():
        return func(task_idx=0, input_data_list=[x],
                    input_references_list=[ref], batch_size=args.batch,
                    progress_update=None)
    profile = cProfile.Profile()
    start = clock()
    profile.enable()
    call()
    profile.disable()
    first = since(start)
    start = clock()
    call()
    second = since(start)
    stats = pstats.Stats(profile).stats
    execute = sum(v[3] for k, v in stats.items()
                  if "TFE_Py_Execute" in k[2])
    calls = sum(v[1] for v in stats.values())
    print("| %s%s | %.2f / %.2f | %.2f / %.2f | %.2f (%dk Python calls) | "
          "%.2f |" % (args.public_call, ", DEEPLIFT_NO_XLA=1"
                      if os.environ.get("DEEPLIFT_NO_XLA") else "",
                      first[0], first[1], second[0], second[1],
                      first[0] - execute, calls // 1000, execute))


if __name__ == "__main__":
    main()
