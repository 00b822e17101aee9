"""The CLI's front door as a new user meets it (issue 12 item 4): messages
that name CLI flags, output paths checked before any work, semantic errors
before TensorFlow is imported, custom conversions, max pooling that keeps
summation to delta, the demo without matplotlib, convert's tf_keras hint,
FASTA names."""
import os
import subprocess
import sys

import numpy as np
import pytest

from deeplift import genomics
from deeplift.cli import DEMO_MODEL, main
from tests.genomics_helpers import REPO


def run(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


def python(code, *argv):
    """Run ``code`` in a fresh interpreter (repository on the path)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), DEEPLIFT_NO_PROGRESS="1",
               TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", code] + [str(a) for a in
                                                         argv],
                          cwd=str(REPO), env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    path = tmp_path_factory.mktemp("fd") / "x.fa"
    seqs = genomics.simulate_sequences(3, seed=5)[0]
    with open(path, "w") as handle:
        for i, seq in enumerate(seqs):
            handle.write(">chr1:%d-%d strand=+ note\n%s\n" % (i, i + 200, seq))
    return path


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deeplift: error: "), err
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["--target-layer", "foo"],
     "unknown layer name 'foo' for --target-layer; the layers are: input, 1"),
    (["--find-scores-layer", "bar"],
     "unknown layer name 'bar' for --find-scores-layer"),
    (["--method", "magic"], "unknown --method 'magic'; choose from: rescale"),
    (["--target-convention", "fixed"],
     "--target-convention goes with --target profile"),
    (["--target", "counts"], "cannot tell the counts head of this model"),
    (["--out", "/proc/deeplift_test_out.npz"], "cannot write --out /proc/"),
    (["--custom-conversions", "nocolon"], "--custom-conversions takes "
     "module:name"),
])
def test_errors_name_cli_flags(args, expected, fasta, capfd, tmp_path):
    argv = ["contribs", DEMO_MODEL, "--fasta", fasta, "--quiet"] + args
    if "--out" not in args:
        argv += ["--out", tmp_path / "o.npz"]
    status, _, err = run(argv, capfd)
    assert status == 2
    assert expected in one_error_line(err)
    assert not (tmp_path / "o.npz").exists()


def test_file_in_the_directory_part_is_named(fasta, capfd, tmp_path):
    (tmp_path / "afile").write_text("")
    status, _, err = run(["contribs", DEMO_MODEL, "--fasta", fasta, "--out",
                          tmp_path / "afile" / "sub" / "o.npz"], capfd)
    assert status == 2
    assert ("%s is a file, not a directory" % (tmp_path / "afile")) in \
        one_error_line(err)


def test_semantic_errors_before_tensorflow(fasta, tmp_path):
    code = ("import sys; from deeplift.cli import main; "
            "rc = main(sys.argv[1:]); "
            "print('tensorflow imported:', 'tensorflow' in sys.modules); "
            "sys.exit(rc)")
    for extra, expected in ((["--method", "magic"], "unknown --method"),
                            (["--reference", "shuffle"],
                             "unknown --reference"),
                            (["--fasta", tmp_path / "none.fa"],
                             "does not exist"),
                            (["--out", tmp_path / "no" / "o.npz"],
                             "does not exist")):
        argv = ["contribs", DEMO_MODEL, "--fasta", fasta, "--out",
                tmp_path / "o.npz"] + extra
        result = python(code, *argv)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert "tensorflow imported: False" in result.stdout


CUSTOM = '''
import deeplift.layers as layers

def scaled_dense(config, name, verbose, dense_mxts_mode, **kwargs):
    kernel, bias = config["weights"]
    return [layers.Dense(kernel=config["scale"] * kernel,
                         bias=config["scale"] * bias,
                         dense_mxts_mode=dense_mxts_mode, name=name,
                         verbose=verbose)]

CONVERSIONS = {"ScaledDense": scaled_dense}
'''


def test_unsupported_layers_listed_and_custom_conversions(tmp_path, capfd,
                                                          monkeypatch):
    """A model with a custom layer: the error names its class and layer and
    the flag; --custom-conversions module:NAME converts it, and the scores
    equal the Python API's with the same conversion."""
    import keras
    sys.path.insert(0, os.path.join(str(REPO), "examples", "custom_layer"))
    try:
        import convert_custom_layer as example
    finally:
        sys.path.pop(0)
    inp = keras.Input((12, 4))
    flat = keras.layers.Flatten()(inp)
    hidden = keras.layers.Dense(5, activation="relu")(flat)
    out = example.ScaledDense(2, scale=3.0, name="scaled")(hidden)
    path = str(tmp_path / "custom.keras")
    keras.Model(inp, out).save(path)
    onehot = np.eye(4, dtype=np.float32)[
        np.random.RandomState(0).randint(0, 4, (3, 12))]
    np.save(tmp_path / "x.npy", onehot)
    argv = ["contribs", path, "--npy", tmp_path / "x.npy", "--reference",
            "zeros", "--target-layer", "scaled_0", "--quiet", "--out",
            tmp_path / "o.npz"]
    status, _, err = run(argv, capfd)
    assert status == 2
    line = one_error_line(err)
    assert "ScaledDense (layer scaled)" in line
    assert "--custom-conversions MODULE:NAME" in line
    (tmp_path / "my_conversions.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    status, _, err = run(argv + ["--custom-conversions",
                                 "my_conversions:CONVERSIONS"], capfd)
    assert status == 0, err
    import my_conversions
    model = genomics.load_model(
        path, method="genomics_default",
        maxpool_deeplift_mode="summation_to_delta",
        custom_conversion_funcs=my_conversions.CONVERSIONS)
    expected, _ = genomics.score_sequences(model, onehot, reference="zeros",
                                           target_layer="scaled_0",
                                           progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npz")["hypothetical"],
                                  expected)
    status, _, err = run(argv + ["--custom-conversions",
                                 "my_conversions:NOPE"], capfd)
    assert status == 2 and "has no 'NOPE'" in one_error_line(err)


def test_maxpool_default_keeps_summation_to_delta(fasta, capfd, tmp_path):
    """The CLI converts max pooling with summation_to_delta (0.6.13's API
    keeps gradient); --maxpool-mode gradient breaks summation to delta on
    the demo model, and the CLI says so."""
    base = ["contribs", DEMO_MODEL, "--fasta", fasta, "--reference",
            "dinuc-shuffle:3", "--out", tmp_path / "o.npz", "--quiet"]
    status, _, err = run(base, capfd)
    assert status == 0 and "warning" not in err
    settings = np.load(tmp_path / "o.npz")["settings"][0]
    assert '"maxpool_mode": "summation_to_delta"' in settings
    status, _, err = run(base + ["--maxpool-mode", "gradient"], capfd)
    assert status == 0
    assert "warning: contributions do not add up to the output difference" \
        in err and "--maxpool-mode summation_to_delta keeps it" in err
    # independent check of the default: contributions of the converted
    # model sum to the change of the target (zeros reference, task 0)
    model = genomics.load_model(DEMO_MODEL,
                                maxpool_deeplift_mode="summation_to_delta")
    x = genomics.one_hot_encode(genomics.read_fasta(fasta)[1])
    _, contribs = genomics.score_sequences(model, x, reference="zeros",
                                           progress=False)
    predict = model.get_prediction_function(0, 9)       # pre-sigmoid dense
    delta = predict([x], 8)[:, 0] - predict([np.zeros_like(x)], 8)[:, 0]
    np.testing.assert_allclose(contribs.sum(axis=(1, 2)), delta, rtol=1e-4,
                               atol=1e-5)


def test_fasta_names_are_the_first_word(fasta, capfd, tmp_path):
    status, _, _ = run(["contribs", DEMO_MODEL, "--fasta", fasta,
                        "--reference", "zeros", "--out", tmp_path / "o.npz",
                        "--quiet"], capfd)
    assert status == 0
    assert np.load(tmp_path / "o.npz")["names"].tolist() == [
        "chr1:0-200", "chr1:1-201", "chr1:2-202"]


@pytest.mark.slow   # the whole demo in a subprocess
def test_demo_without_matplotlib_prints_the_table(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "from deeplift.cli import main; sys.exit(main(sys.argv[1:]))")
    result = python(code, "demo", "--n", "12", "--quiet", "--out",
                    tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert "DeepLIFT genomics default" in result.stdout
    assert "the sequence logos need matplotlib: pip install " \
        "'deeplift[viz]'" in result.stdout
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == \
        ["demo_results.tsv"]


def test_convert_says_how_to_check_keras2_files(capfd, monkeypatch):
    """When neither Keras can load a file and tf_keras is missing, the
    check line says how to get it."""
    from deeplift.conversion import report

    def cannot_load(*args, **kwargs):
        return None, ("tf_keras: not importable (ModuleNotFoundError); "
                      "keras: Could not deserialize the model")
    monkeypatch.setattr(report, "load_keras_model", cannot_load)
    status, out, _ = run(["convert", DEMO_MODEL], capfd)
    assert status == 0
    line = [l for l in out.splitlines() if l.startswith("keras check:")][0]
    assert line.startswith("keras check: skipped (Keras cannot load")
    assert line.endswith("; for Keras 2 (.h5) files: pip install tf_keras")
    monkeypatch.undo()
    status, out, _ = run(["convert", DEMO_MODEL], capfd)
    assert "pip install tf_keras" not in out and "max abs difference" in out


def test_examples_run_without_shared_fixtures(tmp_path, capfd):
    """The genome-scale example generates its data; the fixture-based
    genomics example says clearly where its data come from."""
    sys.path.insert(0, os.path.join(str(REPO), "examples", "genomics"))
    try:
        import genome_scale_example
    finally:
        sys.path.pop(0)
    assert genome_scale_example.main(["--regions", "20", "--out",
                                      str(tmp_path / "g")]) == 0
    for name in ("scores.h5", "scores.interpreted_regions.bed",
                 "shap.ohe.npz", "shap.shap.npz", "scores.bw"):
        assert (tmp_path / "g" / name).stat().st_size > 0
    capfd.readouterr()
    result = subprocess.run(
        [sys.executable, os.path.join(str(REPO), "examples", "genomics",
                                      "genomics_example.py"),
         "--json", str(tmp_path / "none.json")], capture_output=True,
        text=True, timeout=120)
    assert result.returncode != 0
    assert "none.json does not exist (the defaults are the shared " \
        "fixtures in" in result.stderr


def test_weights_only_file_names_the_flags(fasta, capfd, tmp_path):
    """A weights-only file without --json: the message names --json /
    --yaml, not the Python arguments json_file= / yaml_file=."""
    import keras
    model = keras.Sequential([keras.Input((200, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    status, _, err = run(["contribs", path, "--fasta", fasta, "--out",
                          tmp_path / "o.npz", "--quiet"], capfd)
    assert status == 2
    line = one_error_line(err)
    assert "pass --json or --yaml" in line and "json_file" not in line
