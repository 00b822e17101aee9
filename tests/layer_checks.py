"""Shared checks of the layer tests (tests/test_layers_*.py).

Per layer (run eagerly through the engine's sweeps, float64): forward ==
Keras, Gradient-mode multipliers == tf.GradientTape, pos + neg
contributions == difference, and Rescale / RevealCancel contributions sum
to the output difference (the layer followed by a sigmoid, so that it gets
distinct positive and negative multipliers under RevealCancel).

Composite models (:class:`Twin`: a Keras functional model and the matching
deeplift graph, through GraphModel, compiled): forward == Keras, Gradient
== tape, summation to delta.

Converted Keras models (:func:`check_converted`, with seeded weights from
:func:`randomized` and data from :func:`converted_data`): the same checks
on the model the conversion builds from memory, ``.keras`` or ``.h5``.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

import deeplift.layers as L
from deeplift.layers import NonlinearMxtsMode as Mode
from deeplift.layers import activations as A
from deeplift.graph import topological_order, forward_sweep, backward_sweep
from deeplift.models import GraphModel
from tests.nets import random_data

RC, RESCALE, GRAD = Mode.RevealCancel, Mode.Rescale, Mode.Gradient


@pytest.fixture(autouse=True)
def restore_dtype_policy():
    """Import into a test module to reset Keras' dtype policy after each
    test."""
    yield
    keras.config.set_dtype_policy("float32")


def policy(dtype):
    keras.config.set_dtype_policy(np.dtype(dtype).name)


def rand_weights(klayer, rng, scale=0.5):
    klayer.set_weights([rng.uniform(-1, 1, w.shape) * scale
                        for w in klayer.get_weights()])


def engine(inputs, target, xs, refs, seed):
    order = topological_order([target])
    states = forward_sweep(order, dict(zip(inputs, xs)),
                           dict(zip(inputs, refs)))
    mxts = backward_sweep(order, states, target, seed)
    return states, mxts


def input_contribs(states, mxts, layer):
    pos_m, neg_m = mxts[id(layer)]
    pos_c, neg_c = states[id(layer)].contribs
    return (pos_m * pos_c + neg_m * neg_c).numpy()


def merge_case(name, *shapes):
    """A CASES entry of the merge layer ``name`` (the same in Keras and
    deeplift) taking inputs of ``shapes``."""
    dcls = getattr(L, name)
    if name in ("Multiply", "Maximum", "Minimum"):
        return (getattr(keras.layers, name),
                lambda w, m: dcls(nonlinear_mxts_mode=m), list(shapes))
    return getattr(keras.layers, name), lambda w, m: dcls(), list(shapes)


def reshaping_case(name, shape, *args, **kwargs):
    """A CASES entry of the reshaping layer ``name`` (the same in Keras and
    deeplift) made with ``args`` and ``kwargs``, taking one input of
    ``shape``."""
    return (lambda: getattr(keras.layers, name)(*args, **kwargs),
            lambda w, m: getattr(L, name)(*args, **kwargs), [shape])


def setup_case(case, mode, dtype=np.float64, seed=0):
    """Build one CASES entry ``(keras_factory, deeplift_factory(weights,
    mode), input_shapes)``: the Keras layer (random weights), the wired
    deeplift layer, its Input layers, inputs and references."""
    kfactory, dfactory, shapes = case
    rng = np.random.RandomState(seed)
    keras.utils.set_random_seed(seed)
    policy(dtype)
    klayer = kfactory()
    xs = [rng.randn(5, *s).astype(dtype) for s in shapes]
    refs = [(0.3 * rng.randn(5, *s)).astype(dtype) for s in shapes]
    multi = len(shapes) > 1
    kin = [tf.constant(x) for x in xs]
    klayer(kin if multi else kin[0])  # build
    if klayer.get_weights():
        rand_weights(klayer, rng)
    inputs = [L.Input(batch_shape=(None,) + s, name="in%d" % i)
              for i, s in enumerate(shapes)]
    layer = dfactory([w.astype(dtype) for w in klayer.get_weights()], mode)
    layer.set_inputs(inputs if multi else inputs[0])
    layer.build_fwd_pass_vars()
    return klayer, layer, inputs, xs, refs, multi


def check_layer_case(case):
    """Forward == Keras (float32, float64) and shape inference; Gradient
    multipliers == tf.GradientTape; pos + neg == diff; Rescale (shared
    reference) and RevealCancel (one per example) contributions through
    layer -> sigmoid sum to the output difference (float64, 1e-10)."""
    # forward (float32 and float64) and shape inference
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        klayer, layer, inputs, xs, refs, multi = setup_case(case, GRAD, dtype)
        kout = klayer([tf.constant(x) for x in xs] if multi
                      else tf.constant(xs[0])).numpy()
        out = layer.forward([tf.constant(x) for x in xs]).numpy()
        np.testing.assert_allclose(out, kout, rtol=tol, atol=tol)
        assert tuple(layer.get_shape()[1:]) == kout.shape[1:]

    # Gradient mode == tape
    klayer, layer, inputs, xs, refs, multi = setup_case(case, GRAD)
    rng = np.random.RandomState(3)
    w = rng.randn(*((1,) + tuple(layer.get_shape()[1:])))
    kin = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for t in kin:
            tape.watch(t)
        total = tf.reduce_sum(w * klayer(kin if multi else kin[0]))
    grads = tape.gradient(total, kin)
    _, mxts = engine(inputs, layer, [tf.constant(x) for x in xs],
                      [tf.constant(r) for r in refs], w)
    for inp, g in zip(inputs, grads):
        pos_m, neg_m = mxts[id(inp)]
        np.testing.assert_allclose(pos_m.numpy(), g.numpy(), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(neg_m.numpy(), g.numpy(), rtol=1e-10,
                                   atol=1e-12)

    # summation to delta through layer -> sigmoid (Rescale with a shared
    # reference, RevealCancel with one reference per example)
    for mode, shared in ((RESCALE, True), (RC, False)):
        klayer, layer, inputs, xs, refs, multi = setup_case(case, mode)
        if shared:
            refs = [r[:1] for r in refs]
        act = L.Sigmoid(nonlinear_mxts_mode=mode).set_inputs(layer)
        act.build_fwd_pass_vars()
        states, mxts = engine(inputs, act,
                               [tf.constant(x) for x in xs],
                               [tf.constant(r) for r in refs], w)
        state = states[id(layer)]
        pos, neg = state.contribs
        np.testing.assert_allclose((pos + neg).numpy(),
                                   state.diff.numpy(), atol=1e-12)
        total = sum(input_contribs(states, mxts, inp).reshape(
            5, -1).sum(axis=1) for inp in inputs)
        out = states[id(act)]
        delta = (w * out.diff.numpy()).reshape(5, -1).sum(axis=1)
        scale = sum(np.abs(input_contribs(states, mxts, inp)).reshape(
            5, -1).sum(axis=1) for inp in inputs) + 1e-3
        np.testing.assert_allclose(total / scale, delta / scale,
                                   rtol=0, atol=1e-10)


class Twin(object):
    """Builds a Keras functional model and the matching deeplift graph."""

    def __init__(self, mode, dtype="float32", seed=0,
                 maxpool_mode="summation_to_delta"):
        self.mode = mode
        self.dtype = dtype
        self.rng = np.random.RandomState(seed)
        keras.utils.set_random_seed(seed)
        policy(dtype)
        self.maxpool_mode = "gradient" if mode == GRAD else maxpool_mode
        self.layers = {}
        self.inputs = []

    def input(self, shape, name="input"):
        k = keras.Input(shape, dtype=self.dtype, name=name)
        d = L.Input(batch_shape=(None,) + tuple(shape), name=name)
        self.layers[name] = d
        self.inputs.append((k, d))
        return k, d

    def __call__(self, name, klayer, dfactory, *ins, randomize=True):
        kins = [i[0] for i in ins]
        kout = klayer(kins if len(ins) > 1 else kins[0])
        weights = klayer.get_weights()
        if weights and randomize:
            rand_weights(klayer, self.rng)
            weights = klayer.get_weights()
        d = dfactory(weights)
        d.name = name
        d.set_inputs([i[1] for i in ins] if len(ins) > 1 else ins[0][1])
        self.layers[name] = d
        return kout, d

    def act(self, name, kname, x, dl=None):
        dl = dl or A.ACTIVATION_BY_NAME[kname]
        return self(name, keras.layers.Activation(kname, dtype=self.dtype),
                    lambda w: dl(self.mode), x)

    def dense(self, name, units, x, act=None):
        y = self(name, keras.layers.Dense(units, dtype=self.dtype),
                 lambda w: L.Dense(*w), x)
        return self.act(name + "_act", act, y) if act else y

    def conv1d(self, name, filters, width, x, dilation=1, act=None,
               padding="same"):
        y = self(name, keras.layers.Conv1D(filters, width, padding=padding,
                                           dilation_rate=dilation,
                                           dtype=self.dtype),
                 lambda w: L.Conv1D(w[0], w[1], stride=1, padding=padding,
                                    dilation=dilation), x)
        return self.act(name + "_act", act, y) if act else y

    def conv2d(self, name, filters, size, x, padding="same", act=None):
        y = self(name, keras.layers.Conv2D(filters, size, padding=padding,
                                           dtype=self.dtype),
                 lambda w: L.Conv2D(w[0], w[1], strides=1, padding=padding),
                 x)
        return self.act(name + "_act", act, y) if act else y

    def bn(self, name, x):
        k, d = x
        kl = keras.layers.BatchNormalization(epsilon=1e-3, dtype=self.dtype)
        kout = kl(k)
        ch = kl.get_weights()[0].shape[0]
        params = [self.rng.uniform(-1.5, 1.5, ch), self.rng.randn(ch) * 0.2,
                  self.rng.randn(ch) * 0.2, self.rng.uniform(0.5, 2.0, ch)]
        kl.set_weights(params)
        layer = L.BatchNormalization(*params[:2], axis=-1, mean=params[2],
                                     var=params[3], epsilon=1e-3, name=name)
        layer.set_inputs(d)
        self.layers[name] = layer
        return kout, layer

    def simple(self, name, klayer, dlayer, *ins):
        return self(name, klayer, lambda w: dlayer, *ins)

    def graph(self):
        model = GraphModel(self.layers, [d.get_name()
                                         for _, d in self.inputs])
        return model


def check_model_forward_and_gradient(builder, shape):
    """Forward == Keras and Gradient multipliers == tf.GradientTape for
    every head of the Twin model made by ``builder(mode)``."""
    t, heads = builder(GRAD)
    model = t.graph()
    kin = t.inputs[0][0]
    x, ref = random_data(shape, n=5)
    for head, (kout, tasks) in heads.items():
        kmodel = keras.Model(kin, kout)
        pred = model.get_prediction_function(["input"], head)
        np.testing.assert_allclose(pred([x], batch_size=3),
                                   kmodel.predict(x, verbose=0),
                                   rtol=1e-4, atol=1e-5)
        func = model.get_target_multipliers_func(
            find_scores_layer_name="input",
            pre_activation_target_layer_name=head)
        xt = tf.constant(x)
        for task in tasks:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = kmodel(xt)[:, task]
            grad = tape.gradient(y, xt).numpy()
            mult = func(task_idx=task, input_data_list=[x],
                        input_references_list=[ref], batch_size=3)
            np.testing.assert_allclose(mult, grad, rtol=1e-4, atol=1e-5)


def check_model_summation_to_delta(builder, shape, mode, dtype):
    """Contributions to each head sum to its output difference (1e-4 of
    the contribution scale in float32, 1e-10 in float64)."""
    t, heads = builder(mode, "float64" if dtype == np.float64
                       else "float32")
    model = t.graph()
    kin = t.inputs[0][0]
    x, ref = random_data(shape, n=5, dtype=dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for head, (kout, tasks) in heads.items():
        kmodel = keras.Model(kin, kout)
        delta = kmodel(x).numpy() - kmodel(ref).numpy()
        func = model.get_target_contribs_func(
            find_scores_layer_name="input",
            pre_activation_target_layer_name=head)
        for task in tasks:
            c = func(task_idx=task, input_data_list=[x],
                     input_references_list=[ref], batch_size=5)
            assert c.dtype == dtype
            total = c.reshape(len(x), -1).sum(axis=1)
            scale = np.abs(c).reshape(len(x), -1).sum(axis=1) + 1e-3
            np.testing.assert_allclose(total / scale,
                                       delta[:, task] / scale, rtol=0,
                                       atol=tol)


# --------------------------------------------------------------------------
# converted Keras models
# --------------------------------------------------------------------------

def convert(kmodel, fmt, tmp_path, mode):
    """``kmodel`` converted with ``mode`` from memory (``fmt='memory'``) or
    from a file it is saved to (``'keras'``, ``'h5'``)."""
    from deeplift.conversion import kerasapi_conversion as kc
    kwargs = dict(nonlinear_mxts_mode=mode, verbose=False,
                  maxpool_deeplift_mode="gradient" if mode == GRAD
                  else "summation_to_delta")
    if fmt == "memory":
        return kc.convert_keras_model(kmodel, **kwargs)
    path = str(tmp_path / ("model." + fmt))
    kmodel.save(path)
    return kc.convert_model_from_saved_files(path, **kwargs)


def randomized(kmodel, scale=1.0, seed=0):
    """``kmodel`` with every weight drawn uniformly from [-scale, scale]
    (seeded), layer by layer; returns ``kmodel``."""
    rng = np.random.RandomState(seed)
    for layer in kmodel.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-scale, scale, w.shape)
                               for w in layer.get_weights()])
    return kmodel


def converted_data(kmodel, dtype, n=4, seed=2):
    """Inputs (n, ...) uniform in [-2, 2] and one reference (1, ...) of
    scale 0.3 for the one-input ``kmodel``, in ``dtype``."""
    shape = kmodel.input_shape[1:]
    rng = np.random.RandomState(seed)
    x = rng.uniform(-2, 2, (n,) + shape).astype(dtype)
    return x, (0.3 * rng.randn(1, *shape)).astype(dtype)


def check_converted(kmodel, x, ref, fmt, tmp_path, target, tasks,
                    modes=(RESCALE, RC), full=True):
    """A one-input functional Keras model converted from ``fmt``: forward
    of the layer ``target`` (a deeplift node name, e.g. ``'out_0'``, the
    model's output) == Keras; Gradient multipliers == tf.GradientTape;
    contributions under each of ``modes`` sum to the output difference
    (to 1e-4 of the contribution scale in float32, 1e-10 in float64).
    ``x`` (n, ...) and ``ref`` (n or 1, ...) set the dtype.
    ``full=False``: the forward check only (e.g. for the file formats of a
    model fully checked from memory)."""
    float64 = x.dtype == np.float64
    fwd_tol = 1e-10 if float64 else 1e-5
    sum_tol = 1e-10 if float64 else 1e-4
    dl = convert(kmodel, fmt, tmp_path, GRAD)
    name = dl.get_input_layer_names()[0]
    pred = dl.get_prediction_function([name], target)
    # (kmodel.predict would cast float64 arrays to Keras' floatx)
    expected = kmodel(tf.constant(x)).numpy()
    np.testing.assert_allclose(pred([x], batch_size=3), expected,
                               rtol=fwd_tol, atol=fwd_tol)
    if not full:
        return
    xt = tf.constant(x)
    mult_func = dl.get_target_multipliers_func(
        find_scores_layer_name=name, pre_activation_target_layer_name=target)
    for task in tasks:
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.reshape(kmodel(xt), (len(x), -1))[:, task]
        grad = tape.gradient(y, xt).numpy()
        mult = mult_func(task_idx=task, input_data_list=[x],
                         input_references_list=[ref], batch_size=3)
        np.testing.assert_allclose(mult, grad, rtol=fwd_tol * 10,
                                   atol=fwd_tol * 10)
    delta = (kmodel(x).numpy() - kmodel(ref).numpy()).reshape(len(x), -1)
    for mode in modes:
        dl = convert(kmodel, fmt, tmp_path, mode)
        func = dl.get_target_contribs_func(
            find_scores_layer_name=name,
            pre_activation_target_layer_name=target)
        for task in tasks:
            c = func(task_idx=task, input_data_list=[x],
                     input_references_list=[ref], batch_size=3)
            assert c.dtype == x.dtype
            total = c.reshape(len(x), -1).sum(axis=1)
            scale = np.abs(c).reshape(len(x), -1).sum(axis=1) + 1e-3
            np.testing.assert_allclose(total / scale, delta[:, task] / scale,
                                       rtol=0, atol=sum_tol,
                                       err_msg="%s task %d" % (mode, task))
