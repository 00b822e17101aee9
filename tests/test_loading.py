"""Safe loading of saved models that do not convert from their configs
alone (deeplift.conversion.loading): Keras' own modules only unless the
user names a package (a crafted ``.keras`` file naming a module that
writes a file on import proves nothing runs), Lambda code only with
trust, the live layers handed to the converter, and the CLI's one-line
errors (exit 2, nothing written)."""
import json
import os
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import keras

from deeplift.cli import main
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.conversion import loading, readers
from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.conversion.placeholder import Placeholder

PACKAGE = "dl_marker_pkg"


def _has_tracing():
    try:
        import deeplift.conversion.tracing  # noqa: F401
    except ImportError:
        return False
    return True

#: a package that writes ``marker`` when imported and registers the layer
#: class ``Twice`` (x -> 2x) with Keras
PACKAGE_SOURCE = '''
import os
with open(os.environ["DL_MARKER_FILE"], "a") as handle:
    handle.write("imported")
import keras

@keras.saving.register_keras_serializable(package="dl_marker_pkg")
class Twice(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x
'''


@pytest.fixture()
def marker_package(tmp_path, monkeypatch):
    """(package directory on sys.path, marker path); the package is
    removed from sys.modules afterwards."""
    root = tmp_path / "site"
    (root / PACKAGE).mkdir(parents=True)
    (root / PACKAGE / "__init__.py").write_text(textwrap.dedent(
        PACKAGE_SOURCE))
    marker = tmp_path / "imported.txt"
    monkeypatch.setenv("DL_MARKER_FILE", str(marker))
    monkeypatch.syspath_prepend(str(root))
    yield root, marker
    for name in list(sys.modules):
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            del sys.modules[name]


def _dna_model(extra=None):
    x = keras.Input((12, 4), name="sequence")
    h = keras.layers.Conv1D(3, 3, activation="relu", name="conv")(x)
    if extra is not None:
        h = extra(h)
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    return keras.Model(x, keras.layers.Dense(1, name="out")(h))


def _two_heads():
    x = keras.Input((12, 4), name="sequence")
    h = keras.layers.Conv1D(3, 3, activation="relu", name="conv")(x)
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    a = keras.layers.Dense(1, name="a")(h)
    b = keras.layers.Activation("linear", name="twice")(h)
    return keras.Model(x, [a, b])


def _crafted_keras_file(tmp_path, model=None):
    """A ``.keras`` archive whose config names ``dl_marker_pkg.layers``
    for its layer ``twice`` (written by editing a plain model's config: no
    such class exists in this process)."""
    model = model or _dna_model(keras.layers.Activation("linear",
                                                        name="twice"))
    path = tmp_path / "plain.keras"
    model.save(path)
    crafted = tmp_path / "crafted.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(crafted, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for entry in config["config"]["layers"]:
                    if entry["name"] == "twice":
                        entry.update(module=PACKAGE + ".layers",
                                     class_name="Twice",
                                     registered_name=PACKAGE + ">Twice")
                        entry["config"].pop("activation")
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return crafted


def test_model_that_converts_is_not_loaded(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    _dna_model().save(path)

    def refuse(*args, **kwargs):
        raise AssertionError("Keras loading was attempted")
    monkeypatch.setattr(loading, "load_with_keras", refuse)
    config, _ = readers.read_saved_files(str(path))
    assert loading.unconverted_layers(config) == {}
    assert loading.keras_layers_for(config, str(path)) is None
    kc.convert_model_from_saved_files(str(path), verbose=False)


def test_unnamed_module_is_never_imported(tmp_path, marker_package):
    _, marker = marker_package
    path = _crafted_keras_file(tmp_path)
    config, _ = readers.read_saved_files(str(path))
    assert loading.unconverted_layers(config) == {"Twice": ["twice"]}
    with pytest.raises(loading.ModelLoadingError) as info:
        kc.convert_model_from_saved_files(str(path), verbose=False)
    message = str(info.value)
    assert "'dl_marker_pkg.layers'" in message
    assert "Twice (layer twice)" in message
    assert "import_packages=['dl_marker_pkg']" in message
    assert "--import dl_marker_pkg" in message
    assert not marker.exists() and PACKAGE not in sys.modules


def test_unnamed_module_in_one_head_keeps_the_other(tmp_path,
                                                    marker_package, caplog):
    """Nothing is imported; the head that needs the class is a
    placeholder, the other converts, and a warning names the module."""
    _, marker = marker_package
    path = _crafted_keras_file(tmp_path, _two_heads())
    with caplog.at_level("WARNING"):
        model = kc.convert_model_from_saved_files(str(path), verbose=False)
    assert isinstance(model.get_layer("twice_0"), Placeholder)
    model.get_prediction_function(["sequence_0"], "a_0")(
        [np.zeros((1, 12, 4), "float32")], batch_size=1)
    assert "--import dl_marker_pkg" in caplog.text
    assert not marker.exists() and PACKAGE not in sys.modules


def _spy_on_converter_options(monkeypatch):
    """A dict that receives (key ``"options"``) the ConversionOptions the
    next conversion builds its Converter with."""
    seen = {}
    original = kc.Converter

    class Spy(original):
        def __init__(self, options):
            seen["options"] = options
            super(Spy, self).__init__(options)
    monkeypatch.setattr(kc, "Converter", Spy)
    return seen


def test_named_package_is_imported_and_layers_handed_over(
        tmp_path, marker_package, monkeypatch):
    _, marker = marker_package
    path = _crafted_keras_file(tmp_path)
    seen = _spy_on_converter_options(monkeypatch)
    try:
        kc.convert_model_from_saved_files(
            str(path), verbose=False, import_packages=[PACKAGE])
    except UnsupportedLayerError:
        # without the tracing engine the class stays unsupported
        assert not _has_tracing()
    assert marker.read_text() == "imported"
    live = seen["options"].keras_layers
    assert type(live["twice"]).__name__ == "Twice"
    assert type(live["twice"]).__module__ == PACKAGE
    assert {"sequence", "conv", "gap", "out"} <= set(live)


def test_missing_package_is_one_error(tmp_path):
    path = _crafted_keras_file(tmp_path)
    with pytest.raises(loading.ModelLoadingError,
                       match="cannot import package 'dl_marker_pkg'"):
        kc.convert_model_from_saved_files(
            str(path), verbose=False, import_packages=[PACKAGE])


def _lambda_model_file(tmp_path, marker):
    fn = eval("lambda t: (open(%r, 'a').write('ran'), t * 2.0)[1]"
              % str(marker))
    model = _dna_model(keras.layers.Lambda(fn, name="double"))
    if marker.exists():
        marker.unlink()
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path


def test_lambda_runs_only_with_trust(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    path = _lambda_model_file(tmp_path, marker)
    model = None
    with pytest.raises(UnsupportedLayerError, match="double"):
        kc.convert_model_from_saved_files(str(path), verbose=False)
    assert not marker.exists()
    seen = _spy_on_converter_options(monkeypatch)
    try:
        model = kc.convert_model_from_saved_files(str(path), verbose=False,
                                                  trust_model=True)
    except UnsupportedLayerError:
        assert not _has_tracing()   # traced once the tracing engine is there
    live = seen["options"].keras_layers
    assert isinstance(live["double"], keras.layers.Lambda)
    live["double"](np.ones((1, 3), "float32"))
    assert marker.exists()    # the check can fail: the code is live
    del model


def test_lambda_only_model_keeps_other_outputs(tmp_path):
    """Without trust a Lambda is a placeholder; outputs that do not need
    it still score (ChromBPNet's profile head: tests/test_chrombpnet_full)."""
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(3, name="h")(x)
    a = keras.layers.Dense(2, name="a")(h)
    b = keras.layers.Lambda(lambda t: t * 2.0, name="b")(h)
    path = tmp_path / "two.keras"
    keras.Model(x, [a, b]).save(path)
    model = kc.convert_model_from_saved_files(str(path), verbose=False)
    assert isinstance(model.get_layer("b_0"), Placeholder)


def _cli(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    lines = [l for l in err.strip().splitlines()
             if l.startswith("deeplift: error: ")]
    return status, out, err, lines


@pytest.fixture()
def onehot(tmp_path):
    path = tmp_path / "x.npy"
    rng = np.random.RandomState(0)
    np.save(path, np.eye(4, dtype="float32")[rng.randint(0, 4, (2, 12))])
    return path


def test_cli_unnamed_module(tmp_path, marker_package, onehot, capfd):
    _, marker = marker_package
    path = _crafted_keras_file(tmp_path)
    out = tmp_path / "scores.npz"
    status, _, err, lines = _cli(["contribs", path, "--npy", onehot,
                                  "--out", out, "--quiet"], capfd)
    assert status == 2 and len(lines) == 1, err
    assert "dl_marker_pkg.layers" in lines[0]
    assert "--import dl_marker_pkg" in lines[0]
    assert not out.exists() and not marker.exists()
    status, _, err, lines = _cli(["convert", path], capfd)
    assert status == 2 and len(lines) == 1, err
    assert "--import dl_marker_pkg" in lines[0]
    assert not marker.exists()


def test_cli_missing_package(tmp_path, onehot, capfd):
    path = _crafted_keras_file(tmp_path)
    out = tmp_path / "scores.npz"
    status, _, err, lines = _cli(["contribs", path, "--npy", onehot,
                                  "--import", PACKAGE, "--out", out,
                                  "--quiet"], capfd)
    assert status == 2 and len(lines) == 1, err
    assert "cannot import package 'dl_marker_pkg'" in lines[0]
    assert not out.exists()


def test_cli_lambda_without_trust(tmp_path, onehot, capfd):
    marker = tmp_path / "ran.txt"
    path = _lambda_model_file(tmp_path, marker)
    out = tmp_path / "scores.npz"
    status, _, err, lines = _cli(["contribs", path, "--npy", onehot,
                                  "--out", out, "--quiet"], capfd)
    assert status == 2 and len(lines) == 1, err
    assert "double" in lines[0] and "--trust-model" in lines[0]
    assert not out.exists() and not marker.exists()
    assert not os.path.exists(str(out))


def test_registered_function_of_another_package_needs_keras(tmp_path):
    """A known class (Activation) whose config names another package's
    registered function (CREsted's ``crested>gelu_enf``) is not converted
    from its config: the module rule applies."""
    path = tmp_path / "plain.keras"
    _dna_model(keras.layers.Activation("gelu", name="act")).save(path)
    config, _ = readers.read_saved_files(str(path))
    assert loading.unconverted_layers(config) == {}
    for name, entry in loading.walk_layers(config):
        if name == "act":
            entry["config"]["activation"] = {
                "module": "crested.tl.zoo.utils", "class_name": "function",
                "config": "gelu_enf", "registered_name": "crested>gelu_enf"}
    assert loading.unconverted_layers(config) == {"Activation": ["act"]}
    with pytest.raises(loading.ModelLoadingError,
                       match="'crested.tl.zoo.utils'.*--import crested"):
        loading.keras_layers_for(config, str(path))
