"""Where the time goes in the attention workload: op types of one compiled
batch (issue 20, item 1).

    python bench/profile_attention.py [--root DIR] [--batch 40]
        [--label NAME] [--out bench/PROFILE.md]

The model of ``bench/flop_account.py --workload attention``
(``tests.attention_net.attention_like``: a Conv1D stem, average pooling to
125 tokens, one transformer block whose MultiHeadAttention is traced, two
LayerNormalization composites), converted in memory; one region and
``--batch`` dinucleotide shuffles of it, ``MultiRefScorer``'s compiled
pair function (the region's forward pass once, gathered to the pairs),
Rescale, counts head, unfused and ``fuse=True``.  The graph is run with
full tracing (bench/profile_stages.op_profile): milliseconds per op type
summed over the ops (they may overlap on the 2 threads), the mean of 3
runs, and the number of ops of the types that show a repeated forward
pass (Einsum, Softmax, Rsqrt).  Imports deeplift from ``--root`` (default:
this checkout; the model from this checkout's tests), so the same script
profiles an older revision (``git archive REV | tar -x -C DIR``) for a
before/after comparison.  Appends a section to ``--out`` and prints it.
"""
import argparse
import collections
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(HERE))
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out", default=os.path.join(HERE, "PROFILE.md"))
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.abspath(args.root))
    sys.path.insert(1, HERE)
    sys.path.insert(2, os.path.dirname(HERE))     # tests.attention_net
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import deeplift
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.dinuc_shuffle import dinuc_shuffle_batch
    from deeplift.multiref import MultiRefScorer
    from profile_stages import op_profile
    from timing import write_report
    from tests.attention_net import attention_like
    from tests.bpnet_net import random_onehot
    assert os.path.abspath(deeplift.__file__).startswith(
        os.path.abspath(args.root)), deeplift.__file__

    keras_model = attention_like()
    model = kc.convert_keras_model(keras_model, nonlinear_mxts_mode="Rescale",
                                   verbose=False)
    x = random_onehot(1, 500, seed=1)
    refs = dinuc_shuffle_batch(x, args.batch,
                               rng=np.random.RandomState(0))[0].astype(
        np.float32)
    lines = ["", "## Attention workload, one batch of %d pairs, op types: %s"
             % (args.batch, args.label), "",
             "Written by `python bench/profile_attention.py %s`; 1-minute "
             "load average %.1f (2 CPUs)." % (
                 " ".join(argv if argv is not None else sys.argv[1:]),
                 os.getloadavg()[0]), ""]
    for fuse in (False, True):
        inner = MultiRefScorer(model, target_layer="counts").scorer
        fn = inner.compiled_function(np.float32, None, fuse, pairs=True)
        call = [tf.constant(x), tf.constant(refs),
                tf.constant(np.zeros(args.batch, np.int32)),
                tf.constant(np.ones((1, 1), np.float32))]
        graph = fn.get_concrete_function(*call).graph
        kinds = collections.Counter(op.type for op in graph.get_operations())
        totals = op_profile(fn, call)
        lines.append(
            "- fuse=%s: %.0f ms in all (%d graph ops; Einsum %d, Softmax %d, "
            "Rsqrt %d): %s" % (
                fuse, sum(totals.values()), sum(kinds.values()),
                kinds["Einsum"], kinds["Softmax"], kinds["Rsqrt"],
                ", ".join("%s %.0f" % kv for kv in totals.most_common(14))))
    write_report(args.out, lines, append=True)


if __name__ == "__main__":
    main()
