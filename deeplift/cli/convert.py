"""``deeplift convert``: show the converted layer graph (placeholders and
why), and check its forward pass against Keras, which never loads a model
holding Python code unless ``--trust-model``."""
import os
import traceback

from deeplift.cli.common import (CLIError, METHOD_HELP, _add_model_arguments,
                                 _check_model_files, _load_model)
from deeplift.cli.contribs import MAXPOOL_MODES


def _layer_mode(layer):
    for attr in ("nonlinear_mxts_mode", "maxpool_deeplift_mode",
                 "dense_mxts_mode", "conv_mxts_mode"):
        value = getattr(layer, attr, None)
        if value is not None:
            return "%s=%s" % (attr.replace("_deeplift_mode", "").replace(
                "_mxts_mode", ""), value)
    return ""


def _load_keras_model(h5_file, json_file, yaml_file, trust_model=False):
    """Keras' own model for the check (see
    :func:`deeplift.conversion.report.load_keras_model`)."""
    from deeplift.conversion import report
    return report.load_keras_model(h5_file, json_file, yaml_file,
                                   trust_model=trust_model)


def _keras_check(model, args):
    """One line: the forward check against Keras (or why it was skipped or
    refused). Code-bearing models are refused unless --trust-model."""
    from deeplift.conversion import report
    try:
        keras_model, description = _load_keras_model(
            args.model, args.json, args.yaml, args.trust_model)
    except report.UnsafeModelError as exc:
        return "refused (%s)" % str(exc).split(": ", 1)[1]
    if keras_model is None:
        hint = ("; for Keras 2 (.h5) files: pip install tf_keras"
                if "tf_keras: not importable" in description else "")
        return "skipped (Keras cannot load the model: %s)%s" % (description,
                                                                hint)
    try:
        rows = report.keras_forward_check(model, keras_model)
    except report.ConversionError as exc:   # e.g. input shapes not known
        return "skipped (%s)" % (_error_line(exc),)
    except Exception as exc:
        raise CLIError("the forward check against Keras failed in %s: %s "
                       "(--no-keras-check skips the check)"
                       % (_failing_side(exc), _error_line(exc)))
    compared = [diff for _, diff, _ in rows if diff is not None]
    notes = ["%s: %s" % (name, note) for name, diff, note in rows
             if diff is None]
    if not compared:
        return "skipped (no output could be compared: %s)" % "; ".join(notes)
    extra = "" if not notes else " (%d of %d outputs; %s)" % (
        len(compared), len(rows), "; ".join(notes))
    return ("max abs difference vs %s on 8 random inputs%s: %.3g"
            % (description, extra, max(compared)))


def _error_line(exc):
    """The line of ``exc``'s message that says what went wrong: for
    TensorFlow's graph errors the kernel's message, not the leading
    "Graph execution error:" nor the traceback of the node."""
    noise = ("File ", "Detected at node", "[[", "Graph execution error")
    lines = [line.strip() for line in str(exc).splitlines()]
    useful = [line for line in lines if line and not line.startswith(noise)]
    return (useful[-1] if useful else type(exc).__name__)[:300]


def _failing_side(exc):
    """Which forward pass raised ``exc``, Keras' own or deeplift's: the
    package of the innermost of their frames in its traceback."""
    import deeplift
    import keras
    ours = os.path.dirname(os.path.abspath(deeplift.__file__))
    theirs = os.path.dirname(os.path.abspath(keras.__file__))
    side = "deeplift's forward pass"
    for frame in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(frame.filename)
        if path.startswith(theirs + os.sep):
            side = "Keras' own forward pass"
        elif path.startswith(ours + os.sep) and not path.endswith(
                os.path.join("conversion", "report.py")):
            side = "deeplift's forward pass"
    return side


def cmd_convert(args):
    from deeplift import genomics
    _check_model_files(args)
    try:
        method = genomics.normalize_method(args.method)
    except ValueError as exc:
        raise CLIError(str(exc))
    # converted as deeplift contribs converts it (same max-pool rule)
    model = _load_model(args, method,
                        maxpool_deeplift_mode=args.maxpool_mode)
    from deeplift.conversion import report
    layers = dict(report.model_layers(model))
    rows = []
    for i, name, kind, status, detail in report.conversion_rows(model):
        if status == "placeholder":
            rows.append((str(i), name, "Placeholder(%s)" % kind, "-",
                         "not converted: " + detail))
        else:
            rows.append((str(i), name, kind, detail,
                         _layer_mode(layers[i])))
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
    holders = report.placeholders(model)
    if holders:
        print("%d layer(s) not converted (placeholders: scoring a target "
              "that needs one is an error): %s"
              % (len(holders), ", ".join(h.get_name() for h in holders)))
    if not args.no_keras_check:
        print("keras check: %s" % _keras_check(model, args))
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
    convert.add_argument("--maxpool-mode", choices=MAXPOOL_MODES,
                         default="summation_to_delta",
                         help="max pooling rule, as for deeplift contribs "
                         "(default: %(default)s, what contribs uses)")
    convert.add_argument("--no-keras-check", action="store_true",
                         help="do not compare with Keras (a failed "
                         "comparison is an error, exit status 2)")
    convert.add_argument("--trust-model", action="store_true",
                         help="let Keras load a model that holds Python code "
                         "(Lambda layers) for the forward check: loading "
                         "runs that code, so only for files you trust "
                         "(without it such models are not loaded)")
    convert.add_argument("--quiet", action="store_true",
                         help="(accepted for symmetry; nothing to silence)")
    convert.set_defaults(func=cmd_convert)
