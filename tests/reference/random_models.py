"""Random small Keras-2 (tf_keras) models for differential testing.

``random_case(seed, out_dir)`` builds one seeded model from the layer set
that kundajelab/deeplift 0.6.13 converts (Dense, Conv1D/2D, max/average
pooling, global pooling, BatchNormalization, ReLU/sigmoid/tanh/PReLU,
Dropout, Flatten, Concatenate of functional branches), saves it as
``case<seed>.h5`` in ``out_dir`` and returns ``(files, arrays, info)``:
``files`` the spec entry (``h5_file``, ``json_file``), ``arrays`` the
inputs and references (npz keys prefixed ``s<seed>_``) and ``info``
(family, score layer, target layer, number of outputs, input keys).

Every activation sits directly after a Dense or a convolution (possibly
through BatchNormalization/Dropout), so ``DeepLIFT_GenomicsDefault`` is
defined everywhere.  The same seed always gives the same model, weights
and data (numpy ``RandomState``; Keras initializers are not used).
``spec_conversions(...)`` turns cases into the original runner's spec
(see ``original_runner.py``): one conversion per case and mode.
"""
import os

import numpy as np

MODES = ["Rescale", "RevealCancel", "DeepLIFT_GenomicsDefault", "Gradient",
         "GuidedBackprop"]
FAMILIES = ["dense", "conv1d", "conv2d", "branches", "issue12"]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "prelu"]


def _keras():
    import tf_keras
    return tf_keras


#: draws of the batch-normalization statistics and PReLU slopes (shared
#: with ``make_expected.py``): weight name -> ``fn(rng, shape)``
COMMON_DRAWS = {
    "beta": lambda rng, shape: rng.normal(0, 0.3, shape),
    "moving_mean": lambda rng, shape: rng.normal(0, 0.5, shape),
    "moving_variance": lambda rng, shape: rng.uniform(0.3, 2.0, shape),
    "alpha": lambda rng, shape: rng.uniform(0.05, 0.4, shape),
}


def seed_weights(model, rng, draws):
    """Set every weight of ``model``, layer by layer, to
    ``draws[name](rng, shape)`` as float32 (``name``: the weight's short
    name, e.g. ``kernel``); a ValueError names any other weight."""
    for layer in model.layers:
        values = []
        for w in layer.weights:
            name = w.name.split("/")[-1].split(":")[0]
            if name not in draws:
                raise ValueError("unexpected weight " + w.name)
            values.append(draws[name](rng, tuple(w.shape)).astype("float32"))
        if values:
            layer.set_weights(values)


def _kernel(rng, shape):
    fan_in = int(np.prod(shape[:-1]))
    return rng.normal(0, rng.uniform(0.8, 2.0) / np.sqrt(fan_in), shape)


#: this module's draws: kernels of a random scale, some negative gammas
DRAWS = dict(
    COMMON_DRAWS, kernel=_kernel,
    bias=lambda rng, shape: rng.normal(0, 0.3, shape),
    gamma=lambda rng, shape: rng.uniform(0.5, 1.5, shape) * rng.choice(
        [-1, 1], shape, p=[0.2, 0.8]))


class _Builder(object):
    """Names layers l0, l1, ... and adds activation blocks."""

    def __init__(self, rng):
        self.rng = rng
        self.count = 0
        self.L = _keras().layers

    def name(self):
        self.count += 1
        return "l%d" % self.count

    def activation(self, x):
        kind = ACTIVATIONS[self.rng.randint(len(ACTIVATIONS))]
        if kind == "prelu":
            return self.L.PReLU(name=self.name())(x) if x.shape.rank == 2 \
                else self.L.PReLU(shared_axes=list(range(1, x.shape.rank - 1)),
                                  name=self.name())(x)
        return self.L.Activation(kind, name=self.name())(x)

    def block(self, layer_fn, x):
        """A linear layer with its activation: fused, separate, or through
        BatchNormalization (and maybe Dropout)."""
        style = self.rng.randint(3)
        if style == 0:
            kind = ACTIVATIONS[self.rng.randint(3)]
            return layer_fn(activation=kind, name=self.name())(x)
        x = layer_fn(name=self.name())(x)
        if style == 2:
            x = self.L.BatchNormalization(name=self.name())(x)
        if self.rng.rand() < 0.3:
            x = self.L.Dropout(0.5, name=self.name())(x)
        return self.activation(x)

    def dense_stack(self, x, depth):
        for _ in range(depth):
            units = int(self.rng.randint(3, 12))
            x = self.block(lambda **kw: self.L.Dense(units, **kw), x)
        return x

    def conv1d_stack(self, x, depth):
        for _ in range(depth):
            filters, width = int(self.rng.randint(2, 7)), int(
                self.rng.randint(2, 5))
            padding = ["valid", "same"][self.rng.randint(2)]
            x = self.block(lambda **kw: self.L.Conv1D(
                filters, width, padding=padding, **kw), x)
            if self.rng.rand() < 0.6 and x.shape[1] >= 4:
                pool = [self.L.MaxPooling1D, self.L.AveragePooling1D][
                    self.rng.randint(2)]
                size = int(self.rng.randint(2, 4))
                x = pool(size, strides=int(self.rng.randint(1, size + 1)),
                         padding="valid", name=self.name())(x)
        return x

    def conv2d_stack(self, x, depth):
        for _ in range(depth):
            filters = int(self.rng.randint(2, 6))
            padding = ["valid", "same"][self.rng.randint(2)]
            x = self.block(lambda **kw: self.L.Conv2D(
                filters, (2, 3), padding=padding, **kw), x)
            if self.rng.rand() < 0.6 and min(x.shape[1:3]) >= 4:
                pool = [self.L.MaxPooling2D, self.L.AveragePooling2D][
                    self.rng.randint(2)]
                x = pool((2, 2), padding="valid", name=self.name())(x)
        return x

    def collapse(self, x):
        """Flatten or global pooling of a sequence."""
        choice = self.rng.randint(3)
        if choice == 0 or x.shape.rank == 4:
            return self.L.Flatten(name=self.name())(x)
        pool = [self.L.GlobalMaxPooling1D, self.L.GlobalAveragePooling1D][
            choice - 1]
        return pool(name=self.name())(x)


def random_case(seed, out_dir, family=None, n=6):
    """One case (see the module docstring); ``family``: one of FAMILIES
    (default: by seed); ``"issue12"`` is the architecture of issue 12's
    RevealCancel report (Dense(15) -> BatchNorm -> ReLU -> Dense(10, tanh)
    -> Dense(7) -> ReLU -> output) with random weights, N(0, 1) inputs
    and zero references; ``n`` examples."""
    K = _keras()
    L = K.layers
    rng = np.random.RandomState(seed)
    family = family or FAMILIES[seed % len(FAMILIES)]
    b = _Builder(rng)
    key = "s%d_" % seed
    arrays = {}
    if family == "issue12":
        width = 10
        inp = L.Input((width,), name="inp")
        x = L.Dense(15, name=b.name())(inp)
        x = L.BatchNormalization(name=b.name())(x)
        x = L.Activation("relu", name=b.name())(x)
        x = L.Dense(10, activation="tanh", name=b.name())(x)
        x = L.Dense(7, name=b.name())(x)
        x = L.Activation("relu", name=b.name())(x)
        arrays[key + "x"] = rng.normal(0, 1, (n, width))
        arrays[key + "ref"] = np.zeros((n, width))
    elif family == "dense":
        width = int(rng.randint(3, 10))
        inp = L.Input((width,), name="inp")
        x = b.dense_stack(inp, int(rng.randint(1, 4)))
        arrays[key + "x"] = rng.normal(0, 1, (n, width))
        arrays[key + "ref"] = rng.normal(0, 0.3, (n, width))
    elif family == "conv1d":
        length = int(rng.randint(10, 20))
        inp = L.Input((length, 4), name="inp")
        x = b.conv1d_stack(inp, int(rng.randint(1, 3)))
        x = b.collapse(x)
        if rng.rand() < 0.5:
            x = b.dense_stack(x, 1)
        arrays[key + "x"] = np.eye(4)[rng.randint(0, 4, (n, length))]
        arrays[key + "ref"] = np.stack([s[rng.permutation(length)]
                                        for s in arrays[key + "x"]])
    elif family == "conv2d":
        shape = (int(rng.randint(5, 9)), int(rng.randint(5, 9)),
                 int(rng.randint(1, 3)))
        inp = L.Input(shape, name="inp")
        x = b.collapse(b.conv2d_stack(inp, int(rng.randint(1, 3))))
        arrays[key + "x"] = rng.normal(0, 1, (n,) + shape)
        arrays[key + "ref"] = rng.normal(0, 0.3, (n,) + shape)
    else:  # functional branches joined by Concatenate
        length = int(rng.randint(10, 16))
        inp = L.Input((length, 4), name="inp")
        branches = [b.collapse(b.conv1d_stack(inp, 1)) for _ in range(2)]
        x = L.Concatenate(axis=1, name=b.name())(branches)  # 0.6.13 fails on -1
        x = b.dense_stack(x, 1)
        arrays[key + "x"] = np.eye(4)[rng.randint(0, 4, (n, length))]
        arrays[key + "ref"] = np.full((n, length, 4), 0.25) + rng.normal(
            0, 0.05, (n, length, 4))
    n_out = int(rng.randint(2, 5))
    out = L.Dense(n_out, name="out")(x)
    out = L.Activation(["sigmoid", "softmax"][rng.randint(2)],
                       name="out_act")(out)
    functional = family == "branches" or (family != "issue12"
                                          and rng.rand() < 0.3)
    if functional:
        model = K.Model(inp, out, name="case%d" % seed)
    else:
        model = K.Sequential(
            [L.InputLayer(input_shape=tuple(inp.shape[1:]))]
            + [layer for layer in K.Model(inp, out).layers[1:]],
            name="case%d" % seed)
    seed_weights(model, rng, DRAWS)
    arrays = {k: v.astype("float32") for k, v in arrays.items()}
    fname = "case%d.h5" % seed
    model.save(os.path.join(out_dir, fname), save_format="h5")
    info = {"seed": seed, "family": family, "functional": functional,
            "find_scores_layer": "inp_0" if functional else 0,
            "target_layer": "out_0" if functional else -2,
            "n_out": n_out, "x": key + "x", "ref": key + "ref"}
    return {"h5_file": fname, "json_file": None}, arrays, info


def spec_conversions(cases, modes=MODES):
    """One runner conversion per (case, mode): contributions with the
    per-example references (batch 4) and with zero references (batch 5),
    multipliers with the references, for a random task."""
    convs = []
    for files, _, info in cases:
        rng = np.random.RandomState(info["seed"] + 1000)
        tasks = rng.randint(0, info["n_out"], 3)
        common = {"find_scores_layer": info["find_scores_layer"],
                  "target_layer": info["target_layer"],
                  "inputs": [info["x"]]}
        jobs = [
            dict(common, name="contribs_ref", kind="contribs",
                 task_idx=int(tasks[0]), references=[info["ref"]],
                 batch_size=4),
            dict(common, name="contribs_zero", kind="contribs",
                 task_idx=int(tasks[1]), references=None, batch_size=5),
            dict(common, name="multipliers_ref", kind="multipliers",
                 task_idx=int(tasks[2]), references=[info["ref"]],
                 batch_size=6),
        ]
        for mode in modes:
            conv = dict(files)
            conv["name"] = "case%d_%s" % (info["seed"], mode)
            conv["kwargs"] = {"nonlinear_mxts_mode": mode, "verbose": False}
            conv["jobs"] = jobs
            convs.append(conv)
    return convs
