"""A DeepExplain-compatible facade (marcoancona/DeepExplain 0.3 API).

::

    from deeplift.deepexplain import DeepExplain

    with DeepExplain() as de:          # session=/graph= accepted, ignored
        attributions = de.explain('deeplift', T, X, xs, ys=ys)
        explainer = de.get_explainer('intgrad', T, X, steps=50)
        a1 = explainer.run(xs1, ys1)
        a2 = explainer.run(xs2, ys2)

``X`` is a Keras model's symbolic input (a ``KerasTensor``) or a list of
them, ``T`` a symbolic tensor computed from them (a model output or an
intermediate layer's output); they are taken together as
``keras.Model(X, T)``.  ``T`` may also be a ``keras.Model`` (then ``X`` is
None or its inputs).  ``ys`` weights the outputs of ``T`` (e.g. one-hot
classes, shape (N,) + T's shape or (1,) + T's shape); by default all ones,
i.e. the attributions explain the sum of ``T``'s outputs.  With a list
``X``, ``xs`` is a list of arrays and a list of attributions is returned.

Methods (DeepExplain 0.3 names and parameters):

* ``zero``: zeros.
* ``saliency``: ``|d sum(T * ys) / dX|``.
* ``grad*input``: gradient times input.
* ``intgrad`` (``steps=100``, ``baseline=None`` = zeros): gradients at
  ``baseline + a * (x - baseline)`` for ``a = 1/steps, 2/steps, ..., 1``,
  averaged, times ``x - baseline``.
* ``elrp`` (``epsilon=1e-4``): epsilon-LRP: the gradient, except that at
  every elementwise nonlinearity ``y = f(z)`` the local derivative is
  replaced by ``y / (z + epsilon * sign(z))`` (sign(0) = +1); times the
  input.
* ``deeplift`` (``baseline=None`` = zeros): DeepLIFT Rescale (multipliers
  ``delta y / delta z`` at nonlinearities) times ``x - baseline``.
* ``occlusion`` (``window_shape=None`` = all ones, ``step=1``): for each
  window position, ``delta = sum(T(x) * ys) - sum(T(x occluded) * ys)``
  (window set to 0); each feature gets the sum of the deltas of the
  windows covering it divided by (number of covering windows x window
  size), exactly as DeepExplain.  Features no window covers get NaN (a
  warning is logged).
* ``shapley_sampling`` (``samples=5``, ``sampling_dims=None``; extension:
  ``seed=None``): Monte-Carlo Shapley values with a zero baseline.  For
  each of ``samples`` random permutations of the features, the features
  are zeroed one at a time in permutation order and each is credited with
  the drop of ``sum(T * ys)``.  ``sampling_dims`` lists the input axes
  (1-based, the batch axis being 0, as in DeepExplain) over which features
  are defined; the other axes are grouped into each feature.  The result
  has shape (N,) + the sampled axes' sizes.  Permutations are drawn with
  ``np.random.permutation`` (so ``np.random.seed`` makes runs repeatable)
  unless ``seed`` is given.

Gradient methods support several inputs; perturbation methods (occlusion,
shapley_sampling) one input, as in DeepExplain.

Implementation: ``saliency``, ``grad*input`` and ``intgrad`` differentiate
the Keras model with ``tf.GradientTape`` in a compiled ``tf.function``;
``deeplift`` and ``elrp`` convert the model with
:mod:`deeplift.conversion.kerasapi_conversion` and run this package's
engine (forward sweep, multiplier backward sweep); perturbation methods
run the model's compiled forward pass.  Everything is batched: the
interpolation steps of ``intgrad`` and the perturbed copies of the
perturbation methods are stacked into large batches.  ``batch_size`` is
the number of (possibly interpolated or perturbed) inputs evaluated per
compiled call (default :data:`DEFAULT_BATCH_SIZE`), and only affects
speed and memory.
"""
import logging

import numpy as np
import tensorflow as tf

from deeplift.conversion import kerasapi_conversion as kc
from deeplift import methods
from deeplift.graph import topological_order
from deeplift.rules.resolve import RuleResolver
from deeplift.scoring import Scorer, MULTIPLIERS
from deeplift.layers.core import NonlinearMxtsMode

logger = logging.getLogger(__name__)

#: inputs evaluated per compiled call when ``batch_size`` is None
DEFAULT_BATCH_SIZE = 512


def _check_batch_size(batch_size):
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError("batch_size must be a positive integer or None, "
                         "got %r" % (batch_size,))
    return int(batch_size)


def _segment_sum(values, idx, out):
    """``out[idx[r]] += values[r]`` for sorted ``idx``."""
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    out[idx[starts]] += np.add.reduceat(values, starts, axis=0)


# --------------------------------------------------------------------------
# explainers
# --------------------------------------------------------------------------

class AttributionMethod(object):
    """Base of the explainers; ``run(xs, ys=None, batch_size=None)``."""

    #: keyword parameters of the method and their defaults
    PARAMS = {}

    def __init__(self, model, multiple_inputs, **kwargs):
        unknown = sorted(set(kwargs) - set(self.PARAMS))
        if unknown:
            raise ValueError(
                "unknown parameter(s) %s for method %r; valid parameters: "
                "%s" % (unknown, self.NAME,
                        ", ".join(sorted(self.PARAMS)) or "(none)"))
        self.params = dict(self.PARAMS)
        self.params.update(kwargs)
        self.model = model
        self.has_multiple_inputs = multiple_inputs
        self.input_shapes = [tuple(int(d) if d is not None else None
                                   for d in x.shape[1:])
                             for x in model.inputs]
        self.input_dtypes = [np.dtype(getattr(x, "dtype", "float32")
                                      or "float32") for x in model.inputs]
        self.input_dtypes = [d if np.issubdtype(d, np.floating)
                             else np.dtype(np.float32)
                             for d in self.input_dtypes]
        self.output_shape = tuple(int(d) if d is not None else None
                                  for d in model.outputs[0].shape[1:])
        self._forward_fn = None

    # ----- validation ---------------------------------------------------
    def _check_xs(self, xs):
        if self.has_multiple_inputs:
            if not isinstance(xs, (list, tuple)):
                raise ValueError("X is a list of %d inputs, so xs must be a "
                                 "list of %d arrays"
                                 % (len(self.input_shapes),
                                    len(self.input_shapes)))
            xs = list(xs)
        else:
            xs = [xs]
        if len(xs) != len(self.input_shapes):
            raise ValueError("the model has %d input(s) but xs has %d "
                             "array(s)" % (len(self.input_shapes), len(xs)))
        out = []
        for j, (x, shape, dtype) in enumerate(
                zip(xs, self.input_shapes, self.input_dtypes)):
            x = np.asarray(x)
            if not (np.issubdtype(x.dtype, np.number)
                    or x.dtype == bool):
                raise ValueError("xs[%d] has non-numeric dtype %s"
                                 % (j, x.dtype))
            x = x.astype(dtype, copy=False)
            if x.ndim != len(shape) + 1 or any(
                    s is not None and s != d
                    for s, d in zip(shape, x.shape[1:])):
                raise ValueError("xs[%d] has shape %s but the input X "
                                 "expects (N, %s)"
                                 % (j, x.shape, ", ".join(
                                     "?" if s is None else str(s)
                                     for s in shape)))
            if not np.all(np.isfinite(x)):
                raise ValueError("xs[%d] contains NaN or infinite values"
                                 % j)
            out.append(x)
        if len(set(len(x) for x in out)) > 1:
            raise ValueError("the input arrays have different numbers of "
                             "examples: %s" % [len(x) for x in out])
        return out

    def _check_ys(self, ys, num):
        dtype = np.float32
        if ys is None:
            return np.ones((1,) + self.output_shape, dtype=dtype)
        ys = np.asarray(ys, dtype=dtype)
        if ys.ndim != len(self.output_shape) + 1 or ys.shape[0] not in (
                1, num) or any(s is not None and s != d for s, d in
                               zip(self.output_shape, ys.shape[1:])):
            raise ValueError(
                "ys must have the shape of T's output for every example, "
                "(N, %s) with N = %d (or 1 to share it); got shape %s"
                % (", ".join("?" if s is None else str(s)
                             for s in self.output_shape), num, ys.shape))
        if not np.all(np.isfinite(ys)):
            raise ValueError("ys contains NaN or infinite values")
        return ys

    def _check_baseline(self, baseline):
        if baseline is None:
            return [np.zeros((1,) + s, dtype=d)
                    for s, d in zip(self.input_shapes, self.input_dtypes)]
        if self.has_multiple_inputs:
            if not isinstance(baseline, (list, tuple)) or len(
                    baseline) != len(self.input_shapes):
                raise ValueError("baseline must be a list with one array "
                                 "per input (%d inputs)"
                                 % len(self.input_shapes))
            baseline = list(baseline)
        else:
            baseline = [baseline]
        out = []
        for j, (b, shape, dtype) in enumerate(
                zip(baseline, self.input_shapes, self.input_dtypes)):
            b = np.asarray(b, dtype=dtype)
            if b.shape != shape:
                raise ValueError("baseline%s has shape %s but must have the "
                                 "input's shape without the batch axis, %s"
                                 % ("[%d]" % j if self.has_multiple_inputs
                                    else "", b.shape, shape))
            if not np.all(np.isfinite(b)):
                raise ValueError("baseline contains NaN or infinite values")
            out.append(b[None])
        return out

    def _output(self, results):
        return results if self.has_multiple_inputs else results[0]

    # ----- compiled pieces ------------------------------------------------
    def _specs(self):
        return [tf.TensorSpec((None,) + s, tf.as_dtype(d))
                for s, d in zip(self.input_shapes, self.input_dtypes)]

    def _call_model(self, xs):
        out = self.model(list(xs) if len(xs) > 1 else xs[0],
                         training=False)
        if isinstance(out, (list, tuple)):
            out = out[0]
        return out

    def _forward(self):
        """Compiled ``xs -> sum(T(xs) * ys)`` per example."""
        if self._forward_fn is None:
            y_spec = tf.TensorSpec((None,) + self.output_shape, tf.float32)
            n = len(self.input_shapes)

            def forward(*args):
                out = tf.cast(self._call_model(args[:n]), tf.float32)
                weighted = out * args[n]
                return tf.reduce_sum(tf.reshape(
                    weighted, [tf.shape(weighted)[0], -1]), axis=1)
            self._forward_fn = tf.function(
                forward, input_signature=self._specs() + [y_spec])
        return self._forward_fn

    def run(self, xs, ys=None, batch_size=None):
        """Attributions of ``xs`` (an array, or a list for a multi-input
        model) for the sum of the target's outputs weighted by ``ys``
        (shape (N, ...) of the output, or 1 to share it; None: all ones),
        in batches of ``batch_size`` (None: ``DEFAULT_BATCH_SIZE``).
        Returns an array shaped like ``xs`` (a list of them for a
        multi-input model)."""
        raise NotImplementedError()


class _Zero(AttributionMethod):
    NAME = "zero"

    def run(self, xs, ys=None, batch_size=None):
        xs = self._check_xs(xs)
        self._check_ys(ys, len(xs[0]))
        _check_batch_size(batch_size)
        return self._output([np.zeros_like(x) for x in xs])


class _GradientBased(AttributionMethod):
    """Gradients of ``sum(T * ys)`` by ``tf.GradientTape``."""

    def __init__(self, *args, **kwargs):
        super(_GradientBased, self).__init__(*args, **kwargs)
        self._gradient_fn = None

    def _gradient(self):
        if self._gradient_fn is None:
            y_spec = tf.TensorSpec((None,) + self.output_shape, tf.float32)
            n = len(self.input_shapes)

            def gradient(*args):
                xs = list(args[:n])
                with tf.GradientTape() as tape:
                    for x in xs:
                        tape.watch(x)
                    out = tf.cast(self._call_model(xs), tf.float32)
                    total = tf.reduce_sum(out * args[n])
                return tape.gradient(
                    total, xs,
                    unconnected_gradients=tf.UnconnectedGradients.ZERO)
            self._gradient_fn = tf.function(
                gradient, input_signature=self._specs() + [y_spec])
        return self._gradient_fn

    def _gradients(self, xs, ys, batch_size):
        fn = self._gradient()
        num = len(xs[0])
        out = [np.empty_like(x) for x in xs]
        for start in range(0, num, batch_size):
            stop = min(start + batch_size, num)
            y = np.broadcast_to(ys if len(ys) == 1 else ys[start:stop],
                                (stop - start,) + ys.shape[1:])
            grads = fn(*[x[start:stop] for x in xs], y)
            for store, g in zip(out, grads):
                store[start:stop] = g.numpy()
        return out

    def run(self, xs, ys=None, batch_size=None):
        xs = self._check_xs(xs)
        ys = self._check_ys(ys, len(xs[0]))
        batch_size = _check_batch_size(batch_size)
        grads = self._gradients(xs, ys, batch_size)
        return self._output(self._attribution(xs, grads))


class _Saliency(_GradientBased):
    NAME = "saliency"

    def _attribution(self, xs, grads):
        return [np.abs(g) for g in grads]


class _GradientXInput(_GradientBased):
    NAME = "grad*input"

    def _attribution(self, xs, grads):
        return [g * x for g, x in zip(grads, xs)]


class _IntegratedGradients(_GradientBased):
    NAME = "intgrad"
    PARAMS = {"steps": 100, "baseline": None}

    def __init__(self, *args, **kwargs):
        super(_IntegratedGradients, self).__init__(*args, **kwargs)
        steps = self.params["steps"]
        if isinstance(steps, bool) or not isinstance(
                steps, (int, np.integer)) or steps < 1:
            raise ValueError("steps must be a positive integer, got %r"
                             % (steps,))
        self.steps = int(steps)
        self.baseline = self._check_baseline(self.params["baseline"])

    def run(self, xs, ys=None, batch_size=None):
        xs = self._check_xs(xs)
        num = len(xs[0])
        ys = self._check_ys(ys, num)
        batch_size = _check_batch_size(batch_size)
        fn = self._gradient()
        steps = self.steps
        alphas = np.linspace(1.0 / steps, 1.0, steps)
        diffs = [x - b for x, b in zip(xs, self.baseline)]
        sums = [np.zeros(x.shape, dtype=np.float64) for x in xs]
        total = num * steps
        for start in range(0, total, batch_size):
            rows = np.arange(start, min(start + batch_size, total))
            ii, ss = rows // steps, rows % steps
            points = []
            for b, d in zip(self.baseline, diffs):
                a = alphas[ss].reshape((-1,) + (1,) * (d.ndim - 1))
                points.append((b + a * d[ii]).astype(d.dtype))
            y = np.broadcast_to(ys if len(ys) == 1 else ys[ii],
                                (len(rows),) + ys.shape[1:])
            grads = fn(*points, y)
            for acc, g in zip(sums, grads):
                _segment_sum(g.numpy().astype(np.float64), ii, acc)
        return self._output([(s / steps * d).astype(d.dtype)
                             for s, d in zip(sums, diffs)])


class _EngineMethod(AttributionMethod):
    """Multipliers from this package's engine on the converted model."""

    #: the rule the model is converted with (subclasses take it from the
    #: method registry, deeplift.methods)
    NONLINEAR_MXTS_MODE = NonlinearMxtsMode.Rescale

    def __init__(self, *args, **kwargs):
        super(_EngineMethod, self).__init__(*args, **kwargs)
        dmodel = kc.convert_keras_model(
            self.model, nonlinear_mxts_mode=self.NONLINEAR_MXTS_MODE,
            verbose=False)
        outputs = dmodel.output_layers()
        if len(outputs) != 1:
            raise ValueError("T must be a single tensor; the converted "
                             "model has %d outputs" % len(outputs))
        target = outputs[0]
        # DeepExplain leaves softmax to its gradient; a method may replace
        # the rule of the other activations (epsilon-LRP)
        substitutions = {"softmax": NonlinearMxtsMode.Gradient}
        if self.ACTIVATION_RULE is not None:
            substitutions["activation"] = self._activation_rule
        resolver = RuleResolver(nonlinear_mxts_mode=self.NONLINEAR_MXTS_MODE,
                                substitutions=substitutions)
        resolver.apply(topological_order([target]))
        self.scorer = Scorer(dmodel.input_layers(), dmodel.input_layers(),
                             target, kind=MULTIPLIERS,
                             backward_override=resolver.backward_override())

    #: True where the method substitutes ``_activation_rule`` for the rule
    #: of every elementwise activation
    ACTIVATION_RULE = None

    def _activation_rule(self, layer, state, pos_mxts, neg_mxts):
        """The substituted rule: a list with one (pos, neg) increment."""
        raise NotImplementedError()

    def _multipliers(self, xs, refs, ys, batch_size):
        """Multipliers of the inputs with ``ys`` as the target's
        multipliers (one row per example, or one shared row)."""
        return self.scorer.run(xs, refs, target_weights=ys,
                               batch_size=batch_size)


class _DeepLIFTRescale(_EngineMethod):
    NAME = "deeplift"
    NONLINEAR_MXTS_MODE = methods.mode_of("rescale")
    PARAMS = {"baseline": None}

    def __init__(self, *args, **kwargs):
        super(_DeepLIFTRescale, self).__init__(*args, **kwargs)
        self.baseline = self._check_baseline(self.params["baseline"])

    def run(self, xs, ys=None, batch_size=None):
        xs = self._check_xs(xs)
        ys = self._check_ys(ys, len(xs[0]))
        batch_size = _check_batch_size(batch_size)
        mults = self._multipliers(xs, self.baseline, ys, batch_size)
        return self._output([m * (x - b) for m, x, b in
                             zip(mults, xs, self.baseline)])


class _EpsilonLRP(_EngineMethod):
    NAME = "elrp"
    PARAMS = {"epsilon": 1e-4}
    NONLINEAR_MXTS_MODE = methods.mode_of("gradient")
    ACTIVATION_RULE = True

    def __init__(self, *args, **kwargs):
        super(_EpsilonLRP, self).__init__(*args, **kwargs)
        epsilon = self.params["epsilon"]
        try:
            epsilon = float(epsilon)
        except (TypeError, ValueError):
            raise ValueError("epsilon must be a number > 0, got %r"
                             % (epsilon,))
        if not epsilon > 0 or not np.isfinite(epsilon):
            raise ValueError("LRP epsilon must be greater than zero (and "
                             "finite), got %r" % (epsilon,))
        self.epsilon = epsilon

    def _activation_rule(self, layer, state, pos_mxts, neg_mxts):
        z = state.input.act
        sign = tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z))
        scale = state.act / (z + self.epsilon * sign)
        pos = scale * pos_mxts
        return [(pos, pos if neg_mxts is pos_mxts else scale * neg_mxts)]

    def run(self, xs, ys=None, batch_size=None):
        xs = self._check_xs(xs)
        ys = self._check_ys(ys, len(xs[0]))
        batch_size = _check_batch_size(batch_size)
        zeros = [np.zeros((1,) + x.shape[1:], x.dtype) for x in xs]
        mults = self._multipliers(xs, zeros, ys, batch_size)
        return self._output([m * x for m, x in zip(mults, xs)])


class _PerturbationBased(AttributionMethod):
    """Evaluates ``sum(T * ys)`` on many masked copies of the input:
    ``mask`` rows (M, ...) times examples (N, ...) give M x N inputs,
    stacked into batches of ``batch_size``."""

    def __init__(self, *args, **kwargs):
        super(_PerturbationBased, self).__init__(*args, **kwargs)
        if len(self.input_shapes) != 1:
            raise ValueError("method %r supports models with one input "
                             "only (as DeepExplain); this one has %d"
                             % (self.NAME, len(self.input_shapes)))
        if any(s is None for s in self.input_shapes[0]):
            raise ValueError("method %r needs an input of fixed shape; got "
                             "%s" % (self.NAME, self.input_shapes[0]))
        self.input_shape = self.input_shapes[0]

    def _evaluate(self, x, ys, batch_size):
        fn = self._forward()
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), batch_size):
            stop = min(start + batch_size, len(x))
            y = np.broadcast_to(ys if len(ys) == 1 else ys[start:stop],
                                (stop - start,) + ys.shape[1:])
            out[start:stop] = fn(x[start:stop], y).numpy()
        return out

    def _evaluate_masked(self, x, ys, masks, batch_size):
        """``values[m, i] = sum(T(x[i] * masks[m]) * ys[i])``; masks are
        (M, D) over the flattened input (or anything that broadcasts)."""
        fn = self._forward()
        num, dim = len(x), int(np.prod(self.input_shape))
        flat = x.reshape(num, dim)
        values = np.empty((len(masks), num), dtype=np.float64)
        ex_chunk = min(num, batch_size)
        mask_chunk = max(1, batch_size // ex_chunk)
        for e0 in range(0, num, ex_chunk):
            e1 = min(e0 + ex_chunk, num)
            y_part = ys if len(ys) == 1 else ys[e0:e1]
            for m0 in range(0, len(masks), mask_chunk):
                m1 = min(m0 + mask_chunk, len(masks))
                batch = (masks[m0:m1, None, :] * flat[None, e0:e1]).reshape(
                    ((m1 - m0) * (e1 - e0),) + self.input_shape)
                y = np.broadcast_to(
                    y_part[None], (m1 - m0, e1 - e0) + ys.shape[1:]).reshape(
                        (-1,) + ys.shape[1:])
                values[m0:m1, e0:e1] = fn(batch, y).numpy().reshape(
                    m1 - m0, e1 - e0)
        return values


class _Occlusion(_PerturbationBased):
    NAME = "occlusion"
    PARAMS = {"window_shape": None, "step": None}

    def __init__(self, *args, **kwargs):
        super(_Occlusion, self).__init__(*args, **kwargs)
        shape = self.input_shape
        window = self.params["window_shape"]
        if window is None:
            window = (1,) * len(shape)
        try:
            window = tuple(int(w) for w in np.atleast_1d(window))
        except (TypeError, ValueError):
            raise ValueError("window_shape must be a tuple of %d positive "
                             "ints, got %r" % (len(shape), window))
        if len(window) != len(shape) or any(
                w < 1 or w > s for w, s in zip(window, shape)):
            raise ValueError("window_shape %s does not fit the input shape "
                             "%s: it needs %d positive entries, each at "
                             "most the input's size along that axis"
                             % (window, shape, len(shape)))
        step = self.params["step"]
        if step is None:
            step = 1
        if isinstance(step, (int, np.integer)) and not isinstance(step,
                                                                  bool):
            step = (int(step),) * len(shape)
        else:
            try:
                step = tuple(int(s) for s in step)
            except (TypeError, ValueError):
                raise ValueError("step must be a positive int or a tuple of "
                                 "%d positive ints, got %r"
                                 % (len(shape), step))
        if len(step) != len(shape) or any(s < 1 for s in step):
            raise ValueError("step must be a positive int or a tuple of %d "
                             "positive ints (one per input axis); got %s"
                             % (len(shape), step))
        self.window_shape, self.step = window, step
        index = np.arange(int(np.prod(shape))).reshape(shape)
        windows = np.lib.stride_tricks.sliding_window_view(index, window)
        windows = windows[tuple(slice(None, None, s) for s in step)]
        self.patches = windows.reshape((-1, int(np.prod(window))))
        logger.info("Input shape: %s; window_shape %s; step %s", shape,
                    window, step)

    def run(self, xs, ys=None, batch_size=None):
        x = self._check_xs(xs)[0]
        num = len(x)
        ys = self._check_ys(ys, num)
        batch_size = _check_batch_size(batch_size)
        dim = int(np.prod(self.input_shape))
        eval0 = self._evaluate(x, ys, batch_size)
        heatmap = np.zeros((num, dim), dtype=np.float64)
        weights = np.zeros(dim, dtype=np.float64)
        # chunks of windows: masks (W, D), deltas (W, N)
        chunk = max(1, min(len(self.patches),
                           (1 << 22) // max(dim, 1)))
        for w0 in range(0, len(self.patches), chunk):
            patches = self.patches[w0:w0 + chunk]
            cover = np.zeros((len(patches), dim), dtype=x.dtype)
            np.put_along_axis(cover, patches, 1, axis=1)
            values = self._evaluate_masked(x, ys, 1 - cover, batch_size)
            deltas = eval0[None, :] - values
            heatmap += deltas.T @ cover.astype(np.float64)
            weights += cover.sum(axis=0) * patches.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            attribution = heatmap / weights[None, :]
        if np.any(weights == 0):
            logger.warning("Attributions generated by Occlusion method "
                           "contain nans, probably because window_shape and "
                           "step do not allow to cover the all input.")
        return self._output([attribution.reshape(x.shape).astype(x.dtype)])


class _ShapleySampling(_PerturbationBased):
    NAME = "shapley_sampling"
    PARAMS = {"samples": 5, "sampling_dims": None, "seed": None}

    def __init__(self, *args, **kwargs):
        super(_ShapleySampling, self).__init__(*args, **kwargs)
        samples = self.params["samples"]
        if isinstance(samples, bool) or not isinstance(
                samples, (int, np.integer)) or samples < 1:
            raise ValueError("samples must be a positive integer, got %r"
                             % (samples,))
        self.samples = int(samples)
        ndim = len(self.input_shape) + 1          # with the batch axis
        dims = self.params["sampling_dims"]
        if dims is None:
            dims = list(range(1, ndim))
        else:
            try:
                dims = [int(d) for d in dims]
            except (TypeError, ValueError):
                raise ValueError("sampling_dims must be a list of axes "
                                 "between 1 and %d, got %r"
                                 % (ndim - 1, dims))
            if not 0 < len(dims) <= ndim - 1:
                raise ValueError("sampling_dims must be a list containing 1 "
                                 "to %d elements" % (ndim - 1))
            if 0 in dims:
                raise ValueError("Cannot sample batch dimension: remove 0 "
                                 "from sampling_dims")
            if any(d < 1 or d > ndim - 1 for d in dims) or len(
                    set(dims)) != len(dims):
                raise ValueError("Invalid value in sampling_dims %s: axes "
                                 "must be distinct, between 1 and %d"
                                 % (dims, ndim - 1))
        self.sampling_dims = dims
        # feature id of every input element
        sampled_shape = tuple(self.input_shape[d - 1] for d in dims)
        grids = np.indices(self.input_shape)
        self.feature_of = np.ravel_multi_index(
            tuple(grids[d - 1] for d in dims), sampled_shape).ravel()
        self.sampled_shape = sampled_shape
        self.num_features = int(np.prod(sampled_shape))

    def run(self, xs, ys=None, batch_size=None):
        x = self._check_xs(xs)[0]
        num = len(x)
        ys = self._check_ys(ys, num)
        batch_size = _check_batch_size(batch_size)
        nf, samples = self.num_features, self.samples
        seed = self.params["seed"]
        rng = np.random if seed is None else np.random.RandomState(seed)
        perms = np.stack([rng.permutation(nf) for _ in range(samples)])
        ranks = np.argsort(perms, axis=1)        # position of each feature
        eval0 = self._evaluate(x, ys, batch_size)
        result = np.zeros((num, nf), dtype=np.float64)
        # masks for (sample r, step j): features at positions < j zeroed
        rows_per_chunk = max(1, (1 << 22) // max(len(self.feature_of), 1))
        pairs = [(r, j) for r in range(samples) for j in range(1, nf + 1)]
        previous = {}
        for c0 in range(0, len(pairs), rows_per_chunk):
            chunk = pairs[c0:c0 + rows_per_chunk]
            rr = np.array([p[0] for p in chunk])
            jj = np.array([p[1] for p in chunk])
            masks = (ranks[rr][:, self.feature_of] >= jj[:, None]).astype(
                x.dtype)
            values = self._evaluate_masked(x, ys, masks, batch_size)
            for (r, j), value in zip(chunk, values):
                before = eval0 if j == 1 else previous[r]
                result[:, perms[r, j - 1]] += before - value
                previous[r] = value
        shapley = result / samples
        return self._output([shapley.reshape(
            (num,) + self.sampled_shape).astype(x.dtype)])


# --------------------------------------------------------------------------
# the context manager
# --------------------------------------------------------------------------

attribution_methods = {
    "zero": _Zero,
    "saliency": _Saliency,
    "grad*input": _GradientXInput,
    "intgrad": _IntegratedGradients,
    "elrp": _EpsilonLRP,
    "deeplift": _DeepLIFTRescale,
    "occlusion": _Occlusion,
    "shapley_sampling": _ShapleySampling,
}


def _as_model(T, X):
    """(keras model computing T from X, whether X is a list)."""
    import keras
    if isinstance(T, keras.Model):
        if X is None:
            return T, len(T.inputs) > 1
        multiple = isinstance(X, (list, tuple))
        xs = list(X) if multiple else [X]
        if len(xs) == len(T.inputs) and all(
                a is b for a, b in zip(xs, T.inputs)):
            return T, multiple
        return keras.Model(xs if multiple else X, T.outputs[0]), multiple
    if X is None:
        raise ValueError("X (the model's symbolic input, or a list of them) "
                         "is required unless T is a keras.Model")
    if isinstance(T, (list, tuple)):
        raise ValueError("T must be a single symbolic tensor, not a list")
    multiple = isinstance(X, (list, tuple))
    try:
        model = keras.Model(list(X) if multiple else X, T)
    except Exception as exc:
        raise ValueError("cannot build a model computing T from X: T and X "
                         "must be symbolic tensors (KerasTensor) of one "
                         "Keras model, with T computed from X (%s)" % exc)
    return model, multiple


class DeepExplain(object):
    """Context manager with DeepExplain 0.3's interface.

    ``graph`` and ``session`` are accepted for compatibility and ignored
    (TensorFlow 2 has neither).
    """

    def __init__(self, graph=None, session=None):
        if graph is not None or session is not None:
            logger.debug("DeepExplain: graph= and session= are ignored "
                         "(TensorFlow 2 / Keras 3)")
        self.enabled = False

    def __enter__(self):
        self.enabled = True
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.enabled = False
        return False

    def get_explainer(self, method, T, X, **kwargs):
        """An explainer for ``method`` with ``.run(xs, ys=None,
        batch_size=None)``; build once, run on many batches."""
        if not self.enabled:
            raise RuntimeError("Explainer can be created only within a "
                               "DeepExplain context.")
        if method not in attribution_methods:
            raise ValueError("unknown method %r; valid choices: %s"
                             % (method, ", ".join(
                                 sorted(attribution_methods))))
        model, multiple = _as_model(T, X)
        logger.info("DeepExplain: running %r explanation method", method)
        return attribution_methods[method](model, multiple, **kwargs)

    def explain(self, method, T, X, xs, ys=None, batch_size=None, **kwargs):
        """Attributions of ``T`` (weighted by ``ys``) to ``X`` for the
        examples ``xs`` with ``method``; see the module docstring."""
        return self.get_explainer(method, T, X, **kwargs).run(
            xs, ys=ys, batch_size=batch_size)
