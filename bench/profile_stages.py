"""Where the time goes (issue 6): a per-stage profile of workload (a).

    python bench/profile_stages.py [--repeats 7] [--out bench/PROFILE.md]

Workload (a) of bench/run.py: the Basset-like CNN, 512 one-hot sequences of
1000 bp, batches of 128, a shared GC reference.  Every stage is a compiled
``tf.function`` timed on the same tensors (median of ``--repeats`` runs
after a warm-up, the stages interleaved round-robin so that a change in
machine load hits them alike):

* the floor: TensorFlow's forward pass of the Keras model, and its
  gradient x input (forward + backward);
* this package: the forward sweep on the inputs, the same with the
  (batch-1) reference, the contributions of every layer (what RevealCancel
  adds before its backward sweep), and the whole compiled scoring function
  per mode, with and without ``fuse=True`` (XLA-fused rule math); the
  differences give the backward sweep's cost;
* the public function (``get_target_contribs_func``) on NumPy arrays: its
  excess over the compiled function is the Python and host-to-device
  overhead (input checks, slicing, tensor conversion, copying results back);
* one transposed application (multipliers back through a convolution) and
  one forward application of each convolution alone, to show what a
  backward sweep costs next to a forward one;
* all 8 tasks: eight calls, and one call with ``task_idx=[0..7]`` (one
  forward sweep shared by eight backward sweeps).

Writes ``--out`` (markdown) and prints it.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from timing import interleaved_medians, write_report  # noqa: E402
from run import (basset_keras_model_file, random_onehot, GC_REF,  # noqa
                 machine_description, ROOT, grad_x_input_task0)
sys.path.insert(0, ROOT)
import tensorflow as tf  # noqa: E402

from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402
from deeplift.graph import forward_sweep  # noqa: E402
from deeplift.layers import NonlinearMxtsMode as M  # noqa: E402
from deeplift.layers.convolutional import Conv1D  # noqa: E402
from deeplift.layers.core import Input  # noqa: E402
from deeplift.scoring import Scorer, POS_CONTRIBS  # noqa: E402

BATCH = 128


def batches(array):
    return [tf.constant(array[s:s + BATCH])
            for s in range(0, len(array), BATCH)]


def over_batches(fn, xs, *rest):
    """A callable running ``fn(x, *rest)`` on every batch.  Calling a
    ``tf.function`` eagerly returns computed tensors, so nothing is copied
    back to the host (``.numpy()`` would add that copy)."""
    def run():
        for x in xs:
            fn(x, *rest)
    return run


def op_profile(compiled, args, repeats=3):
    """Milliseconds per TensorFlow op type in one call of the compiled
    function on ``args`` (the graph run with full tracing; summed over
    ops, which may overlap on several threads).  XLA-fused rule math
    shows up as one op per layer."""
    import collections
    concrete = compiled.get_concrete_function(*args)
    graph = concrete.graph
    # the arguments, then the tensors the function captures (deeplift's
    # weights are captured once per dtype, so they are inputs of the graph)
    values = list(args) + list(concrete.captured_inputs)
    feed = {t.name: a.numpy() for t, a in zip(concrete.inputs, values)}
    totals = collections.Counter()
    with tf.compat.v1.Session(graph=graph) as session:
        for _ in range(2):
            session.run(concrete.outputs, feed)
        for _ in range(repeats):
            meta = tf.compat.v1.RunMetadata()
            session.run(concrete.outputs, feed,
                        options=tf.compat.v1.RunOptions(
                            trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                        run_metadata=meta)
            for device in meta.step_stats.dev_stats:
                for node in device.node_stats:
                    try:
                        kind = graph.get_operation_by_name(
                            node.node_name.split(":")[0]).type
                    except (KeyError, ValueError):
                        continue
                    totals[kind] += node.all_end_rel_micros / 1e3 / repeats
    return totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--out", default=os.path.join(HERE, "PROFILE.md"))
    args = parser.parse_args(argv)

    h5 = os.path.join(tempfile.mkdtemp(), "basset.h5")
    keras_model = basset_keras_model_file(h5)
    import tf_keras as k2
    pre = k2.Model(keras_model.inputs, keras_model.layers[-2].output)
    x_np = random_onehot(args.n, 1000)
    ref_np = np.broadcast_to(GC_REF, (1, 1000, 4)).astype(np.float32)
    xs, ref = batches(x_np), tf.constant(ref_np)
    spec = tf.TensorSpec((None, 1000, 4), tf.float32)

    floor_forward = tf.function(lambda x: pre(x, training=False),
                                input_signature=[spec])
    floor_grad_x_input = grad_x_input_task0(pre)

    stages = {
        "floor: Keras forward": over_batches(floor_forward, xs),
        "floor: TF gradient x input (forward + backward)": over_batches(
            floor_grad_x_input, xs, ref),
    }
    models, funcs, scorers = {}, {}, {}
    for mode in (M.Rescale, M.RevealCancel, M.DeepLIFT_GenomicsDefault,
                 M.Gradient):
        models[mode] = kc.convert_model_from_saved_files(
            h5, nonlinear_mxts_mode=mode, verbose=False)
        funcs[mode] = models[mode].get_target_contribs_func(
            find_scores_layer_idx=0, target_layer_idx=-2)
        scorers[mode] = funcs[mode].scorer
    layers = models[M.Rescale].get_layers()
    inp, target = layers[0], layers[-2]
    order = scorers[M.Rescale].order

    fwd = tf.function(lambda x: forward_sweep(order, {inp: x})[id(target)]
                      .act, input_signature=[spec])

    @tf.function(input_signature=[spec, spec])
    def fwd_ref(x, r):
        state = forward_sweep(order, {inp: x}, {inp: r})[id(target)]
        return state.act, state.ref

    rc_layers = [l for l in models[M.RevealCancel].get_layers()[:-1]
                 if not isinstance(l, Input)]
    rc_contribs = Scorer([models[M.RevealCancel].get_layers()[0]], rc_layers,
                         models[M.RevealCancel].get_layers()[-2],
                         kind=POS_CONTRIBS).compiled_function(np.float32)
    seed = tf.constant(scorers[M.Rescale].seed_for_task(0))
    stages["ours: forward sweep"] = over_batches(fwd, xs)
    stages["ours: forward sweep + reference"] = over_batches(fwd_ref, xs,
                                                             ref)
    stages["ours: RevealCancel forward + contributions of every layer"] = (
        over_batches(rc_contribs, xs, ref, seed))
    for mode in scorers:
        stages["ours: %s, compiled function" % mode] = over_batches(
            scorers[mode].compiled_function(np.float32), xs, ref, seed)
        if mode != M.Gradient:
            stages["ours: %s, compiled function, fuse=True" % mode] = (
                over_batches(scorers[mode].compiled_function(
                    np.float32, fuse=True), xs, ref, seed))
    rescale = funcs[M.Rescale]
    stages["ours: Rescale, public function on NumPy arrays"] = (
        lambda: rescale(task_idx=0, input_data_list=[x_np],
                        input_references_list=[ref_np], batch_size=BATCH,
                        progress_update=None))
    seeds8 = tf.constant(np.stack([scorers[M.Rescale].seed_for_task(t)
                                   for t in range(8)]))
    stages["ours: Rescale, 8 tasks, 8 compiled calls"] = lambda: [
        over_batches(scorers[M.Rescale].compiled_function(np.float32), xs,
                     ref, tf.constant(scorers[M.Rescale].seed_for_task(t)))()
        for t in range(8)]
    stages["ours: Rescale, 8 tasks, one compiled call (shared forward)"] = (
        over_batches(scorers[M.Rescale].compiled_function(np.float32, 8),
                     xs, ref, seeds8))

    # each convolution alone: forward, and multipliers back (transpose)
    conv_stages = {}
    state_shapes = {}
    acts = forward_sweep(order, {inp: xs[0]})
    for layer in order:
        if isinstance(layer, Conv1D):
            act_in = acts[id(layer.input_layers()[0])].act
            out = acts[id(layer)].act
            kernel = tf.constant(layer.kernel)
            name = layer.get_name()
            state_shapes[name] = (tuple(act_in.shape), tuple(out.shape),
                                  layer.kernel.shape)
            f = tf.function(lambda a, k=kernel, l=layer: l.apply_kernel(a, k))
            g = tf.function(lambda a, m, k=kernel, l=layer: tf.gradients(
                l.apply_kernel(a, k), a, grad_ys=m)[0])
            m = tf.ones_like(out)
            conv_stages["%s forward" % name] = (
                lambda f=f, a=act_in: f(a))
            conv_stages["%s transpose" % name] = (
                lambda g=g, a=act_in, m=m: g(a, m))

    t = interleaved_medians(stages, args.repeats)
    tc = interleaved_medians(conv_stages, args.repeats)
    floor = t["floor: TF gradient x input (forward + backward)"]

    lines = ["# Where the time goes: workload (a), per stage", "",
             "Written by `python bench/profile_stages.py` (median of %d "
             "interleaved runs after a warm-up)." % args.repeats, "",
             "Machine: " + machine_description(), "",
             "Basset-like CNN, %d sequences x 1000 bp, batches of %d, shared "
             "GC reference; compiled functions on tensors already on the "
             "device unless said otherwise." % (args.n, BATCH), "",
             "| stage | seconds | / floor |", "|---|---|---|"]
    for name, sec in t.items():
        lines.append("| %s | %.3f | %.2f |" % (name, sec, sec / floor))
    lines += ["", "Derived:", ""]
    fwd_t = t["ours: forward sweep + reference"]
    derived = [
        ("floor's backward = grad x input - forward",
         floor - t["floor: Keras forward"]),
        ("Rescale backward sweep = compiled Rescale - forward + reference",
         t["ours: Rescale, compiled function"] - fwd_t),
        ("RevealCancel contributions = forward + contributions - forward "
         "+ reference", t["ours: RevealCancel forward + contributions of "
                          "every layer"] - fwd_t),
        ("RevealCancel backward sweep = compiled RevealCancel - forward + "
         "contributions", t["ours: RevealCancel, compiled function"]
         - t["ours: RevealCancel forward + contributions of every layer"]),
        ("RevealCancel elementwise work removed by fusion = compiled "
         "RevealCancel - the same with fuse=True",
         t["ours: RevealCancel, compiled function"]
         - t["ours: RevealCancel, compiled function, fuse=True"]),
        ("Python and host-device overhead = public Rescale - compiled "
         "Rescale", t["ours: Rescale, public function on NumPy arrays"]
         - t["ours: Rescale, compiled function"]),
    ]
    for name, sec in derived:
        lines.append("- %s: %.3f s (%.2f x floor)" % (name, sec,
                                                      sec / floor))
    lines += ["", "Each convolution alone, one batch of %d:" % BATCH, "",
              "| layer (input -> output, kernel) | forward ms | transpose ms "
              "| transpose / forward |", "|---|---|---|---|"]
    for name, shapes in state_shapes.items():
        f_ms = tc["%s forward" % name] * 1e3
        b_ms = tc["%s transpose" % name] * 1e3
        lines.append("| %s %s -> %s, %s | %.2f | %.2f | %.2f |" % (
            name, shapes[0], shapes[1], shapes[2], f_ms, b_ms, b_ms / f_ms))
    lines += ["", "Time by op type, one batch of %d (graph run with full "
              "tracing; op times summed, ops may overlap on the 2 threads):"
              % BATCH, ""]
    for mode, fuse in ((M.Rescale, False), (M.Rescale, True),
                       (M.RevealCancel, False), (M.RevealCancel, True)):
        totals = op_profile(scorers[mode].compiled_function(np.float32,
                                                            fuse=fuse),
                            (xs[0], ref, seed))
        whole = sum(totals.values())
        convs = sum(v for k, v in totals.items() if k.startswith("Conv"))
        lines.append("- %s%s: %.0f ms in all, convolutions %.0f%% (%s)" % (
            mode, ", fuse=True (fused kernels: PartitionedCall)" if fuse
            else "", whole, 100 * convs / whole, ", ".join(
                "%s %.0f" % kv for kv in totals.most_common(8))))
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
