"""deeplift convert: the layer table shows the rules deeplift contribs
uses, and a forward check against Keras that fails is an error (one line,
exit status 2) naming the side that failed, not "skipped"."""
import numpy as np
import tensorflow as tf

import keras

from deeplift.cli import DEMO_MODEL, build_parser, main
from deeplift.layers import convolutional


def run(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


def test_table_shows_the_maxpool_rule_contribs_uses(capfd):
    contribs = build_parser().parse_args(
        ["contribs", DEMO_MODEL, "--fasta", "x.fa", "--out", "o.npz"])
    status, out, err = run(["convert", DEMO_MODEL, "--no-keras-check"],
                           capfd)
    assert status == 0, err
    assert "maxpool=%s" % contribs.maxpool_mode in out
    assert contribs.maxpool_mode == "summation_to_delta"
    assert "maxpool=gradient" not in out
    status, out, _ = run(["convert", DEMO_MODEL, "--no-keras-check",
                          "--maxpool-mode", "gradient"], capfd)
    assert status == 0 and "maxpool=gradient" in out


def test_deeplift_forward_failure_is_an_error(capfd, monkeypatch):
    """A kernel error in deeplift's forward pass (TensorFlow's message
    shape: "Graph execution error:", the node's traceback, the kernel's
    message, the node) gives one line with the kernel's message."""
    message = ("Graph execution error:\n\nDetected at node conv defined at "
               "(most recent call last):\n  File \"x.py\", line 1, in f\n\n"
               "Kernel cannot run this case\n\t [[{{node conv}}]] "
               "[Op:__inference_f_1]")

    def failing(self, x, kernel):
        raise tf.errors.InvalidArgumentError(None, None, message)

    def converted(*args, **kwargs):
        # the conversion itself is untouched; only the forward pass fails
        model = original(*args, **kwargs)
        monkeypatch.setattr(convolutional.Conv1D, "apply_kernel", failing)
        return model

    from deeplift.cli import convert
    original = convert._load_model
    monkeypatch.setattr(convert, "_load_model", converted)
    status, out, err = run(["convert", DEMO_MODEL], capfd)
    assert status == 2
    assert err.strip() == (
        "deeplift: error: the forward check against Keras failed in "
        "deeplift's forward pass: Kernel cannot run this case "
        "(--no-keras-check skips the check)")
    assert "keras check" not in out


def test_keras_forward_failure_is_an_error(capfd, tmp_path):
    """A channels_first Conv2D: TensorFlow's Eigen CPU kernels cannot run
    Keras' own NCHW convolution (an error naming Keras), oneDNN can (then
    the check passes)."""
    inp = keras.Input((2, 6, 6))
    x = keras.layers.Conv2D(3, 3, data_format="channels_first",
                            activation="relu")(inp)
    out = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(inp, out)
    path = tmp_path / "nchw.keras"
    model.save(path)
    try:
        model.predict(np.zeros((1, 2, 6, 6), "float32"), verbose=0)
        keras_runs = True
    except tf.errors.UnimplementedError as exc:
        assert "only supports the NHWC tensor format" in str(exc)
        keras_runs = False
    status, out, err = run(["convert", path, "--method", "rescale"], capfd)
    if keras_runs:
        assert status == 0, err
        line = [l for l in out.splitlines() if l.startswith("keras check:")]
        # float32 forward passes of a small model, outputs of order 1
        assert float(line[0].rsplit(":", 1)[1]) < 1e-5
    else:
        assert status == 2
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("deeplift: error: the forward check against "
                              "Keras failed in Keras' own forward pass: "
                              "The Conv2D op currently only supports the "
                              "NHWC tensor format on the CPU")
