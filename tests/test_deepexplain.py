"""The DeepExplain facade against independent numpy implementations of
each method's definition on small MLPs whose weights are mirrored into
Keras models."""
import itertools
import math

import numpy as np
import pytest
import keras

from deeplift.deepexplain import DeepExplain

ACT = {None: lambda z: z, "relu": lambda z: np.maximum(z, 0),
       "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


# ----- numpy truth -----------------------------------------------------------
def make_layers(sizes, acts, seed):
    rng = np.random.RandomState(seed)
    return [(rng.uniform(-1, 1, (a, b)), 0.3 * rng.randn(b), act)
            for a, b, act in zip(sizes[:-1], sizes[1:], acts)]


def np_forward(layers, x):
    """List of (z, a) per layer; x is flattened to (N, D)."""
    h = x.reshape(len(x), -1).astype(np.float64)
    cache = []
    for w, b, act in layers:
        z = h @ w + b
        h = ACT[act](z)
        cache.append((z, h))
    return cache


def np_f(layers, x):
    return np_forward(layers, x)[-1][1]


def np_backward(layers, x, ys, factor):
    """sum(T * ys) back to x, with the local derivative of every
    nonlinearity replaced by ``factor(act, z, a, layer_index)``."""
    cache = np_forward(layers, x)
    g = np.broadcast_to(ys, cache[-1][1].shape).astype(np.float64)
    for i in reversed(range(len(layers))):
        w, _, act = layers[i]
        z, a = cache[i]
        if act is not None:
            g = g * factor(act, z, a, i)
        g = g @ w.T
    return g.reshape(x.shape)


def gradient_factor(act, z, a, i):
    return (z > 0).astype(float) if act == "relu" else a * (1 - a)


def np_gradient(layers, x, ys):
    return np_backward(layers, x, ys, gradient_factor)


def np_elrp(layers, x, ys, eps):
    def factor(act, z, a, i):
        return a / (z + eps * np.where(z >= 0, 1.0, -1.0))
    return np_backward(layers, x, ys, factor) * x


def np_deeplift(layers, x, ys, baseline):
    ref = np_forward(layers, np.broadcast_to(baseline, x.shape))

    def factor(act, z, a, i):
        z0, a0 = ref[i]
        return (a - a0) / (z - z0)
    return np_backward(layers, x, ys, factor) * (x - baseline)


def np_intgrad(layers, x, ys, baseline, steps):
    total = np.zeros(x.shape)
    for alpha in np.linspace(1.0 / steps, 1.0, steps):
        total += np_gradient(layers, baseline + alpha * (x - baseline), ys)
    return total / steps * (x - baseline)


def np_occlusion(layers, x, ys, window, step):
    """DeepExplain's loop, written with explicit window positions."""
    shape = x.shape[1:]
    f0 = np.sum(np_f(layers, x) * ys, axis=1)
    heat = np.zeros(x.shape)
    weight = np.zeros(shape)
    ranges = [range(0, s - w + 1, st) for s, w, st in zip(shape, window,
                                                          step)]
    for start in itertools.product(*ranges):
        region = tuple(slice(s, s + w) for s, w in zip(start, window))
        masked = x.copy()
        masked[(slice(None),) + region] = 0
        delta = f0 - np.sum(np_f(layers, masked) * ys, axis=1)
        heat[(slice(None),) + region] += delta.reshape(
            (-1,) + (1,) * len(shape))
        weight[region] += np.prod(window)
    return heat / weight


def np_exact_shapley(layers, x, ys, groups):
    """Exact Shapley values, zero baseline; ``groups[f]`` = boolean mask of
    feature f over the input's (non-batch) shape."""
    d = len(groups)
    phi = np.zeros((len(x), d))

    def value(coalition):
        keep = np.zeros(x.shape[1:], bool)
        for f in coalition:
            keep |= groups[f]
        return np.sum(np_f(layers, x * keep) * ys, axis=1)
    for i in range(d):
        others = [f for f in range(d) if f != i]
        for size in range(d):
            w = (math.factorial(size) * math.factorial(d - size - 1)
                 / math.factorial(d))
            for s in itertools.combinations(others, size):
                phi[:, i] += w * (value(s + (i,)) - value(s))
    return phi


# ----- Keras mirrors -------------------------------------------------------
def keras_mlp(layers, input_shape, final_activation_layer=None):
    x = inp = keras.Input(input_shape)
    if len(input_shape) > 1:
        x = keras.layers.Flatten()(x)
    for w, b, act in layers:
        dense = keras.layers.Dense(w.shape[1], activation=act)
        x = dense(x)
        dense.set_weights([w.astype(np.float32), b.astype(np.float32)])
    if final_activation_layer:
        x = keras.layers.Activation(final_activation_layer)(x)
    return keras.Model(inp, x)


MLP = make_layers([4, 6, 5, 3], ["relu", "sigmoid", None], seed=0)
MLP_SIG = make_layers([4, 5, 3], ["relu", "sigmoid"], seed=1)
MLP2D = make_layers([12, 6, 2], ["relu", None], seed=2)
TOL = dict(rtol=2e-4, atol=2e-5)


@pytest.fixture(scope="module")
def models():
    return {"mlp": keras_mlp(MLP, (4,)),
            "mlp_sig": keras_mlp(MLP_SIG, (4,)),
            "mlp2d": keras_mlp(MLP2D, (3, 4))}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    x = rng.randn(5, 4).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    return x, ys


@pytest.mark.parametrize("which", ["mlp", "mlp_sig"])
def test_gradient_and_engine_methods(models, data, which):
    layers = {"mlp": MLP, "mlp_sig": MLP_SIG}[which]
    model = models[which]
    x, ys = data
    x64 = x.astype(np.float64)
    baseline = np.array([0.1, -0.2, 0.3, 0.05], np.float32)
    with DeepExplain(session=object()) as de:
        X, T = model.inputs[0], model.outputs[0]

        def run(method, ys_=ys, **kw):
            return de.explain(method, T, X, x, ys=ys_, batch_size=3, **kw)
        np.testing.assert_array_equal(run("zero"), np.zeros_like(x))
        grad = np_gradient(layers, x64, ys)
        np.testing.assert_allclose(run("saliency"), np.abs(grad), **TOL)
        np.testing.assert_allclose(run("grad*input"), grad * x64, **TOL)
        # default ys: all ones, i.e. the sum of T's outputs
        np.testing.assert_allclose(
            run("grad*input", ys_=None),
            np_gradient(layers, x64, np.ones((1, 3))) * x64, **TOL)
        np.testing.assert_allclose(
            run("intgrad", steps=7, baseline=baseline),
            np_intgrad(layers, x64, ys, baseline.astype(np.float64), 7),
            **TOL)
        np.testing.assert_allclose(run("intgrad", steps=5),
                                   np_intgrad(layers, x64, ys, 0.0, 5),
                                   **TOL)
        np.testing.assert_allclose(run("elrp"),
                                   np_elrp(layers, x64, ys, 1e-4), **TOL)
        np.testing.assert_allclose(run("elrp", epsilon=0.5),
                                   np_elrp(layers, x64, ys, 0.5), **TOL)
        np.testing.assert_allclose(
            run("deeplift", baseline=baseline),
            np_deeplift(layers, x64, ys, baseline.astype(np.float64)),
            **TOL)
        np.testing.assert_allclose(run("deeplift"),
                                   np_deeplift(layers, x64, ys, 0.0), **TOL)


def test_intgrad_completeness_and_deeplift_summation(models, data):
    x, ys = data
    baseline = np.array([0.5, -0.5, 0.2, 0.0], np.float32)
    f = lambda v: np.sum(np_f(MLP, v) * ys, axis=1)
    expected = f(x.astype(np.float64)) - f(np.broadcast_to(
        baseline.astype(np.float64), x.shape))
    with DeepExplain() as de:
        model = models["mlp"]
        ig = de.explain("intgrad", model.outputs[0], model.inputs[0], x,
                        ys=ys, steps=1000, baseline=baseline)
        dl = de.explain("deeplift", model, None, x, ys=ys,
                        baseline=baseline)
    np.testing.assert_allclose(ig.sum(axis=1), expected, atol=5e-3)
    np.testing.assert_allclose(dl.sum(axis=1), expected, atol=1e-4)


def test_occlusion(models):
    rng = np.random.RandomState(1)
    x = rng.randn(4, 3, 4).astype(np.float32)
    ys = np.eye(2, dtype=np.float32)[[0, 1, 1, 0]]
    model = models["mlp2d"]
    x64 = x.astype(np.float64)
    with DeepExplain() as de:
        for window, step, given_step in [((1, 1), (1, 1), None),
                                         ((2, 2), (1, 2), (1, 2)),
                                         ((3, 1), (1, 1), 1),
                                         ((2, 3), (1, 1), 1)]:
            got = de.explain("occlusion", model.outputs[0],
                             model.inputs[0], x, ys=ys, batch_size=5,
                             window_shape=window, step=given_step)
            np.testing.assert_allclose(
                got, np_occlusion(MLP2D, x64, ys, window, step), **TOL)
        # default ys: sum of outputs
        got = de.explain("occlusion", model.outputs[0], model.inputs[0], x)
        np.testing.assert_allclose(
            got, np_occlusion(MLP2D, x64, np.ones((1, 2)), (1, 1), (1, 1)),
            **TOL)


def test_shapley_sampling_converges_to_exact(models, data):
    x, ys = data
    model = models["mlp"]
    groups = [np.eye(4, dtype=bool)[i] for i in range(4)]
    exact = np_exact_shapley(MLP, x.astype(np.float64), ys, groups)
    with DeepExplain() as de:
        explainer = de.get_explainer("shapley_sampling", model.outputs[0],
                                     model.inputs[0], samples=4000, seed=0)
        est = explainer.run(x, ys, batch_size=4096)
        # efficiency holds exactly for every permutation
        one = de.explain("shapley_sampling", model.outputs[0],
                         model.inputs[0], x, ys=ys, samples=1, seed=5)
    assert est.shape == x.shape
    np.testing.assert_allclose(est, exact, atol=0.03)
    total = np.sum(np_f(MLP, x.astype(np.float64)) * ys, 1) - np.sum(
        np_f(MLP, np.zeros((1, 4))) * ys, 1)
    np.testing.assert_allclose(one.sum(1), total, atol=1e-5)
    # a single permutation is DeepExplain's loop with the same permutation
    perm = np.random.RandomState(5).permutation(4)
    cur = x.astype(np.float64).copy()
    truth = np.zeros_like(cur)
    for i in perm:
        before = np.sum(np_f(MLP, cur) * ys, 1)
        cur[:, i] = 0
        truth[:, i] = before - np.sum(np_f(MLP, cur) * ys, 1)
    np.testing.assert_allclose(one, truth, **TOL)


def test_shapley_sampling_dims(models):
    rng = np.random.RandomState(2)
    x = rng.randn(3, 3, 4).astype(np.float32)
    model = models["mlp2d"]
    # features = the 3 rows (axis 1); each groups 4 columns
    groups = [np.arange(3)[:, None].repeat(4, 1) == r for r in range(3)]
    exact = np_exact_shapley(MLP2D, x.astype(np.float64), np.ones((1, 2)),
                             groups)
    # features = the 4 columns (axis 2)
    groups_c = [np.arange(4)[None, :].repeat(3, 0) == c for c in range(4)]
    exact_c = np_exact_shapley(MLP2D, x.astype(np.float64),
                               np.ones((1, 2)), groups_c)
    np.random.seed(0)
    with DeepExplain() as de:
        rows = de.explain("shapley_sampling", model.outputs[0],
                          model.inputs[0], x, samples=3000,
                          sampling_dims=[1])
        cols = de.explain("shapley_sampling", model.outputs[0],
                          model.inputs[0], x, samples=3000,
                          sampling_dims=[2])
    assert rows.shape == (3, 3) and cols.shape == (3, 4)
    np.testing.assert_allclose(rows, exact, atol=0.03)
    np.testing.assert_allclose(cols, exact_c, atol=0.03)


def test_multiple_inputs():
    layers = make_layers([5, 4, 2], ["relu", None], seed=3)
    a, b = keras.Input((3,)), keras.Input((2,))
    h = keras.layers.Concatenate()([a, b])
    for w, bias, act in layers:
        dense = keras.layers.Dense(w.shape[1], activation=act)
        h = dense(h)
        dense.set_weights([w.astype(np.float32), bias.astype(np.float32)])
    T = h
    rng = np.random.RandomState(4)
    xa = rng.randn(4, 3).astype(np.float32)
    xb = rng.randn(4, 2).astype(np.float32)
    x = np.concatenate([xa, xb], 1).astype(np.float64)
    ys = np.eye(2, dtype=np.float32)[[0, 1, 1, 0]]
    ba = np.array([0.1, 0.2, -0.1], np.float32)
    bb = np.array([-0.3, 0.4], np.float32)
    base = np.concatenate([ba, bb]).astype(np.float64)

    def split(v):
        return [v[:, :3], v[:, 3:]]
    grad = np_gradient(layers, x, ys)
    truth = {"saliency": np.abs(grad), "grad*input": grad * x,
             "intgrad": np_intgrad(layers, x, ys, base, 6),
             "deeplift": np_deeplift(layers, x, ys, base),
             "elrp": np_elrp(layers, x, ys, 1e-4)}
    kwargs = {"intgrad": dict(steps=6, baseline=[ba, bb]),
              "deeplift": dict(baseline=[ba, bb])}
    with DeepExplain() as de:
        for method, expected in truth.items():
            got = de.explain(method, T, [a, b], [xa, xb], ys=ys,
                             **kwargs.get(method, {}))
            assert isinstance(got, list) and len(got) == 2
            for g, e in zip(got, split(expected)):
                np.testing.assert_allclose(g, e, **TOL)
        with pytest.raises(ValueError, match="one input"):
            de.explain("occlusion", T, [a, b], [xa, xb])


def test_intermediate_target_tensor():
    layers = make_layers([4, 5, 3], ["relu", None], seed=6)
    model = keras_mlp(layers, (4,), final_activation_layer="softmax")
    x = np.random.RandomState(3).randn(3, 4).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[[2, 0, 1]]
    pre = model.layers[-2].output        # the logits, before the softmax
    with DeepExplain() as de:
        dl = de.explain("deeplift", pre, model.inputs[0], x, ys=ys)
        sal = de.explain("saliency", pre, model.inputs[0], x, ys=ys)
        # through the softmax, deeplift/elrp use the softmax's gradient
        probs_dl = de.explain("deeplift", model.outputs[0], model.inputs[0],
                              x, ys=ys)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(dl, np_deeplift(layers, x64, ys, 0.0), **TOL)
    np.testing.assert_allclose(sal, np.abs(np_gradient(layers, x64, ys)),
                               **TOL)
    assert np.all(np.isfinite(probs_dl)) and probs_dl.shape == x.shape


def test_bad_inputs(models, data):
    x, ys = data
    model = models["mlp"]
    T, X = model.outputs[0], model.inputs[0]
    with pytest.raises(RuntimeError, match="context"):
        DeepExplain().explain("saliency", T, X, x)
    with DeepExplain() as de:
        with pytest.raises(ValueError, match="grad\\*input.*intgrad"):
            de.explain("gradcam", T, X, x)
        with pytest.raises(ValueError, match="ys"):
            de.explain("saliency", T, X, x, ys=np.ones((5, 2)))
        with pytest.raises(ValueError, match="ys"):
            de.explain("occlusion", T, X, x, ys=np.ones((2, 3)))
        with pytest.raises(ValueError, match="baseline"):
            de.explain("intgrad", T, X, x, baseline=np.zeros(3))
        with pytest.raises(ValueError, match="baseline"):
            de.explain("deeplift", T, X, x, baseline=np.zeros((5, 4)))
        for eps in (0, -1e-3):
            with pytest.raises(ValueError, match="epsilon"):
                de.explain("elrp", T, X, x, epsilon=eps)
        with pytest.raises(ValueError, match="window_shape"):
            de.explain("occlusion", T, X, x, window_shape=(5,))
        with pytest.raises(ValueError, match="window_shape"):
            de.explain("occlusion", T, X, x, window_shape=(1, 1))
        with pytest.raises(ValueError, match="step"):
            de.explain("occlusion", T, X, x, step=0)
        with pytest.raises(ValueError, match="batch dimension"):
            de.explain("shapley_sampling", T, X, x, sampling_dims=[0])
        with pytest.raises(ValueError, match="sampling_dims"):
            de.explain("shapley_sampling", T, X, x, sampling_dims=[2])
        with pytest.raises(ValueError, match="samples"):
            de.explain("shapley_sampling", T, X, x, samples=0)
        with pytest.raises(ValueError, match="steps"):
            de.explain("intgrad", T, X, x, steps=0)
        with pytest.raises(ValueError,
                           match="valid parameters: baseline, steps"):
            de.explain("intgrad", T, X, x, epsilon=3)
        with pytest.raises(ValueError, match="shape"):
            de.explain("saliency", T, X, x[:, :3])
        with pytest.raises(ValueError, match="batch_size"):
            de.explain("saliency", T, X, x, batch_size=0)


def test_method_registry_names_exist_in_deepexplain():
    """Every method of deeplift.methods that names a DeepExplain method
    is offered by DeepExplain, with the same rule."""
    from deeplift import methods
    from deeplift.deepexplain import attribution_methods
    named = [m for m in methods.METHODS.values() if m.deepexplain]
    assert named
    for method in named:
        assert method.deepexplain in attribution_methods, method
        klass = attribution_methods[method.deepexplain]
        if hasattr(klass, "NONLINEAR_MXTS_MODE"):
            assert klass.NONLINEAR_MXTS_MODE == method.nonlinear_mxts_mode
