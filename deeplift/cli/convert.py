"""``deeplift convert``: show the converted layer graph and check its
forward pass against Keras."""
import numpy as np

from deeplift.cli.common import (CLIError, METHOD_HELP, _add_model_arguments,
                                 _check_model_files, _load_model,
                                 _output_layers)


def _model_layers(model):
    """(index or '-', layer) in order: a Sequential model's list, or the
    topological order of a graph model."""
    if hasattr(model, "get_layers"):
        return list(enumerate(model.get_layers()))
    from deeplift.graph import topological_order
    return list(enumerate(topological_order(_output_layers(model))))


def _layer_mode(layer):
    for attr in ("nonlinear_mxts_mode", "maxpool_deeplift_mode",
                 "dense_mxts_mode", "conv_mxts_mode"):
        value = getattr(layer, attr, None)
        if value is not None:
            return "%s=%s" % (attr.replace("_deeplift_mode", "").replace(
                "_mxts_mode", ""), value)
    return ""


def _shape_text(layer):
    try:
        shape = layer.get_shape()
    except RuntimeError:
        return "?"
    return "(" + ", ".join("None" if s is None else str(s)
                           for s in shape) + ")"


def _load_keras_model(h5_file, json_file, yaml_file):
    """Try keras (3) and tf_keras; returns (model, description) or
    (None, reason)."""
    import importlib
    order = (("keras", "tf_keras") if h5_file.endswith(".keras")
             else ("tf_keras", "keras"))
    reasons = []
    for module_name in order:
        try:
            keras = importlib.import_module(module_name)
        except Exception as exc:  # not installed or broken
            reasons.append("%s: not importable (%s)" % (module_name,
                                                        type(exc).__name__))
            continue
        try:
            if yaml_file is not None:
                raise ValueError("YAML model configs are not loadable by "
                                 "current Keras")
            if json_file is not None:
                with open(json_file) as handle:
                    model = keras.models.model_from_json(handle.read())
                model.load_weights(h5_file)
            else:
                model = keras.models.load_model(h5_file, compile=False)
            return model, "%s %s" % (module_name,
                                     getattr(keras, "__version__", "?"))
        except Exception as exc:
            text = str(exc).strip().splitlines()
            reasons.append("%s: %s" % (module_name,
                                       (text[0] if text else
                                        type(exc).__name__)[:150]))
    return None, "; ".join(reasons)


def _keras_check(model, args, quiet):
    if hasattr(model, "get_layers"):
        inputs = [model.get_layers()[0]]
        outputs = [model.get_layers()[-1]]
    else:
        inputs = [model.get_layer(n) for n in model.get_input_layer_names()]
        outputs = _output_layers(model)
    if len(inputs) != 1 or len(outputs) != 1:
        return "skipped (only single-input, single-output models are checked)"
    shape = inputs[0].get_shape()
    if any(s is None for s in shape[1:]):
        return "skipped (the input shape %s is not fully known)" % (shape,)
    keras_model, description = _load_keras_model(args.model, args.json,
                                                 args.yaml)
    if keras_model is None:
        hint = ("; for Keras 2 (.h5) files: pip install tf_keras"
                if "tf_keras: not importable" in description else "")
        return "skipped (Keras cannot load the model: %s)%s" % (description,
                                                                hint)
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 1, size=(8,) + tuple(shape[1:])).astype(np.float32)
    try:
        expected = keras_model.predict(x, verbose=0)
    except Exception as exc:
        return "skipped (%s could not run the model: %s)" % (
            description, str(exc).splitlines()[0][:150] if str(exc) else
            type(exc).__name__)
    if isinstance(expected, (list, tuple)):
        if len(expected) != 1:
            return "skipped (the Keras model has several outputs)"
        expected = expected[0]
    if isinstance(expected, dict):
        return "skipped (the Keras model has named outputs)"
    predict = model.prediction_function(inputs, outputs[0])
    ours = predict([x], batch_size=8)
    expected = np.asarray(expected)
    if ours.shape != expected.shape:
        return ("FAILED: output shapes differ (deeplift %s, %s %s)"
                % (ours.shape, description, expected.shape))
    diff = float(np.max(np.abs(ours - expected)))
    return ("max abs difference vs %s on 8 random inputs: %.3g"
            % (description, diff))


def cmd_convert(args):
    from deeplift import genomics
    _check_model_files(args)
    try:
        method = genomics.normalize_method(args.method)
    except ValueError as exc:
        raise CLIError(str(exc))
    model = _load_model(args, method)
    rows = [(str(i), str(layer.get_name()), type(layer).__name__,
             _shape_text(layer), _layer_mode(layer))
            for i, layer in _model_layers(model)]
    header = ("idx", "name", "type", "output shape", "mode")
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(5)]
    kind = type(model).__name__
    print("%s: %s with %d layers (method %s)" % (args.model, kind, len(rows),
                                                 method))
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join("%-*s" % (w, c) for w, c in zip(widths, row))
              .rstrip())
    if not args.no_keras_check:
        print("keras check: %s" % _keras_check(model, args, args.quiet))
    return 0



def add_parser(sub):
    """Add the ``convert`` subcommand to the subparsers ``sub``."""
    convert = sub.add_parser(
        "convert", help="show the converted layer graph and check it "
        "against Keras",
        description="Convert a saved Keras model, print its deeplift layers "
        "(index, name, type, output shape, mode) and, when Keras 3 or "
        "tf_keras can load the model, the largest absolute difference "
        "between the two forward passes on random input.")
    _add_model_arguments(convert)
    convert.add_argument("--method", default="genomics_default",
                         help=METHOD_HELP)
    convert.add_argument("--no-keras-check", action="store_true",
                         help="do not compare with Keras")
    convert.add_argument("--quiet", action="store_true",
                         help="(accepted for symmetry; nothing to silence)")
    convert.set_defaults(func=cmd_convert)
