"""Shared checks of op-level conversion tests (tests/test_tracing.py,
tests/test_attention.py).

:func:`check_traced` converts an in-memory Keras model (its layers without
a converter are traced) and checks, with ``w`` a fixed random weighting of
the outputs:

* forward == Keras (1e-5 in float32: the traced ops are Keras' own ops,
  re-run in another order of fusion; 1e-10 in float64);
* Gradient-mode multipliers == ``tf.GradientTape`` of ``sum(w * out)``
  (float64, 1e-9: the same ops' derivatives, re-associated sums);
* Rescale and RevealCancel: sum over every input of multipliers x
  contributions == ``sum(w * (out - out_ref))`` per example (float64:
  1e-10 of the output scale; float32: 1e-4; the rules are exact, so what
  is left is rounding: float64's separates rounding from rule errors).

Mask inputs (``attributed=False``) get references equal to their values,
and their contributions must be exactly zero.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.graph import sweep_model
from deeplift.scoring import layer_output, CONTRIBS
from deeplift.layers import NonlinearMxtsMode as Mode

RC, RESCALE, GRAD = Mode.RevealCancel, Mode.Rescale, Mode.Gradient


def convert(kmodel, mode, **kwargs):
    kwargs.setdefault("verbose", False)
    return kc.convert_keras_model(
        kmodel, nonlinear_mxts_mode=mode,
        maxpool_deeplift_mode="gradient" if mode == GRAD
        else "summation_to_delta", **kwargs)


def run_engine(dl, xs, refs, w):
    """``(states, mxts, inputs, target)`` of a sweep with output weights
    ``w`` (broadcast to the output's shape)."""
    states, mxts = sweep_model(dl, xs, refs, w)
    return states, mxts, dl.input_layers(), dl.output_layers()[0]


def contributions(states, mxts, layer):
    """A layer's contributions (zeros where it does not feed the target),
    as a NumPy array."""
    return layer_output(CONTRIBS, states[id(layer)],
                        mxts.get(id(layer))).numpy()


def keras_out(kmodel, xs):
    out = kmodel([tf.constant(x) for x in xs] if len(xs) > 1
                 else tf.constant(xs[0]))
    return out.numpy()


def check_traced(kmodel, xs, refs, modes=(RESCALE, RC), attributed=None,
                 convert_kwargs=None, grad=True, grad_tol=None):
    """The checks of the module docstring on ``kmodel`` (inputs ``xs``,
    references ``refs``: lists of arrays of one float dtype).  ``grad_tol``
    replaces the gradient check's tolerance (give the reason where it is
    passed).  Returns the Rescale-converted deeplift model."""
    convert_kwargs = convert_kwargs or {}
    float64 = xs[0].dtype == np.float64
    fwd_tol = 1e-10 if float64 else 1e-5
    sum_tol = 1e-10 if float64 else 1e-4
    attributed = attributed or [True] * len(xs)
    refs = [r if a else x for x, r, a in zip(xs, refs, attributed)]
    # (a mask's reference is the mask, one per example, beside the shared
    # references of the other inputs)
    expected = keras_out(kmodel, xs)
    rng = np.random.RandomState(7)
    w = rng.randn(*((1,) + expected.shape[1:])).astype(xs[0].dtype)

    dl = convert(kmodel, GRAD, **convert_kwargs)
    states, mxts, inputs, target = run_engine(dl, xs, refs, w)
    np.testing.assert_allclose(states[id(target)].act.numpy(), expected,
                               rtol=fwd_tol, atol=fwd_tol)
    grad_tol = grad_tol or fwd_tol * 10
    if grad:
        kin = [tf.constant(x) for x in xs]
        with tf.GradientTape() as tape:
            for t in kin:
                tape.watch(t)
            total = tf.reduce_sum(w * kmodel(kin if len(kin) > 1
                                             else kin[0]))
        grads = tape.gradient(total, kin,
                              unconnected_gradients=tf.UnconnectedGradients.
                              ZERO)
        for layer, g, a in zip(inputs, grads, attributed):
            if not a:
                continue
            pos_m, neg_m = mxts[id(layer)]
            np.testing.assert_allclose(pos_m.numpy(), g.numpy(),
                                       rtol=grad_tol, atol=grad_tol)
            np.testing.assert_allclose(neg_m.numpy(), g.numpy(),
                                       rtol=grad_tol, atol=grad_tol)

    n = len(xs[0])
    delta = (w * (expected - keras_out(kmodel, [np.broadcast_to(
        r, x.shape) for x, r in zip(xs, refs)]))).reshape(n, -1).sum(1)
    result = None
    for mode in modes:
        dl = convert(kmodel, mode, **convert_kwargs)
        result = result or dl
        states, mxts, inputs, target = run_engine(dl, xs, refs, w)
        cs = [contributions(states, mxts, l) for l in inputs]
        for c, a in zip(cs, attributed):
            if not a:
                assert np.all(c == 0), "a mask input got contributions"
        total = sum(c.reshape(n, -1).sum(1) for c in cs)
        scale = sum(np.abs(c).reshape(n, -1).sum(1) for c in cs) \
            + np.abs(delta) + 1e-3
        # (equal_nan=False: NaN scores make ``scale`` NaN too, and NaN ==
        # NaN would pass)
        np.testing.assert_allclose(total / scale, delta / scale, rtol=0,
                                   atol=sum_tol, err_msg=str(mode),
                                   equal_nan=False)
    return result


def set_policy(dtype):
    keras.config.set_dtype_policy(np.dtype(dtype).name)


def data(shape, dtype, n=4, seed=1, scale=1.0):
    rng = np.random.RandomState(seed)
    x = (scale * rng.randn(n, *shape)).astype(dtype)
    ref = (0.3 * scale * rng.randn(1, *shape)).astype(dtype)
    return x, ref


@pytest.fixture(autouse=True)
def float32_policy():
    """Imported by a test module: the float32 dtype policy back after each
    of its tests (some set float64)."""
    yield
    keras.config.set_dtype_policy("float32")


class OpsLayer(keras.layers.Layer):
    """A layer (no converter) applying ``fn`` to its input."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, x):
        return self.fn(x)

    def get_config(self):  # in memory only: the function is not saved
        return super().get_config()
