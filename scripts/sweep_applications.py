"""Sweep over every keras.applications family: convert each model (random
weights, smallest input) from memory, .keras and .h5 and check it.

    python scripts/sweep_applications.py [--models ResNet50,Xception]
        [--out scripts/RESULTS_applications.md] [--timeout 1200]

(``--models`` reruns those and keeps the other rows of the last run, kept
in the JSON file beside the table.)

Each model runs in a fresh process (``--one NAME``). Checks, on 2 random
inputs in [-1, 1) against a zero reference:

* forward: max |deeplift - Keras predict| / max |Keras output|, for the
  model converted in memory, from .keras and from .h5;
* gradient: Gradient-mode multipliers against tf.GradientTape, max error /
  max |gradient|;
* Rescale sums to delta (summation-to-delta max pooling): max |sum of
  contributions - (f(x) - f(ref))| / sum |contributions|, in float32, and
  rerun in float64 (deeplift's own float64 forward pass) where float32
  gives more than 1e-5.

Weights: Keras' initialisers for kernels, then random BatchNormalization
statistics (moving mean U(-0.3, 0.3), variance U(0.5, 1.5), gamma U(0.5,
1.5), beta U(-0.3, 0.3)) and random biases, so every parameter matters.
Models are built with ``classes=10, classifier_activation=None`` (the
target is the logits). RegNet exists only in tf_keras (Keras 2): memory and
.h5 there.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isolated import print_result, run_isolated  # scripts/isolated.py

REPO = Path(__file__).resolve().parents[1]

#: (family, constructor, Keras module, smallest input side)
FAMILIES = [
    ("VGG", "VGG16", "keras", 32),
    ("ResNet", "ResNet50", "keras", 32),
    ("ResNetV2", "ResNet50V2", "keras", 32),
    ("MobileNet", "MobileNet", "keras", 32),
    ("MobileNetV2", "MobileNetV2", "keras", 32),
    ("MobileNetV3", "MobileNetV3Small", "keras", 32),
    ("DenseNet", "DenseNet121", "keras", 32),
    ("InceptionV3", "InceptionV3", "keras", 75),
    ("InceptionResNetV2", "InceptionResNetV2", "keras", 75),
    ("Xception", "Xception", "keras", 71),
    ("EfficientNet", "EfficientNetB0", "keras", 32),
    ("EfficientNetV2", "EfficientNetV2B0", "keras", 32),
    ("NASNet", "NASNetMobile", "keras", 32),
    ("ConvNeXt", "ConvNeXtTiny", "keras", 32),
    ("RegNet", "RegNetX002", "tf_keras", 32),
]

TOL_FORWARD = 1e-4
TOL_GRADIENT = 1e-3
TOL_SUM32 = 1e-4
TOL_SUM64 = 1e-10


def build(name, module, size):
    import importlib
    import numpy as np
    keras = importlib.import_module(module)
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), classes=10,
        classifier_activation=None)
    rng = np.random.RandomState(0)

    def walk(layers):
        for layer in layers:
            if hasattr(layer, "layers"):
                walk(layer.layers)
                continue
            new = []
            for var, w in zip(layer.weights, layer.get_weights()):
                path = getattr(var, "path", var.name)
                if "moving_variance" in path or path.endswith("variance"):
                    new.append(rng.uniform(0.5, 1.5, w.shape))
                elif "moving_mean" in path or "gamma" in path:
                    new.append(rng.uniform(-0.3, 0.3, w.shape)
                               if "mean" in path
                               else rng.uniform(0.5, 1.5, w.shape))
                elif "beta" in path or "bias" in path:
                    new.append(rng.uniform(-0.3, 0.3, w.shape))
                else:
                    new.append(w)
            if new:
                layer.set_weights([np.asarray(v).astype(w.dtype) for v, w
                                   in zip(new, layer.get_weights())])
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()
    walk(model.layers)
    return model


def one(name, module, size):
    """The checks of one model: a dict (the table row)."""
    sys.path.insert(0, str(REPO))
    import numpy as np
    from deeplift.layers import NonlinearMxtsMode, MaxPoolDeepLiftMode
    from tests.conversion_checks import (converted_three_ways, forward_error,
                                         gradient_error, summation_error)
    row = {"model": name, "input": size}
    t0 = time.time()
    model = build(name, module, size)
    row["params"] = int(model.count_params())
    rng = np.random.RandomState(1)
    x = rng.uniform(-1, 1, (2, size, size, 3)).astype("float32")
    ref = np.zeros((1, size, size, 3), dtype="float32")
    scale = float(np.max(np.abs(model.predict(x, verbose=0))))
    sources = ("memory", "keras", "h5") if module == "keras" else (
        "memory", "h5")
    directory = Path(tempfile.mkdtemp())
    summation = dict(nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                     maxpool_deeplift_mode=MaxPoolDeepLiftMode
                     .summation_to_delta)
    try:
        for source in sources:
            converted = converted_three_ways(model, directory,
                                             sources=(source,),
                                             **summation)[source]
            row["forward_" + source] = forward_error(converted, model,
                                                     [x]) / scale
            if source == "memory":
                rescale = converted
        row["sum32"] = summation_error(rescale, model, x, ref, 0, (0,))
        if row["sum32"] > 1e-5:
            row["sum64"] = summation_error(rescale, model,
                                           x.astype("float64"),
                                           ref.astype("float64"), 0, (0,))
        del rescale, converted
        grad = converted_three_ways(
            model, directory, sources=("memory",),
            nonlinear_mxts_mode=NonlinearMxtsMode.Gradient)["memory"]
        row["gradient"] = gradient_error(grad, model, x, 0, 0)
    except Exception as exc:  # recorded in the table
        text = str(exc).strip().splitlines()
        row["error"] = "%s: %s" % (type(exc).__name__,
                                   " / ".join(t.strip() for t in text[:4])
                                   [:300])
    row["seconds"] = time.time() - t0
    return row


def _status(row):
    if "error" in row:
        return "FAIL"
    ok = all(row.get(k, 0) <= TOL_FORWARD for k in row
             if k.startswith("forward_"))
    ok = ok and row.get("gradient", 1) <= TOL_GRADIENT
    ok = ok and (row["sum32"] <= TOL_SUM32
                 or row.get("sum64", 1) <= TOL_SUM64)
    return "ok" if ok else "FAIL"


def _fmt(value):
    return "-" if value is None else "%.1e" % value


def table(rows):
    lines = ["# keras.applications sweep", "",
             "Written by `python scripts/sweep_applications.py` (%s). "
             "Random weights with non-trivial BatchNormalization "
             "statistics, smallest input, 2 inputs in [-1, 1), zero "
             "reference. forward: max error / max |output| (tolerance %g); "
             "gradient: Gradient mode vs tf.GradientTape, max error / max "
             "|gradient| (%g); sum f32 / f64: Rescale with "
             "summation-to-delta max pooling, max |sum(contribs) - delta| / "
             "sum |contribs| (%g in float32, or %g in the float64 rerun)."
             % (time.strftime("%Y-%m-%d"), TOL_FORWARD, TOL_GRADIENT,
                TOL_SUM32, TOL_SUM64), "",
             "| family | model | input | params | forward memory | forward "
             ".keras | forward .h5 | gradient | sum f32 | sum f64 | seconds "
             "| status |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for family, row in rows:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
                     "%.0f | %s |" % (
                         family, row["model"], row.get("input", "?"),
                         "{:,}".format(row["params"]) if "params" in row
                         else "?",
                         _fmt(row.get("forward_memory")),
                         _fmt(row.get("forward_keras")),
                         _fmt(row.get("forward_h5")),
                         _fmt(row.get("gradient")), _fmt(row.get("sum32")),
                         _fmt(row.get("sum64")), row.get("seconds", 0),
                         _status(row)))
        if "error" in row:
            notes.append("- %s: %s" % (row["model"], row["error"]))
    if notes:
        lines += ["", "Failures:", ""] + notes
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated constructors")
    parser.add_argument("--out", default=str(REPO / "scripts" /
                                             "RESULTS_applications.md"))
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        family = [f for f in FAMILIES if f[1] == args.one][0]
        print_result(one(family[1], family[2], family[3]))
        return 0
    wanted = set(args.models.split(",")) if args.models else None
    # rows of earlier runs (the JSON beside the table) are kept for the
    # models not rerun, so one family can be rerun alone
    raw_path = os.path.splitext(args.out)[0] + ".json"
    previous = {}
    if wanted and os.path.exists(raw_path):
        with open(raw_path) as handle:
            previous = {row["model"]: row for row in json.load(handle)}
    rows = []
    for family, name, module, size in FAMILIES:
        if wanted and name not in wanted:
            if name in previous:
                rows.append((family, previous[name]))
            continue
        try:
            row, done = run_isolated(__file__, name, args.timeout)
            if row is None:
                row = {"model": name, "error": "process failed (%d): %s"
                       % (done.returncode, done.stderr.strip()[-300:])}
        except subprocess.TimeoutExpired:
            row = {"model": name, "error": "timeout (%ds)" % args.timeout}
        print(family, row, flush=True)
        rows.append((family, row))
    with open(raw_path, "w") as handle:
        json.dump([row for _, row in rows], handle, indent=1)
    text = "\n".join(table(rows)) + "\n"
    with open(args.out, "w") as handle:
        handle.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
