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
import collections
import os

import numpy as np

from timing import (profile_heading, region_and_shuffles,  # noqa: E402
                    revision_parser, use_revision)

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    args = revision_parser(__doc__, 40, os.path.join(
        HERE, "PROFILE.md")).parse_args(argv)
    use_revision(args.root)
    import tensorflow as tf
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.multiref import MultiRefScorer
    from profile_stages import op_profile
    from timing import write_report
    from tests.attention_net import attention_like

    keras_model = attention_like()
    model = kc.convert_keras_model(keras_model, nonlinear_mxts_mode="Rescale",
                                   verbose=False)
    x, refs = region_and_shuffles(500, args.batch)
    lines = profile_heading(
        "Attention workload, one batch of %d pairs, op types: %s"
        % (args.batch, args.label), "profile_attention.py", argv)
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
