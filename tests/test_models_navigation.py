"""Model navigation (outputs, default target, resolve) and the scoring
function object of deeplift.models."""
import numpy as np
import pytest

from deeplift import layers
from deeplift.models import GraphModel, SequentialModel, ScoringFunction


def _sequential():
    rng = np.random.RandomState(0)
    inp = layers.Input(batch_shape=(None, 3), name="in")
    dense = layers.Dense(kernel=rng.randn(3, 2), bias=np.zeros(2),
                         name="d").set_inputs(inp)
    act = layers.Sigmoid(name="s").set_inputs(dense)
    return SequentialModel([inp, dense, act]), inp, dense, act


def _graph():
    rng = np.random.RandomState(1)
    inp = layers.Input(batch_shape=(None, 3), name="in_0")
    a = layers.Dense(kernel=rng.randn(3, 2), bias=np.zeros(2),
                     name="a_0").set_inputs(inp)
    b = layers.Dense(kernel=rng.randn(3, 2), bias=np.zeros(2),
                     name="b_0").set_inputs(inp)
    names = {l.get_name(): l for l in (inp, a, b)}
    return GraphModel(names, ["in_0"]), inp, a, b


def test_sequential_navigation():
    model, inp, dense, act = _sequential()
    assert model.all_layers() == [inp, dense, act]
    assert model.output_layers() == [act]
    assert model.default_target() is dense      # before the activation
    assert model.resolve(1) is dense and model.resolve(-1) is act
    assert model.resolve(dense) is dense
    with pytest.raises(ValueError, match="out of range"):
        model.resolve(7)


def test_graph_navigation():
    model, inp, a, b = _graph()
    assert model.all_layers()[0] is inp
    assert set(model.output_layers()) == {a, b}
    assert model.resolve("a_0") is a
    with pytest.raises(ValueError, match="2 output layers"):
        model.default_target()
    with pytest.raises(KeyError, match="no layer named"):
        model.resolve("nope")


def test_scoring_function_is_an_object_with_its_scorer():
    model, _, dense, _ = _sequential()
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=1)
    assert isinstance(func, ScoringFunction) and func.accepts_task_lists
    x = np.array([[1.0, -2.0, 0.5]], "float32")
    got = func(task_idx=1, input_data_list=[x], batch_size=1)
    # linear target: contributions are kernel column x input (zero ref)
    np.testing.assert_allclose(got, dense.kernel[:, 1] * x, rtol=1e-6)
    both = func(task_idx=[0, 1], input_data_list=[x], batch_size=1)
    assert both.shape == (2, 1, 3)
    np.testing.assert_allclose(both[1], got)
    assert func.scorer.target_layer is dense


def test_sequential_single_input_output_and_names():
    model, inp, dense, act = _sequential()
    assert model.input_layer() is inp and model.output_layer() is act
    assert model.output_chain() == [act, dense, inp]
    assert model.resolve("d") is dense                  # by name too
    with pytest.raises(ValueError, match="unknown layer name 'x' for "
                       "target_layer; the layers are: in, d, s"):
        model.resolve("x", "target_layer")
    assert model.target_layer() is dense and model.target_layer(-1) is act
    assert model.score_layer(0) is inp


def test_pre_activation():
    model, inp, dense, act = _sequential()
    assert model.pre_activation(act) is dense
    assert model.pre_activation(dense) is dense


def _graph_chain():
    rng = np.random.RandomState(2)
    x1 = layers.Input(batch_shape=(None, 3), name="x1")
    x2 = layers.Input(batch_shape=(None, 3), name="x2")
    cat = layers.Concat(axis=-1, name="cat").set_inputs([x1, x2])
    dense = layers.Dense(kernel=rng.randn(6, 2), bias=np.zeros(2),
                         name="d").set_inputs(cat)
    act = layers.Softmax(name="sm").set_inputs(dense)
    names = {l.get_name(): l for l in (x1, x2, cat, dense, act)}
    return GraphModel(names, ["x1", "x2"], name_aliases={"out": "sm"}), \
        (x1, x2, cat, dense, act)


def test_graph_chain_targets_and_inputs():
    model, (x1, x2, cat, dense, act) = _graph_chain()
    assert model.output_layer() is act
    assert model.output_chain() == [act, dense, cat]   # stops at the merge
    assert model.default_target() is dense
    assert model.target_layer() is dense
    assert model.target_layer(-1) is act and model.target_layer(-3) is cat
    assert model.target_layer("out") is act            # alias
    with pytest.raises(ValueError, match="counts back"):
        model.target_layer(1)
    with pytest.raises(ValueError, match="out of range"):
        model.target_layer(-4)
    assert model.score_layer(1) is x2 and model.score_layer("cat") is cat
    with pytest.raises(ValueError, match="input index 2 is out of range"):
        model.score_layer(2)
    with pytest.raises(ValueError, match="one input.*x1.*x2"):
        model.input_layer()
