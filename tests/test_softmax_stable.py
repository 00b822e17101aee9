"""The traced softmax in float32 where one side's normaliser underflows
(:class:`deeplift.layers.traced.SoftmaxOp`, its docstring has the
derivation).

A row whose largest logit lies more than ~87 above its reference's (or
below it) made ``S0 = sum(exp(x0 - s))`` (or ``S``) 0 in float32 and the
scores NaN; now ``log S`` is taken in log space there, and the gradient
modes form ``e_i / S`` in the input's own frame.  Checked:

* that case in float32 (last axis and a middle axis, the reference far
  below and far above the input): finite scores that sum to the output
  difference and equal a float64 run (tolerance below); the old composite
  (a copy of its formula here) gives NaN on the same data, so the case is
  the one that failed; also the model and data of the former NaN case of
  tests/test_scores_finite.py, through the scoring function;
* ordinary cases: the same numbers as the old composite, bit for bit
  (Rescale, RevealCancel, GuidedBackpropRescale; Gradient and
  GuidedBackprop on rows where the input holds the common maximum), and
  within float32 rounding where the gradient modes now use the input's
  own frame;
* DeconvNet (no meaning through a softmax) raises one error naming it;
  Gradient, GuidedBackprop and GuidedBackpropRescale, NaN before with the
  reference far above the input, are finite and equal float64 (Gradient
  also tf.GradientTape in float64); Gradient and GuidedBackprop to the
  precision of the input's own logits, not the reference's;
* the scoring function's ``tf.function`` path gives the eager sweep's
  scores (the new branches are ``tf.cond``s there).

Tolerance against float64: the float32 logits here reach ``T`` ~ 365 in
magnitude and carry their own rounding, ``2^-24 T`` ~ 2e-5 absolute; the
multipliers depend on logit differences with sensitivity O(1), so no
float32 computation of these scores (this one or any other) is closer to
float64 than some fraction of ``2^-24 T`` of the scores' scale.  The
checks allow ``2^-24 T`` of the scale per score (observed: 0.07 to 0.22
of it), ``2^-24 T`` of the scale times the number of scores for their
sum.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

import deeplift.layers.traced as traced
from deeplift.conversion import tracing
from deeplift.conversion.errors import UnsupportedLayerError
from deeplift.layers.arithmetic import Reduce
from deeplift.layers.merge import Subtract
from deeplift.layers.traced import (SoftmaxOp, ElementwiseOp, _Function,
                                    TracedLayer)
from tests.tracing_checks import (  # noqa: F401 (fixture)
    float32_policy, OpsLayer, convert, run_engine, contributions,
    check_traced, set_policy)

EPS32 = 2.0 ** -24
MODES_SUM = ("Rescale", "RevealCancel")


class OldSoftmaxOp(SoftmaxOp):
    """The composite before the log-space change (its build_inner, copied
    from main): plain exp and log nodes.  The independent reference of the
    bit-equality checks (run in the same process, so that the kernels are
    the same)."""

    def build_inner(self, port):
        mode = self.nonlinear_mxts_mode
        if mode == "RevealCancel":
            mode = "Rescale"
        e = self.add("exp", ElementwiseOp(_Function(tf.exp, tf.exp), "Exp",
                                          nonlinear_mxts_mode=mode), port)
        total = self.add("sum", Reduce(axis=self._axis(len(
            port.get_shape())), op="sum", keepdims=True), e)
        log = self.add("log", ElementwiseOp(
            _Function(tf.math.log, tf.math.reciprocal), "Log",
            nonlinear_mxts_mode=mode), total)
        log_softmax = self.add("log_softmax", Subtract(), [port, log])
        if self.log:
            return log_softmax
        return self.add("softmax", ElementwiseOp(
            _Function(tf.exp, tf.exp), "Exp", nonlinear_mxts_mode=mode),
            log_softmax)


class _TracedWithOld(object):
    """The module :mod:`deeplift.layers.traced` as the tracer sees it, with
    :class:`OldSoftmaxOp` for ``SoftmaxOp``."""

    def __getattr__(self, name):
        return OldSoftmaxOp if name == "SoftmaxOp" else getattr(traced, name)


def _convert(kmodel, mode, old=False, monkeypatch=None, **kwargs):
    if old:
        monkeypatch.setattr(tracing, "traced", _TracedWithOld())
    try:
        dl = convert(kmodel, mode, **kwargs)
    finally:
        if old:
            monkeypatch.undo()
    kinds = {type(n) for l in dl.all_layers() if isinstance(l, TracedLayer)
             for n in l.inner_layers() if isinstance(n, SoftmaxOp)}
    assert kinds == {OldSoftmaxOp if old else SoftmaxOp}
    return dl


def _model(shape, axis, factor=1.0, dtype="float64"):
    """Dense (positive kernel) -> traced softmax of ``factor * t`` over
    ``axis`` -> Flatten -> Dense(2), in ``dtype`` (float64: Keras' own
    forward is the truth; deeplift also runs it on float32 data, the
    weights cast).  With positive inputs of a few units and ``factor`` of
    tens, the logits are hundreds, a zero input's a few units: row maxima
    hundreds apart."""
    set_policy(dtype)
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape, dtype=dtype)
    h = keras.layers.Dense(
        shape[-1], kernel_initializer=keras.initializers.RandomUniform(
            0.1, 1.0), bias_initializer="random_normal")(inp)
    h = OpsLayer(lambda t: keras.ops.softmax(factor * t, axis=axis))(h)
    out = keras.layers.Dense(2)(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


def _logits(kmodel, factor, x):
    """The traced layer's input logits (``factor * t``), float64."""
    return factor * kmodel.layers[1](tf.constant(x)).numpy()


def _scores(dl, x, ref, w):
    states, mxts, inputs, target = run_engine(dl, [x], [ref], w)
    return contributions(states, mxts, inputs[0]), states[id(target)]


def _far_data(shape, far):
    """Three inputs whose row maxima lie hundreds above a zero reference's
    (``far="ref_below"``), or zeros below a reference of that kind
    (``"ref_above"``); then a fourth input near the reference (its rows
    keep ``log(S)``, beside rows in log space)."""
    rng = np.random.RandomState(0)
    high = rng.uniform(2, 4, (3,) + shape)
    near = 0.05 * rng.randn(1, *shape)
    if far == "ref_below":
        return np.concatenate([high, near]), np.zeros((1,) + shape)
    return np.concatenate([np.zeros_like(high), high[:1] + near]), high[:1]


#: (input shape, softmax axis, logit factor: logits of a few hundred)
CASES = [((6,), -1, 30.0), ((4, 3), 1, 60.0)]


@pytest.mark.parametrize("shape,axis,factor", CASES)
@pytest.mark.parametrize("mode", MODES_SUM)
@pytest.mark.parametrize("far", ["ref_below", "ref_above"])
def test_float32_underflow_finite_exact(shape, axis, factor, mode, far,
                                        monkeypatch):
    kmodel = _model(shape, axis, factor)
    x, ref = _far_data(shape, far)
    w = np.array([[1.0, -0.5]])
    lx, lref = _logits(kmodel, factor, x), _logits(kmodel, factor, ref)
    T = max(np.abs(lx).max(), np.abs(lref).max())
    gap = (lx.max(axis=axis) - lref.max(axis=axis))[:3]
    gap = gap if far == "ref_below" else -gap
    # (the regime: row maxima hundreds apart, float32's exp underflows
    # below -87)
    assert gap.min() > 150 and T < 600

    dl = _convert(kmodel, mode)
    c64, _ = _scores(dl, x, ref, w)
    c32, _ = _scores(dl, x.astype(np.float32), ref.astype(np.float32),
                     w.astype(np.float32))
    old32, _ = _scores(_convert(kmodel, mode, old=True,
                                monkeypatch=monkeypatch),
                       x.astype(np.float32), ref.astype(np.float32),
                       w.astype(np.float32))
    assert not np.all(np.isfinite(old32))   # the case that gave NaN
    assert np.all(np.isfinite(c32))

    n = len(x)
    delta = ((kmodel(x).numpy() - kmodel(ref).numpy()) * w).sum(1)
    scale = np.abs(c64).max()
    assert scale > 1e-2   # (not trivially zero)
    # float64: the rules are exact, rounding only (1e-10 of the scale)
    np.testing.assert_allclose(c64.reshape(n, -1).sum(1), delta, rtol=0,
                               atol=1e-10 * scale)
    # float32: the logits' own rounding bounds the agreement (module
    # docstring)
    tol = EPS32 * T * scale
    np.testing.assert_allclose(c32, c64, rtol=0, atol=tol)
    np.testing.assert_allclose(c32.reshape(n, -1).sum(1), delta, rtol=0,
                               atol=tol * c32[0].size)


def _ordinary_data(shape):
    """Logits of order 1; the reference's row maximum above the input's on
    some rows, below on others."""
    rng = np.random.RandomState(3)
    x = rng.randn(6, *shape).astype(np.float32)
    ref = (0.8 * rng.randn(1, *shape)).astype(np.float32)
    return x, ref


@pytest.mark.parametrize("shape,axis,factor", CASES)
@pytest.mark.parametrize("mode", ["Rescale", "RevealCancel",
                                  "GuidedBackpropRescale", "Gradient",
                                  "GuidedBackprop"])
def test_ordinary_cases_keep_their_numbers(shape, axis, factor, mode,
                                           monkeypatch):
    kmodel = _model(shape, axis, dtype="float32")
    x, ref = _ordinary_data(shape)
    w = np.array([[1.0, -0.5]], np.float32)
    new, _ = _scores(_convert(kmodel, mode), x, ref, w)
    old, _ = _scores(_convert(kmodel, mode, old=True,
                              monkeypatch=monkeypatch), x, ref, w)
    assert np.all(np.isfinite(old)) and np.abs(old).max() > 1e-3
    logits = kmodel.layers[1](tf.constant(x)).numpy()
    ref_logits = kmodel.layers[1](tf.constant(ref)).numpy()
    holds = (logits.max(axis=axis) >= ref_logits.max(axis=axis))
    holds = holds.reshape(len(x), -1).all(1)   # every row of the example
    assert holds.any() and not holds.all()     # (both kinds of rows)
    if mode in ("Gradient", "GuidedBackprop"):
        # bit for bit where the input holds the common maximum (the factors
        # are the old ones); elsewhere exp(u), 1 / sum(exp(u)) (u = x -
        # max x) and the forward's softmax in place of exp(z), 1 / S and
        # exp(z - log S) (z = x - s): the same values up to a few float32
        # roundings (2^-24 each) of logits of order 1; 1e-6 of the scale
        # (observed 3e-8 to 2.5e-7)
        np.testing.assert_array_equal(new[holds], old[holds])
        np.testing.assert_allclose(new, old, rtol=0,
                                   atol=1e-6 * np.abs(old).max())
    else:
        np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("shape,axis,factor", CASES)
@pytest.mark.parametrize("mode", ["Gradient", "GuidedBackprop",
                                  "GuidedBackpropRescale"])
def test_other_modes_reference_far_above(shape, axis, factor, mode,
                                         monkeypatch):
    """The reference holds the common maximum hundreds above the input's:
    under Gradient and GuidedBackprop 1/S overflowed and e_i underflowed,
    under GuidedBackpropRescale log(S) was -inf (NaN); now finite, equal
    to float64 and, for Gradient, to the tape.  Tolerance: Gradient and
    GuidedBackprop do not involve the reference (their factors are formed
    from the input's own logits): the input logits' rounding, 2^-24 T_in
    (T_in ~ 5-7 here) through a few ops, 8 of it (observed 0.6 to 1.8);
    GuidedBackpropRescale (Rescale's factors): the module docstring's."""
    kmodel = _model(shape, axis, factor)
    far, _ = _far_data(shape, "ref_below")
    x, ref = -0.01 * far[:3], far[:1]
    w = np.array([[1.0, -0.5]])
    lx, lref = _logits(kmodel, factor, x), _logits(kmodel, factor, ref)
    assert (lref.max(axis=axis) - lx.max(axis=axis)).min() > 150
    T = np.abs(lref).max()
    if mode != "GuidedBackpropRescale":
        T = 8 * max(1.0, np.abs(lx).max())
    dl = _convert(kmodel, mode)
    states, mxts, inputs, _ = run_engine(dl, [x], [ref], w)
    m64 = mxts[id(inputs[0])][0].numpy()
    if mode == "Gradient":
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            total = tf.reduce_sum(w * kmodel(xt))
        # float64: the same derivatives, re-associated (1e-9)
        np.testing.assert_allclose(m64, tape.gradient(total, xt).numpy(),
                                   rtol=1e-9, atol=1e-9)
    w32 = w.astype(np.float32)
    states, mxts, inputs, _ = run_engine(
        dl, [x.astype(np.float32)], [ref.astype(np.float32)], w32)
    m32 = mxts[id(inputs[0])][0].numpy()
    old = _convert(kmodel, mode, old=True, monkeypatch=monkeypatch)
    states, mxts, inputs, _ = run_engine(
        old, [x.astype(np.float32)], [ref.astype(np.float32)], w32)
    assert not np.all(np.isfinite(mxts[id(inputs[0])][0].numpy()))
    assert np.all(np.isfinite(m32))
    scale = np.abs(m64).max()
    assert scale > 1e-3   # (not trivially zero)
    np.testing.assert_allclose(m32, m64, rtol=0, atol=EPS32 * T * scale)


def test_deconvnet_refused_with_one_error():
    """DeconvNet applies each nonlinearity to the multipliers (relu in
    reverse): exp and log of multipliers have no meaning (the log of a
    negative sum was NaN). Conversion refuses, naming the mode and the
    softmax; a per-layer override converts."""
    kmodel = _model((6,), -1, 30.0)
    with pytest.raises(UnsupportedLayerError) as info:
        convert(kmodel, "DeconvNet")
    message = str(info.value)
    assert "DeconvNet has no rule through a softmax" in message
    assert "layer_overrides" in message
    traced_name = kmodel.layers[2].name
    dl = convert(kmodel, "DeconvNet", layer_overrides={
        traced_name: {"nonlinear_mxts_mode": "GuidedBackprop"}})
    x, ref = _far_data((6,), "ref_below")
    states, mxts, inputs, _ = run_engine(dl, [x], [ref],
                                         np.array([[1.0, -0.5]]))
    assert np.all(np.isfinite(mxts[id(inputs[0])][0].numpy()))
    # built directly, the composite refuses too
    with pytest.raises(ValueError, match="DeconvNet has no rule"):
        SoftmaxOp(nonlinear_mxts_mode="DeconvNet", name="s").set_inputs(
            traced.Port(batch_shape=(None, 3), name="p")
        ).build_fwd_pass_vars()


@pytest.mark.parametrize("mode", ["Rescale", "Gradient"])
@pytest.mark.parametrize("far", ["ref_below", "ref_above"])
def test_scoring_function_path(mode, far):
    """The scoring functions run the sweeps in a ``tf.function`` (the log
    space and own-frame branches are ``tf.cond``s there): the same float32
    scores as the eager sweep above, finite, in both regimes at once (the
    fourth input is near the reference)."""
    shape, axis, factor = CASES[1]
    kmodel = _model(shape, axis, factor)
    x, ref = [a.astype(np.float32) for a in _far_data(shape, far)]
    dl = _convert(kmodel, mode)
    func = dl.get_target_contribs_func(
        find_scores_layer_name=dl.get_input_layer_names()[0],
        pre_activation_target_layer_name=dl.output_layers()[0].get_name())
    got = func(task_idx=0, input_data_list=[x], input_references_list=[ref],
               batch_size=4, progress_update=None)
    eager, _ = _scores(dl, x, ref, np.array([[1.0, 0.0]], np.float32))
    assert np.all(np.isfinite(got)) and np.abs(got).max() > 1e-3
    # the same ops, traced instead of eager (float32 rounding: 1e-6 of the
    # scale)
    np.testing.assert_allclose(got, eager, rtol=0,
                               atol=1e-6 * np.abs(eager).max())


def test_the_case_of_test_scores_finite(monkeypatch):
    """The model and data that tests/test_scores_finite.py used for its
    NaN case (Dense -> traced softmax(100 t) -> Dense(1), inputs in [2, 4],
    zero reference; Rescale), through the scoring function: float32 now
    finite, summing to the difference and equal to float64 (tolerance:
    module docstring)."""
    set_policy("float64")
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,), dtype="float64")
    h = keras.layers.Dense(6)(inp)
    h = OpsLayer(lambda t: keras.ops.softmax(100.0 * t))(h)
    kmodel = keras.Model(inp, keras.layers.Dense(1)(h))
    x = np.random.RandomState(0).uniform(2, 4, (4, 6))
    ref = np.zeros((1, 6))
    T = np.abs(100.0 * kmodel.layers[1](tf.constant(x)).numpy()).max()
    scores = {}
    for old in (True, False):
        dl = _convert(kmodel, "Rescale", old=old, monkeypatch=monkeypatch)
        func = dl.get_target_contribs_func(
            find_scores_layer_name=dl.get_input_layer_names()[0],
            pre_activation_target_layer_name=dl.output_layers()[0]
            .get_name())
        for dtype in (np.float32, np.float64):
            scores[old, dtype] = func(
                task_idx=0, input_data_list=[x.astype(dtype)],
                input_references_list=[ref.astype(dtype)], batch_size=4,
                progress_update=None)
    assert not np.all(np.isfinite(scores[True, np.float32]))
    # float64 unchanged (its normaliser never underflowed), bit for bit
    np.testing.assert_array_equal(scores[False, np.float64],
                                  scores[True, np.float64])
    c32, c64 = scores[False, np.float32], scores[False, np.float64]
    assert np.all(np.isfinite(c32))
    delta = (kmodel(x).numpy() - kmodel(ref).numpy())[:, 0]
    scale = np.abs(c64).max()
    np.testing.assert_allclose(c64.sum(1), delta, rtol=0, atol=1e-10 * scale)
    tol = EPS32 * T * scale
    np.testing.assert_allclose(c32, c64, rtol=0, atol=tol)
    np.testing.assert_allclose(c32.sum(1), delta, rtol=0, atol=tol * 6)
