"""GraphModel.get_target_contribs_func with the README's Quick start
arguments (find_scores_layer_idx / target_layer_idx) and with the plain
Keras name of a layer with an activation as the target (issue 21)."""
import numpy as np
import pytest

from deeplift.layers import NonlinearMxtsMode
from deeplift.conversion import kerasapi_conversion as kc


@pytest.fixture(scope="module")
def keras_functional(tmp_path_factory):
    import keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((10, 4), name="seq")
    x = keras.layers.Conv1D(3, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(2, name="logits")(x)
    out = keras.layers.Activation("sigmoid", name="prob")(x)
    fused = keras.layers.Dense(2, activation="sigmoid", name="out2")(
        keras.layers.Flatten()(inp))
    path = str(tmp_path_factory.mktemp("m") / "f.h5")
    keras.Model(inp, [out]).save(path)
    path2 = str(tmp_path_factory.mktemp("m") / "g.h5")
    keras.Model(inp, [fused]).save(path2)
    rng = np.random.RandomState(0)
    x = np.eye(4, dtype="float32")[rng.randint(0, 4, (5, 10))]
    return path, path2, x


def _convert(path):
    return kc.convert_model_from_saved_files(
        h5_file=path,
        nonlinear_mxts_mode=NonlinearMxtsMode.DeepLIFT_GenomicsDefault)


def _pre_activation_output(path, x):
    """Keras' own output of the layer before the final sigmoid, from the
    probabilities: logit(p)."""
    import keras
    p = keras.models.load_model(path, compile=False).predict(x, verbose=0)
    p = p.astype("float64")
    return np.log(p / (1 - p))


@pytest.mark.parametrize("which", [0, 1], ids=["separate_act", "fused_act"])
def test_quick_start_indices_on_a_functional_model(keras_functional, which):
    """The README's Quick start call (find_scores_layer_idx=0,
    target_layer_idx=-2) works on a Keras 3 functional model: it scores
    the input against the logits (the layer before the output's
    activation), the same as naming them, and the contributions of a zero
    reference sum to the logits' difference computed by Keras."""
    path, x = keras_functional[which], keras_functional[2]
    model = _convert(path)
    by_idx = model.get_target_contribs_func(find_scores_layer_idx=0,
                                            target_layer_idx=-2)
    name = "logits" if which == 0 else "out2"
    by_name = model.get_target_contribs_func(
        find_scores_layer_name=model.get_input_layer_names()[0],
        pre_activation_target_layer_name=name)   # plain Keras name
    assert by_idx.scorer.target_layer is by_name.scorer.target_layer
    if which == 0:
        # the plain name of the separate Activation layer means the layer
        # before it, as the argument's name says
        by_act = model.get_target_contribs_func(
            find_scores_layer_idx=0, pre_activation_target_layer_name="prob")
        assert by_act.scorer.target_layer is by_idx.scorer.target_layer
        assert by_idx.scorer.target_layer.get_name() == "logits_0"
    ref = np.zeros_like(x)
    for task in (0, 1):
        got = by_idx(task_idx=task, input_data_list=[x],
                     input_references_list=[ref], batch_size=5,
                     progress_update=None)
        np.testing.assert_array_equal(
            got, by_name(task_idx=task, input_data_list=[x],
                         input_references_list=[ref], batch_size=5,
                         progress_update=None))
        logits = _pre_activation_output(path, x)[:, task]
        logits_ref = _pre_activation_output(path, ref[:1])[:, task]
        # float32 forward passes and logit(sigmoid(z)) in float64: the sum
        # of 40 float32 contributions and the recovered logits agree to
        # ~1e-5 relative; 1e-4 absolute leaves room for both.
        np.testing.assert_allclose(got.reshape(len(x), -1).sum(1),
                                   logits - logits_ref, atol=1e-4)


def test_activation_node_name_still_refused_with_the_layer_before(
        keras_functional):
    """A converted node name of an activation (not the plain Keras name)
    is refused as in 0.6.13, and the error names the layer to use."""
    model = _convert(keras_functional[1])
    with pytest.raises(RuntimeError, match="activation layer.*'preact_out2_0'"):
        model.get_target_contribs_func(
            find_scores_layer_idx=0,
            pre_activation_target_layer_name="out2_0")


def test_missing_or_doubled_arguments_are_clear(keras_functional):
    model = _convert(keras_functional[0])
    with pytest.raises(TypeError, match="missing the target layer.*"
                       "pre_activation_target_layer_name or "
                       "target_layer_idx"):
        model.get_target_contribs_func(find_scores_layer_idx=0)
    with pytest.raises(TypeError, match="either find_scores_layer_name or "
                       "find_scores_layer_idx, not both"):
        model.get_target_contribs_func(find_scores_layer_idx=0,
                                       find_scores_layer_name="seq_0",
                                       target_layer_idx=-2)
