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

``--mode MODE`` (default Rescale) picks the mode of the compiled
functions; ``--contender floor|unfused|fused`` times only that one, so that
each can run in a fresh process of its own (the first trace of a process
pays TensorFlow's own one-time costs).

``--public-call MODE`` (e.g. ``Rescale``, ``DeepLIFT_GenomicsDefault``)
instead times the path users call, ``get_target_contribs_func`` on ``--n``
sequences (batches of ``--batch``): the trace of the compiled function that
call uses (``get_concrete_function``, no profiler: ``cProfile`` about
doubles Python's time), then the first call, the median of three more, and
the first call's extra over a steady one beyond the trace (the first
execution: graph optimisation, XLA compilation); prints one markdown row.
Run it in a fresh process with an empty ``DEEPLIFT_CACHE_DIR`` for a
user's first run.
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
    parser.add_argument("--mode", default="Rescale")
    parser.add_argument("--contender", choices=["floor", "unfused", "fused"],
                        default=None)
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

    model = kc.convert_model_from_saved_files(
        h5, nonlinear_mxts_mode=args.mode, verbose=False)
    scorer = model.get_target_contribs_func(find_scores_layer_idx=0,
                                            target_layer_idx=-2).scorer
    seed = tf.constant(scorer.seed_for_task(0))
    contenders = {
        "floor": ("floor: TF gradient x input", floor, (x, ref)),
        "unfused": ("%s, compiled function" % args.mode,
                    scorer.compiled_function(np.float32, None, False),
                    (x, ref, seed)),
        "fused": ("%s, compiled function, fuse=True" % args.mode,
                  scorer.compiled_function(np.float32, None, True),
                  (x, ref, seed)),
    }
    if args.contender:
        contenders = {args.contender: contenders[args.contender]}
    rows = []
    for name, fn, fargs in contenders.values():
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
    """The trace, first call and steady calls of ``get_target_contribs_func``
    on ``args.n`` sequences (see the module docstring)."""
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.scoring import should_fuse
    h5 = os.path.join(tempfile.mkdtemp(), "basset.h5")
    basset_keras_model_file(h5)
    x = random_onehot(args.n, 1000)
    ref = np.broadcast_to(GC_REF, (1, 1000, 4)).astype(np.float32)
    model = kc.convert_model_from_saved_files(
        h5, nonlinear_mxts_mode=args.public_call, verbose=False)
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=-2)
    scorer = func.scorer
    spec = tf.TensorSpec((None, 1000, 4), tf.float32)
    seed_spec = tf.TensorSpec(
        (None,) + tuple(scorer.target_layer.get_shape()[1:]), tf.float32)
    start = clock()
    # the function (and key) the call below uses: traced once, here
    scorer.compiled_function(np.float32, None, should_fuse(
        None, args.n)).get_concrete_function(spec, spec, seed_spec)
    trace = since(start)

    def call():
        return func(task_idx=0, input_data_list=[x],
                    input_references_list=[ref], batch_size=args.batch,
                    progress_update=None)
    start = clock()
    call()
    first = since(start)
    steady = []
    for _ in range(3):
        start = clock()
        call()
        steady.append(since(start))
    wall = statistics.median(s[0] for s in steady)
    traces = scorer.trace_count
    print("| %s%s | %.3f | %.3f | %.3f | %.3f | %d |" % (
        args.public_call, ", DEEPLIFT_NO_XLA=1"
        if os.environ.get("DEEPLIFT_NO_XLA") else "", trace[0], first[0],
        wall, first[0] - wall, traces))


if __name__ == "__main__":
    main()
