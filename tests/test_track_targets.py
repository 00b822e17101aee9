"""Multi-bin, multi-track targets (Enformer / Borzoi-style outputs (N,
bins, tracks)): deeplift.targets.track_target, and ``deeplift contribs
--genome --regions --target track:T --bins central:K`` end to end on a
small Enformer-shaped conv model and a generated genome: contributions
sum to the change of the chosen track's logits (before the softplus)
summed over the chosen bins, from Keras' own forward pass."""
import numpy as np
import pytest
import keras
import tensorflow as tf

from deeplift.cli import main
from deeplift.targets import (parse_track_target, track_target,
                              track_weights)
from tests.genomics_helpers import write_genome, write_peaks

LENGTH, BINS, TRACKS = 64, 8, 3


def enformer_like():
    """Conv stem, a residual conv block, pooling to 8 bins, a pointwise
    head and softplus: (None, 64, 4) -> (None, 8, 3)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((LENGTH, 4), name="sequence")
    h = keras.layers.Conv1D(8, 5, padding="same", name="stem")(x)
    h = keras.layers.MaxPooling1D(2, name="pool1")(h)
    r = keras.layers.Activation("gelu", name="gelu1")(h)
    r = keras.layers.Conv1D(8, 3, padding="same", name="conv1")(r)
    h = keras.layers.Add(name="res1")([h, r])
    h = keras.layers.AveragePooling1D(4, name="pool2")(h)
    h = keras.layers.Conv1D(6, 1, activation="relu", name="pointwise")(h)
    out = keras.layers.Conv1D(TRACKS, 1, activation="softplus",
                              name="heads")(h)
    model = keras.Model(x, out)
    rng = np.random.RandomState(1)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-0.5, 0.5, w.shape)
                               for w in layer.get_weights()])
    return model


def logits(model, x):
    """The (N, bins, tracks) output before the final softplus, by Keras."""
    body = keras.Model(model.input, model.get_layer("pointwise").output)
    kernel, bias = model.get_layer("heads").get_weights()
    return np.einsum("nbc,ct->nbt", body(x).numpy(), kernel[0]) + bias


def test_weights_and_forms():
    assert parse_track_target("track:2") == (2, "all")
    assert parse_track_target("track:2:central:4") == (2, "central:4")
    for bad in ("track:x", "track:1:middle:2", "track:1:central:0"):
        with pytest.raises(ValueError):
            parse_track_target(bad)
    w = track_weights((1, 8, 3), 1, "central:3")
    assert w.sum() == 3 and w[0, 2:5, 1].tolist() == [1, 1, 1]
    fn = track_target(1, "central:3")
    assert fn is track_target(1, 3)          # one object: traced once
    np.testing.assert_array_equal(
        fn(tf.zeros((2, 8, 3)), None).numpy(), np.repeat(w, 2, 0))
    with pytest.raises(ValueError, match="3 tracks"):
        track_weights((1, 8, 3), 3)
    with pytest.raises(ValueError, match="8 bins"):
        track_weights((1, 8, 3), 0, "central:9")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tracks")
    model = enformer_like()
    path = tmp / "enformer_like.keras"
    model.save(path)
    write_genome(tmp / "genome.fa", {"chr1": 500, "chr2": 300}, seed=2)
    write_peaks(tmp / "peaks.narrowPeak", [("chr1", 50, 150, 40),
                                           ("chr1", 200, 320, 60),
                                           ("chr2", 100, 180, 30)])
    return dict(model=model, path=path, tmp=tmp)


def _run(argv, capfd):
    status = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return status, out, err


@pytest.mark.parametrize("bins,selected", [(None, slice(0, BINS)),
                                           ("central:4", slice(2, 6))])
def test_cli_genome_regions_track_target(setup, capfd, bins, selected):
    out = setup["tmp"] / ("scores_%s.npz" % (bins or "all").replace(":",
                                                                     "_"))
    argv = ["contribs", setup["path"], "--genome",
            setup["tmp"] / "genome.fa", "--regions",
            setup["tmp"] / "peaks.narrowPeak", "--target", "track:1",
            "--method", "rescale", "--reference", "zeros", "--out", out,
            "--quiet"] + (["--bins", bins] if bins else [])
    status, _, err = _run(argv, capfd)
    assert status == 0, err
    data = np.load(out)
    x, hyp = data["onehot"], data["hypothetical"]
    assert x.shape == (3, LENGTH, 4)
    y = logits(setup["model"], x)[:, selected, 1].sum(axis=1)
    y0 = logits(setup["model"], np.zeros_like(x))[:, selected, 1].sum(
        axis=1)
    total = (x * hyp).sum(axis=(1, 2))
    scale = np.abs(x * hyp).sum(axis=(1, 2)) + 1e-3
    # float32: 1e-4 of the contribution scale
    np.testing.assert_allclose(total / scale, (y - y0) / scale, atol=1e-4,
                               rtol=0)
    # the choice of bins matters (the check can fail)
    other = logits(setup["model"], x)[:, :1, 1].sum(axis=1) - \
        logits(setup["model"], np.zeros_like(x))[:, :1, 1].sum(axis=1)
    assert np.abs(other - (y - y0)).max() > 1e-3


def test_python_equals_cli_numbers(setup, capfd):
    from deeplift import genomics
    from deeplift.multiref import MultiRefScorer
    x = np.eye(4, dtype="float32")[np.random.RandomState(0).randint(
        0, 4, (2, LENGTH))]
    hyp, _ = genomics.score_sequences(
        str(setup["path"]), x, method="rescale", reference="zeros",
        target="track:2:central:2", progress=False)
    model = genomics.load_model(str(setup["path"]), method="rescale")
    direct = MultiRefScorer(model, target_layer="preact_heads_0").run(
        x, np.zeros((2, 1, LENGTH, 4), "float32"), hypothetical=True,
        target_weights=track_target(2, "central:2")).hypothetical_contribs
    np.testing.assert_allclose(hyp, direct, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args,expected", [
    (["--target", "track:9"], "track 9 asked of an output with 3 tracks"),
    (["--target", "track:1", "--bins", "central:20"],
     "central:20 bins asked of an output with 8 bins"),
    (["--target", "track:1", "--bins", "middle"], "--bins must be 'all'"),
    (["--bins", "central:2"], "--bins goes with --target track:T"),
    (["--target", "tracks"], "--target must be counts, profile or track:T"),
    (["--target", "track:1", "--task", "2"], "--task does not apply"),
])
def test_cli_errors(setup, capfd, args, expected):
    out = setup["tmp"] / "never.npz"
    status, _, err = _run(["contribs", setup["path"], "--genome",
                           setup["tmp"] / "genome.fa", "--regions",
                           setup["tmp"] / "peaks.narrowPeak", "--out", out,
                           "--method", "rescale", "--quiet"] + args, capfd)
    lines = [l for l in err.strip().splitlines()
             if l.startswith("deeplift: error: ")]
    assert status == 2 and len(lines) == 1 and expected in lines[0], err
    assert not out.exists()
