"""The DeepLIFT paper's MNIST experiment (Shrikumar et al. 2017, Fig. 2).

For a CNN trained on MNIST and a digit of class ``o`` (e.g. 8), every method
scores the pixels for the pre-softmax outputs of class ``o`` and of a
target class ``t`` (e.g. 3); up to 157 pixels (20% of the image) with the
highest positive ``S_o - S_t`` are erased (set to 0, the reference) to turn
the ``o`` into a ``t``.  A method that finds the evidence well makes the
log-odds ``log p(o)/p(t)`` drop a lot: the table reports, per method and
class pair, the change in log-odds (before minus after, mean and standard
error over the examples; larger is better).

Scores are taken at the input (``find_scores_layer_idx=0``) for the layer
before the softmax (``target_layer_idx=-2``) with a black (all-zero)
reference::

    python examples/mnist/mnist_example.py --n 100 --out mnist_out

By default the model is the shared fixture
``../shared/fixtures/keras2_real/keras2_mnist_cnn_allconv.h5`` and the
digits are the MNIST test set IDX files in ``../shared/fixtures/mnist``
(``--data-dir``); without them the script falls back to
``keras.datasets.mnist`` (which downloads).
"""
import argparse
import functools
import gzip
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures")
DEFAULT_MODEL = os.path.join(FIXTURES, "keras2_real",
                             "keras2_mnist_cnn_allconv.h5")
DEFAULT_DATA_DIR = os.path.join(FIXTURES, "mnist")
NUM_ERASED = 157


def read_idx(path):
    """An IDX file (optionally gzipped) as a numpy array."""
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("%s is not an IDX file" % path)
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
              0x0D: ">f4", 0x0E: ">f8"}
    dtype, ndim = dtypes[data[2]], data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)


def load_digits(data_dir):
    """Test images (N, 28, 28, 1) in [0, 1] and labels (N,)."""
    import numpy as np
    for stem in ("t10k", "train"):
        images = os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % stem)
        labels = os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % stem)
        if not os.path.exists(images):
            images, labels = images[:-3], labels[:-3]
        if os.path.exists(images) and os.path.exists(labels):
            x = read_idx(images).astype(np.float32) / 255.0
            return x[..., None], read_idx(labels).astype(np.int64)
    import keras
    (_, _), (x, y) = keras.datasets.mnist.load_data()
    return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int64)


def parse_pairs(text):
    pairs = []
    for item in text.split(","):
        orig, target = item.split(":")
        pairs.append((int(orig), int(target)))
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="Keras MNIST model (.h5)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help="directory with the MNIST IDX files")
    parser.add_argument("--n", type=int, default=100,
                        help="examples per class pair")
    parser.add_argument("--pairs", default="8:3,8:6,9:4",
                        help="original:target class pairs")
    parser.add_argument("--ig-steps", default="5,10",
                        help="integrated gradients steps to compare")
    parser.add_argument("--out", default="mnist_example_out",
                        help="output directory (results table)")
    args = parser.parse_args(argv)
    if not os.path.exists(args.model):
        sys.exit("mnist_example: model %s does not exist" % args.model)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy as np
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")   # retracing notes: one per model
    from deeplift import util
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.layers import NonlinearMxtsMode as NM

    os.makedirs(args.out, exist_ok=True)
    x_all, y_all = load_digits(args.data_dir)
    pairs = parse_pairs(args.pairs)
    ig_steps = [int(s) for s in args.ig_steps.split(",") if s]

    @functools.lru_cache(maxsize=None)     # each model converted once
    def convert(mode):
        return kc.convert_model_from_saved_files(
            args.model, nonlinear_mxts_mode=mode, verbose=False)

    base = convert(NM.Rescale)
    logits_func = base.get_prediction_function(0, -2)    # pre-softmax

    def contribs(mode):
        func = convert(mode).get_target_contribs_func(
            find_scores_layer_idx=0, target_layer_idx=-2)
        return lambda task, x: func(task_idx=task, input_data_list=[x],
                                    batch_size=100, progress_update=None)

    def integrated(steps):
        grads = convert(NM.Gradient).get_target_multipliers_func(
            find_scores_layer_idx=0, target_layer_idx=-2)
        ig = util.get_integrated_gradients_function(grads, steps)
        return lambda task, x: ig(
            task_idx=task, input_data_list=[x],
            input_references_list=[np.zeros_like(x)], batch_size=100)

    methods = [("gradient x input", lambda: contribs(NM.Gradient)),
               ("guided backprop x input",
                lambda: contribs(NM.GuidedBackprop))]
    methods += [("integrated gradients-%d" % s,
                 (lambda s=s: integrated(s))) for s in ig_steps]
    methods += [
        ("DeepLIFT Rescale", lambda: contribs(NM.Rescale)),
        ("DeepLIFT RevealCancel-fc, Rescale-conv",
         lambda: contribs(NM.DeepLIFT_GenomicsDefault)),
        ("DeepLIFT RevealCancel", lambda: contribs(NM.RevealCancel)),
    ]

    def log_odds(x, orig, target):
        logits = logits_func([x], batch_size=200)
        return logits[:, orig] - logits[:, target]

    examples = {}
    for orig, target in pairs:
        idx = np.flatnonzero(y_all == orig)[:args.n]
        examples[(orig, target)] = x_all[idx]
    print("model %s; %s; up to %d pixels erased; %s examples per pair"
          % (os.path.basename(args.model),
             ", ".join("%d->%d" % p for p in pairs), NUM_ERASED,
             "/".join(str(len(v)) for v in examples.values())))

    rows = []
    for label, make in methods:
        t0 = time.time()
        score = make()
        stats = []
        for (orig, target), x in examples.items():
            diff = (np.asarray(score(orig, x))
                    - np.asarray(score(target, x)))
            flat = diff.reshape(len(x), -1)
            erased = x.reshape(len(x), -1).copy()
            order = np.argsort(-flat, axis=1, kind="stable")[:, :NUM_ERASED]
            for i in range(len(x)):
                chosen = order[i][flat[i, order[i]] > 0]
                erased[i, chosen] = 0.0
            erased = erased.reshape(x.shape)
            change = log_odds(x, orig, target) - log_odds(erased, orig,
                                                          target)
            stats.append((float(np.mean(change)),
                          float(np.std(change) / np.sqrt(max(len(change),
                                                             1)))))
        rows.append((label, stats, time.time() - t0))

    header = ["method"] + ["%d->%d" % p for p in pairs] + ["time (s)"]
    table = [[r[0]] + ["%.2f +- %.2f" % s for s in r[1]] + ["%.1f" % r[2]]
             for r in rows]
    widths = [max(len(x[c]) for x in table + [header])
              for c in range(len(header))]
    print("change in log-odds log p(orig)/p(target), before minus after "
          "erasing (mean +- standard error; larger is better):")
    for row in [header, ["-" * w for w in widths]] + table:
        print("  ".join(("%-*s" if c == 0 else "%*s") % (widths[c], row[c])
                        for c in range(len(row))).rstrip())
    path = os.path.join(args.out, "mnist_results.tsv")
    with open(path, "w") as handle:
        handle.write("\t".join(header) + "\n")
        for row in table:
            handle.write("\t".join(row) + "\n")
    print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
