"""Checks of a converted model against Keras, shared by the conversion tests
and scripts/sweep_applications.py.

* :func:`converted_three_ways`: the deeplift model from memory, from a
  ``.keras`` archive and from a Keras 3 ``.h5`` file;
* :func:`forward_error`: max |deeplift forward - Keras predict| over the
  model's outputs;
* :func:`gradient_error`: max |Gradient-mode multipliers - tf.GradientTape|
  (relative to the gradient's scale);
* :func:`summation_error`: max |sum(contributions) - (f(x) - f(ref))|
  relative to sum |contributions| (computed in the inputs' dtype, so a
  float64 rerun checks the rule itself, not float32 noise).
"""
import numpy as np
import tensorflow as tf

from deeplift.conversion import kerasapi_conversion as kc
from deeplift.modes import NonlinearMxtsMode


def output_names(keras_model):
    """deeplift names of a functional Keras 3 model's outputs."""
    refs = keras_model.get_config()["output_layers"]
    if refs and isinstance(refs[0], str):
        refs = [refs]
    return ["%s_%d" % (r[0], r[1]) for r in refs]


def input_names(keras_model):
    refs = keras_model.get_config()["input_layers"]
    if refs and isinstance(refs[0], str):
        refs = [refs]
    return ["%s_%d" % (r[0], r[1]) for r in refs]


def converted_three_ways(keras_model, directory, sources=("memory", "keras",
                                                          "h5"), **options):
    """``{source: deeplift model}`` converted with ``options``.

    The mode defaults to Rescale: DeepLIFT_GenomicsDefault (the converters'
    default) refuses, as 0.6.13 did, an activation after a layer that is
    neither Dense nor a convolution, which these test models have."""
    options.setdefault("nonlinear_mxts_mode", NonlinearMxtsMode.Rescale)
    out = {}
    for source in sources:
        if source == "memory":
            out[source] = kc.convert_keras_model(keras_model, verbose=False,
                                                 **options)
            continue
        path = str(directory / ("%s.%s" % (keras_model.name, source)))
        keras_model.save(path)
        out[source] = kc.convert_model_from_saved_files(path, verbose=False,
                                                        **options)
    return out


def resolve_output(dl_model, keras_model, name):
    """``name`` (``<layer>_<node>``), or, when that Keras layer converted
    to an identity (a linear Activation), the layer feeding it."""
    layers = dl_model.get_name_to_layer()
    entries = {e["name"]: e for e in keras_model.get_config()["layers"]}
    while name not in layers:
        entry = entries[name.rsplit("_", 1)[0]]
        node = entry["inbound_nodes"][0]
        arg = node["args"][0] if isinstance(node, dict) else node[0]
        hist = arg["config"]["keras_history"] if isinstance(arg, dict) \
            else arg
        name = "%s_%d" % (hist[0], hist[1])
    return name


def predict(dl_model, keras_model, xs, batch_size=8):
    names = input_names(keras_model)
    return [dl_model.get_prediction_function(
        names, resolve_output(dl_model, keras_model, out))(
            xs, batch_size=batch_size) for out in output_names(keras_model)]


def forward_error(dl_model, keras_model, xs):
    expected = keras_model.predict(xs if len(xs) > 1 else xs[0], verbose=0,
                                   batch_size=8)
    if not isinstance(expected, (list, tuple)):
        expected = [expected]
    got = predict(dl_model, keras_model, xs)
    worst = 0.0
    for g, e in zip(got, expected):
        assert g.shape == e.shape, (g.shape, e.shape)
        worst = max(worst, float(np.max(np.abs(g - e))))
    return worst


def _target(keras_model, output, dl_model):
    return resolve_output(dl_model, keras_model,
                          output_names(keras_model)[output])


def gradient_error(dl_model, keras_model, x, output=0, task=0):
    """``dl_model`` converted with NonlinearMxtsMode.Gradient; one input;
    ``task`` an int or a tuple of ints (one compiled function for all)."""
    func = dl_model.get_target_multipliers_func(
        find_scores_layer_name=input_names(keras_model)[0],
        pre_activation_target_layer_name=_target(keras_model, output,
                                                 dl_model))
    tasks = (task,) if np.ndim(task) == 0 else tuple(task)
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        out = keras_model(xt)
        if isinstance(out, (list, tuple)):
            out = out[output]
        out = tf.reshape(out, [tf.shape(out)[0], -1])
        picked = [out[:, t] for t in tasks]
    worst = 0.0
    for t, target in zip(tasks, picked):
        mult = func(task_idx=t, input_data_list=[x], batch_size=8,
                    progress_update=None)
        grad = tape.gradient(target, xt).numpy()
        worst = max(worst, float(np.max(np.abs(mult - grad)) /
                                 (np.max(np.abs(grad)) + 1e-12)))
    del tape
    return worst


def summation_error(dl_model, keras_model, x, ref, output=0, tasks=(0,)):
    """``dl_model`` converted with a DeepLIFT mode; one input."""
    names = input_names(keras_model)
    target = _target(keras_model, output, dl_model)
    func = dl_model.get_target_contribs_func(
        find_scores_layer_name=names[0],
        pre_activation_target_layer_name=target)
    predict_fn = dl_model.get_prediction_function(names, target)
    fx = predict_fn([x], batch_size=8).reshape(len(x), -1)
    fref = predict_fn([np.broadcast_to(ref, x.shape)],
                      batch_size=8).reshape(len(x), -1)
    worst = 0.0
    for task in tasks:
        contribs = func(task_idx=task, input_data_list=[x], batch_size=8,
                        progress_update=None,
                        input_references_list=[ref]).reshape(len(x), -1)
        assert contribs.dtype == x.dtype
        scale = np.abs(contribs).sum(axis=1) + 1e-3
        err = np.abs(contribs.sum(axis=1) - (fx[:, task] - fref[:, task]))
        worst = max(worst, float(np.max(err / scale)))
    return worst
