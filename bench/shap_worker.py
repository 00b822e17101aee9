"""shap's DeepExplainer as ChromBPNet runs it, in its own process.

    python bench/shap_worker.py MODEL.h5 DATA.npz OUT.npz TARGET [REPEATS]

ChromBPNet's interpretation step disables eager execution (process-wide,
hence this separate process), loads the tf_keras model and builds
``shap.DeepExplainer((model.input, output), data_fn,
combine_mult_and_diffref=...)`` with, for the profile head, the scalar
``sum(softmax(stop_gradient(l - mean(l))) * (l - mean(l)))`` of the profile
logits ``l`` and, for the counts head, the counts output; ``data_fn``
returns the example's dinucleotide shuffles and ``combine_mult_and_diffref``
turns shap's multipliers into mean hypothetical contributions.  The same
here, with one change: ``data_fn`` returns the references stored in
DATA.npz for that example (``refs``, (N, K, L, 4), for ``x``, (N, L, 4)),
so that both tools score the same (example, reference) pairs.

TARGET: ``counts`` (model output 1), ``profile`` (model output 0), or
both, comma-separated.
Released shap has no ``combine_mult_and_diffref`` (the kundajelab fork
that ChromBPNet installs has), so the fork's per-example loop runs here on
released shap's explainer (``DeepExplainer(...).explainer``): per example,
one session run of shap's modified gradients on the example tiled K times
followed by its K references, then ChromBPNet's combination.

Writes OUT.npz with, for each target, ``hypothetical_<target>`` (N, L,
4), the mean hypothetical contributions, and ``seconds_<target>`` (the
REPEATS wall times over all N examples, after one untimed pass); and
``shap_version``, ``tf_keras_version``.
"""
import os
import sys
import time

import numpy as np


def main(argv):
    model_file, data_file, out_file, target = argv[:4]
    repeats = int(argv[4]) if len(argv) > 4 else 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # tf.keras is tf_keras (Keras 2), as in ChromBPNet's environment
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    import tf_keras
    import shap
    from shap.explainers._deep import deep_tf

    # as ChromBPNet does: its residual Adds are linear
    deep_tf.op_handlers["AddV2"] = deep_tf.passthrough
    data = np.load(data_file)
    x = data["x"].astype(np.float32)
    refs = data["refs"].astype(np.float32)
    by_example = {x[i].tobytes(): refs[i] for i in range(len(x))}

    model = tf_keras.models.load_model(model_file, compile=False)
    targets = target.split(",")
    for name in targets:
        if name not in ("counts", "profile"):
            raise SystemExit("TARGET must be counts or profile (or both, "
                             "comma-separated), got %r" % name)

    def target_output(name):
        if name == "counts":
            return model.outputs[1]
        logits = model.outputs[0]
        meannormed = logits - tf.reduce_mean(logits, axis=1)[:, None]
        weights = tf.nn.softmax(tf.stop_gradient(meannormed), axis=1)
        return tf.reduce_sum(weights * meannormed, axis=1)

    def data_fn(inputs):
        return [by_example[np.asarray(inputs[0], np.float32).tobytes()]]

    def combine_mult_and_diffref(mult, orig_inp, bg_data):
        """ChromBPNet's: mean over the references of the hypothetical
        contributions (each base's difference from the reference times
        the multipliers, summed over the channels)."""
        out = []
        for m, x_in, bg in zip(mult, orig_inp, bg_data):
            hyp = np.zeros_like(bg, dtype=np.float64)
            for base in range(x_in.shape[-1]):
                hypothetical = np.zeros_like(x_in, dtype=np.float64)
                hypothetical[:, base] = 1.0
                hyp[:, :, base] = np.sum((hypothetical[None] - bg) * m,
                                         axis=-1)
            out.append(np.mean(hyp, axis=0))
        return out

    def shap_values(name, examples):
        # the kundajelab fork of shap that ChromBPNet installs takes
        # combine_mult_and_diffref; released shap does not, so the fork's
        # per-example loop is run here on released shap's explainer: per
        # example, the example tiled K times and its K references in one
        # batch, one session run of shap's modified gradients, then the
        # combination
        inner = explainers[name]
        phi = inner.phi_symbolic(0)
        out = np.zeros(examples.shape, dtype=np.float64)
        for j in range(len(examples)):
            bg = data_fn([examples[j]])
            k = bg[0].shape[0]
            joint = [np.concatenate([np.repeat(examples[j:j + 1], k, axis=0),
                                     bg[0]])]
            mult = inner.run(phi, inner.model_inputs, joint)
            out[j] = combine_mult_and_diffref(
                [mult[0][k:]], [examples[j]], bg)[0]
        return out

    explainers = {name: shap.DeepExplainer(
        (model.input, target_output(name)), data_fn,
        session=tf.compat.v1.keras.backend.get_session()).explainer
        for name in targets}
    results = {}
    for name in targets:
        result = shap_values(name, x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            shap_values(name, x)
            times.append(time.perf_counter() - start)
        results["hypothetical_" + name] = result.astype(np.float32)
        results["seconds_" + name] = np.array(times)
    np.savez(out_file, shap_version=shap.__version__,
             tf_keras_version=tf_keras.__version__, **results)


if __name__ == "__main__":
    main(sys.argv[1:])
