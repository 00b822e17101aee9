"""Train the small genomics model shipped as
``deeplift/data/demo_genomics_model.h5`` (used by ``deeplift demo``).

The data come from :func:`deeplift.genomics.simulate_sequences` (GATA and
TAL1 motifs in random background; tasks: both motifs, GATA, TAL1), with a
seed different from the demo's.  The model is a small 1-D CNN::

    Conv1D(32, 11) -> ReLU -> MaxPool1D(4) -> Conv1D(16, 5) -> ReLU
    -> GlobalAveragePooling1D -> Dense(16) -> ReLU -> Dense(3) -> sigmoid

It is saved as a Keras ``.h5`` file, which
``deeplift.conversion.kerasapi_conversion.convert_model_from_saved_files``
reads without Keras.  Takes about a minute on 2 CPU cores::

    python examples/genomics/train_demo_model.py [--out PATH] [--n 20000]
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "deeplift", "data", "demo_genomics_model.h5")


def build_model(keras, length=200):
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(length, 4)),
        layers.Conv1D(32, 11, name="conv1"),
        layers.Activation("relu", name="relu1"),
        layers.MaxPooling1D(4, name="pool1"),
        layers.Conv1D(16, 5, name="conv2"),
        layers.Activation("relu", name="relu2"),
        layers.GlobalAveragePooling1D(name="gap"),
        layers.Dense(16, name="dense1"),
        layers.Activation("relu", name="relu3"),
        layers.Dense(3, name="dense_out"),
        layers.Activation("sigmoid", name="sigmoid"),
    ], name="demo_genomics_model")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--n", type=int, default=20000,
                        help="number of training sequences")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import keras
    from deeplift import genomics

    keras.utils.set_random_seed(args.seed)
    t0 = time.time()
    seqs, labels, _ = genomics.simulate_sequences(args.n, seed=args.seed)
    x = genomics.one_hot_encode(seqs)
    y = labels.astype("float32")
    vseqs, vlabels, _ = genomics.simulate_sequences(1000,
                                                    seed=args.seed + 1)
    vx = genomics.one_hot_encode(vseqs)

    model = build_model(keras)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="binary_crossentropy", metrics=["binary_accuracy"])
    model.fit(x, y, batch_size=128, epochs=args.epochs,
              validation_data=(vx, vlabels.astype("float32")), verbose=2)
    pred = model.predict(vx, verbose=0)
    for task, name in enumerate(genomics.TASK_NAMES):
        print("validation AUROC task %d (%s): %.4f"
              % (task, name, genomics.auroc(pred[:, task],
                                            vlabels[:, task])))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    keras.saving.save_model(model, args.out, include_optimizer=False)

    # the converter must read the file and reproduce Keras' forward pass
    from deeplift.conversion import kerasapi_conversion as kc
    dl = kc.convert_model_from_saved_files(args.out, verbose=False)
    ours = dl.get_prediction_function(0, -1)([vx[:200]], batch_size=200)
    diff = float(np.max(np.abs(ours - pred[:200])))
    print("saved %s (%d bytes); deeplift vs keras max abs diff %.2e; "
          "%.1f s" % (args.out, os.path.getsize(args.out), diff,
                      time.time() - t0))
    if diff > 1e-4:
        sys.exit("conversion check failed")


if __name__ == "__main__":
    main()
