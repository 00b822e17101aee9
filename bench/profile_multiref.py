"""Where the time goes in workload (e): op types of one compiled batch.

    python bench/profile_multiref.py [--root DIR] [--filters 64]
        [--batch 20] [--label NAME] [--out bench/PROFILE.md]

Imports deeplift from ``--root`` (default: this checkout), so the same
script profiles an older revision (``git archive REV | tar -x -C DIR``)
for a before/after comparison.  One batch of ``--batch`` (region,
reference) pairs of one region (``--batch`` shuffles of it) on the
ChromBPNet-shaped model of bench/bench_multiref.py, Rescale, counts head
and (where the revision has it) the profile target; the graph run with
full tracing (bench/profile_stages.op_profile), op times summed over the
ops (they may overlap on the 2 threads), the mean of 3 runs; with
``fuse=True`` the rules' XLA-fused math shows up as PartitionedCall ops.
Appends a section to ``--out`` and prints it.
"""
import os
import tempfile

import numpy as np

from timing import (profile_heading, region_and_shuffles,  # noqa: E402
                    revision_parser, use_revision)

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = revision_parser(__doc__, 20, os.path.join(HERE, "PROFILE.md"))
    parser.add_argument("--filters", type=int, default=64)
    args = parser.parse_args(argv)
    use_revision(args.root)
    import tensorflow as tf
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.multiref import MultiRefScorer
    from profile_stages import op_profile
    from timing import write_report
    from tests.bpnet_net import chrombpnet_like

    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "m.h5")
    chrombpnet_like(filters=args.filters).save(path)
    model = kc.convert_model_from_saved_files(
        path, nonlinear_mxts_mode="Rescale", verbose=False)
    x, refs = region_and_shuffles(2114, args.batch)
    lines = profile_heading(
        "Workload (e), one batch of %d pairs, op types: %s; %d filters"
        % (args.batch, args.label, args.filters), "profile_multiref.py",
        argv)
    targets = [("counts head", "logcounts", None, False),
               ("counts head, fuse=True", "logcounts", None, True)]
    try:
        from deeplift.targets import profile_target
        targets.append(("profile target", "profile_logits",
                        profile_target("shap"), False))
    except ImportError:
        pass
    for name, layer, weights, fuse in targets:
        # the layer object: revisions differ in how names resolve
        target = [l for name_, l in model.get_name_to_layer().items()
                  if name_.split("_0")[0] == layer][0]
        scorer = MultiRefScorer(model, target_layer=target).scorer
        try:
            fn = scorer.compiled_function(np.float32, None, fuse,
                                          pairs=True, seed_fn=weights)
            args_ = [tf.constant(x), tf.constant(refs),
                     tf.constant(np.zeros(args.batch, np.int32))]
            if weights is None:
                args_.append(tf.constant(np.ones((1, 1), np.float32)))
            how = "example forward once, gathered to the pairs"
        except TypeError:     # a revision without the pairs mode
            if weights is not None:
                continue          # nor target-weight functions
            fn = scorer.compiled_function(np.float32, None, fuse)
            args_ = [tf.constant(np.repeat(x, args.batch, axis=0)),
                     tf.constant(refs),
                     tf.constant(np.ones((1, 1), np.float32))]
            how = "example repeated per pair"
        totals = op_profile(fn, args_)
        total = sum(totals.values())
        lines.append("- %s (%s): %.0f ms in all: %s" % (
            name, how, total, ", ".join(
                "%s %.0f" % (k, v) for k, v in totals.most_common(12))))
    write_report(args.out, lines, append=True)


if __name__ == "__main__":
    main()
