"""The IntegratedGradients (Keras) facade, deeplift.integrated_gradients.

Checked against its definition (a left Riemann sum computed here with one
``tf.GradientTape`` per interpolation point and output, in float64
numpy), against the closed form on a linear model, and against
completeness (sum of attributions = f(x) - f(ref)) for many steps; on
Sequential and functional, multi-input and multi-output models, with
Keras 3 and tf_keras.
"""
import numpy as np
import pytest
import tensorflow as tf

from deeplift.integrated_gradients import integrated_gradients


def _backends():
    import keras
    out = [pytest.param(keras, id="keras3")]
    try:
        import tf_keras
        out.append(pytest.param(tf_keras, id="tf_keras"))
    except ImportError:
        pass
    return out


def _set_weights(model, seed):
    rng = np.random.RandomState(seed)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32")
                       for w in model.get_weights()])


def two_in_two_out(K, seed=0):
    """Functional: inputs (5,) and (3, 2); outputs (4,) and (2,)."""
    L = K.layers
    a = L.Input((5,), name="a")
    b = L.Input((3, 2), name="b")
    hb = L.Flatten()(b)
    h = L.Concatenate()([L.Dense(6, activation="tanh")(a),
                         L.Dense(4, activation="softplus")(hb)])
    out1 = L.Dense(4, activation="sigmoid", name="o1")(h)
    out2 = L.Dense(2, name="o2")(L.Dense(3, activation="relu")(h))
    model = K.Model([a, b], [out1, out2])
    _set_weights(model, seed)
    return model


def sequential(K, seed=1):
    L = K.layers
    model = K.Sequential([L.Input((6,)), L.Dense(5, activation="tanh"),
                          L.Dense(3, activation="softmax")])
    _set_weights(model, seed)
    return model


def definition(model, samples, refs, channel, num_steps):
    """The left Riemann sum, one tape per point."""
    total = [np.zeros(s.shape) for s in samples]
    for step in range(num_steps):
        xs = [tf.constant((r + (s - r) * (step / num_steps))[None]
                          .astype("float32")) for s, r in zip(samples, refs)]
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            out = model(xs if len(xs) > 1 else xs[0], training=False)
            outs = out if isinstance(out, (list, tuple)) else [out]
            flat = tf.concat([tf.reshape(o, (1, -1)) for o in outs], axis=1)
            y = flat[0, channel]
        grads = tape.gradient(y, xs)
        for t, g in zip(total, grads):
            t += g.numpy()[0].astype(np.float64)
    return [t * (s - r) / num_steps for t, s, r in zip(total, samples, refs)]


def _forward_channels(model, xs):
    out = model([x[None] for x in xs] if len(xs) > 1 else xs[0][None],
                training=False)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return np.concatenate([np.asarray(o).reshape(-1) for o in outs])


@pytest.mark.parametrize("K", _backends())
def test_multi_input_multi_output_equals_definition(K):
    model = two_in_two_out(K)
    rng = np.random.RandomState(3)
    x = [rng.normal(0, 1, (5,)).astype("float32"),
         rng.normal(0, 1, (3, 2)).astype("float32")]
    r = [rng.normal(0, 0.3, (5,)).astype("float32"),
         rng.normal(0, 0.3, (3, 2)).astype("float32")]
    ig = integrated_gradients(model, verbose=0)
    assert ig.outchannels == list(range(6))   # 4 + 2 channels
    for channel in (1, 5):                     # one of each output
        got = ig.explain(x, outc=channel, reference=r, num_steps=7)
        want = definition(model, x, r, channel, 7)
        assert isinstance(got, list) and len(got) == 2
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("K", _backends())
def test_sequential_zero_reference_equals_definition(K):
    model = sequential(K)
    x = np.linspace(-1, 1, 6).astype("float32")
    ig = integrated_gradients(model, outchannels=[0, 2], verbose=0)
    got = ig.explain(x, outc=2)              # reference=False: zeros
    want = definition(model, [x], [np.zeros(6)], 2, 50)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="not built"):
        ig.explain(x, outc=1)


@pytest.mark.parametrize("K", _backends())
def test_linear_model_closed_form_and_completeness(K):
    L = K.layers
    lin = K.Sequential([L.Input((4,)), L.Dense(3)])
    _set_weights(lin, 5)
    w = lin.get_weights()[0]
    x = np.array([1.0, -2.0, 0.5, 3.0], "float32")
    ref = np.array([0.5, 0.5, -1.0, 0.0], "float32")
    got = integrated_gradients(lin, verbose=0).explain(
        x, outc=1, reference=ref, num_steps=3)
    np.testing.assert_allclose(got, w[:, 1] * (x - ref), rtol=1e-5,
                               atol=1e-6)
    # completeness on the nonlinear two-output model: left-Riemann error
    # is O(1/num_steps)
    model = two_in_two_out(K)
    rng = np.random.RandomState(8)
    xs = [rng.normal(0, 1, (5,)).astype("float32"),
          rng.normal(0, 1, (3, 2)).astype("float32")]
    zeros = [np.zeros_like(a) for a in xs]
    ig = integrated_gradients(model, verbose=0)
    delta = _forward_channels(model, xs) - _forward_channels(model, zeros)
    for channel in range(6):
        total = sum(a.sum() for a in ig.explain(xs, outc=channel,
                                                 num_steps=2000))
        assert abs(total - delta[channel]) < 5e-3 * max(
            1.0, abs(delta[channel])), (channel, total, delta[channel])


def test_bad_input_is_refused_clearly():
    import keras
    model = two_in_two_out(keras)
    ig = integrated_gradients(model, verbose=0)
    with pytest.raises(ValueError, match="2 input"):
        ig.explain(np.zeros(5, "float32"))
    with pytest.raises(ValueError, match="shape"):
        ig.explain([np.zeros(4), np.zeros((3, 2))])
    with pytest.raises(ValueError, match="num_steps"):
        ig.explain([np.zeros(5), np.zeros((3, 2))], num_steps=0)
    with pytest.raises(ValueError, match="out of range"):
        integrated_gradients(model, outchannels=[6])
    with pytest.raises(TypeError, match="Keras model"):
        integrated_gradients(object())
