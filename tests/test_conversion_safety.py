"""Never run code from a model file: a crafted Keras 2 .h5 whose Lambda
writes a file when executed is converted (the Lambda head a placeholder)
and reported by ``deeplift convert`` without the file being written; only
``--trust-model`` lets Keras load (and so run) it."""
import numpy as np
import pytest

from deeplift.cli import main
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion import readers, report
from deeplift.conversion.placeholder import Placeholder

tf_keras = pytest.importorskip("tf_keras")


@pytest.fixture()
def crafted(tmp_path):
    """(model file, marker): a tf_keras two-head model whose Lambda head
    writes ``marker`` each time its function runs."""
    marker = tmp_path / "ran.txt"
    # the path is a constant of the function's own bytecode, so the
    # marshalled function writes it wherever it is run
    fn = eval("lambda t: (open(%r, 'a').write('ran'), t * 2.0)[1]"
              % str(marker))
    inp = tf_keras.Input((4,), name="x")
    h = tf_keras.layers.Dense(3, name="h")(inp)
    profile = tf_keras.layers.Dense(2, name="profile")(h)
    counts = tf_keras.layers.Lambda(fn, name="counts")(h)
    model = tf_keras.Model(inp, [profile, counts])
    path = tmp_path / "crafted.h5"
    model.save(path)
    assert marker.exists()  # building the model ran it
    marker.unlink()
    return path, marker


def _cli(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


def test_converter_runs_no_code(crafted):
    path, marker = crafted
    model = kc.convert_model_from_saved_files(path, verbose=False)
    assert isinstance(model.get_layer("counts_0"), Placeholder)
    x = np.ones((2, 4), dtype="float32")
    model.get_prediction_function(["x_0"], "profile_0")([x], batch_size=2)
    assert report.code_bearing_layers(
        readers.read_saved_files(path)[0]) == ["counts"]
    with pytest.raises(report.UnsafeModelError, match="counts"):
        report.load_keras_model(str(path))
    assert not marker.exists()


def test_cli_convert_refuses_code_bearing_model(crafted, capfd):
    path, marker = crafted
    status, out, err = _cli(["convert", path], capfd)
    assert status == 0, err
    assert not marker.exists()
    assert "Placeholder(Lambda)" in out
    assert "not converted: Keras class Lambda has no conversion" in out
    check = [l for l in out.splitlines() if l.startswith("keras check:")]
    assert len(check) == 1 and check[0].startswith(
        "keras check: refused") and "--trust-model" in check[0]


def test_cli_convert_trust_model_loads_and_checks(crafted, capfd):
    """The check above can fail: with --trust-model Keras loads the model,
    which runs the Lambda (the marker appears); the Lambda is then traced,
    so every output is converted and compared with Keras."""
    path, marker = crafted
    status, out, err = _cli(["convert", path, "--trust-model"], capfd)
    assert status == 0, err
    assert marker.exists()
    check = [l for l in out.splitlines() if l.startswith("keras check:")]
    assert "placeholder" not in check[0] and "outputs" not in check[0]
    # float32 forward passes of the same ops: equal to rounding
    assert float(check[0].rsplit(":", 1)[1]) < 1e-5
