"""Integrated gradients with the API of the IntegratedGradients (Keras)
package (``from IntegratedGradients import integrated_gradients``)::

    from deeplift.integrated_gradients import integrated_gradients
    ig = integrated_gradients(model)                  # a Keras model
    attributions = ig.explain(sample, outc=0)         # sample: no batch axis

For a sample ``x`` and a reference ``r`` (zeros when ``reference=False``)
the explanation of output channel ``c`` is the left Riemann sum

    sum_{s=0}^{num_steps-1} grad_x y_c(r + (x - r) * s / num_steps)
                            * (x - r) / num_steps

as that package computes it.  ``model``: a Keras 3 or tf_keras model
(Sequential or functional) on the TensorFlow backend.  Multi-input models
take ``sample`` (and ``reference``) as a list, one array per input, and
return a list.  Output channels index the model's output flattened per
example; for a multi-output model, the outputs' flattened channels one
after the other (output 0 first).  Gradients are taken by
``tf.GradientTape`` in inference mode (``training=False``).
"""
import logging

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)


def _model_inputs(model):
    inputs = model.inputs
    if not inputs:
        raise ValueError("the model has no inputs yet: build it (call it on "
                         "data or give an Input layer) before explaining")
    return list(inputs)


def _num_channels(model):
    outputs = model.outputs
    if not outputs:
        raise ValueError("the model has no outputs yet: build it first")
    return sum(int(np.prod(o.shape[1:])) for o in outputs)


class integrated_gradients(object):  # noqa: N801 (the package's name)
    """``integrated_gradients(model, outchannels=[], verbose=1)``.

    ``outchannels``: the output channels that may be explained (default:
    all); ``verbose``: log (at INFO) what is built.
    """

    def __init__(self, model, outchannels=[], verbose=1):
        if not hasattr(model, "inputs") or not hasattr(model, "outputs"):
            raise TypeError("integrated_gradients needs a Keras model "
                            "(Sequential or functional); got %s"
                            % type(model).__name__)
        self.model = model
        self.input_shapes = [tuple(t.shape[1:]) for t in _model_inputs(model)]
        self.input_dtypes = [np.dtype(getattr(t.dtype, "name", t.dtype))
                             for t in _model_inputs(model)]
        total = _num_channels(model)
        self.outchannels = list(outchannels) if len(outchannels) else \
            list(range(total))
        for c in self.outchannels:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) \
                    or not 0 <= c < total:
                raise ValueError("output channel %r is out of range: the "
                                 "model has %d output channels (0..%d)"
                                 % (c, total, total - 1))
        if verbose:
            logger.info("Evaluated output channels (0-based index): %s",
                        "All" if not len(outchannels) else self.outchannels)
        self._gradient_fn = tf.function(self._gradients,
                                        reduce_retracing=True)

    def _gradients(self, xs, channel):
        """Gradients of output channel ``channel`` (summed over the batch,
        so each example's own gradient) with respect to each input."""
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            outputs = self.model(xs if len(xs) > 1 else xs[0],
                                 training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            flat = tf.concat([tf.reshape(o, (tf.shape(o)[0], -1))
                              for o in outputs], axis=1)
            target = tf.reduce_sum(tf.gather(flat, channel, axis=1))
        return tape.gradient(target, xs)

    @staticmethod
    def linearly_interpolate(sample, reference=False, num_steps=50):
        """``(points, num_steps, step)``: ``points[s] = reference + (sample
        - reference) * s / num_steps`` for s = 0..num_steps-1 (float64,
        shape (num_steps,) + sample.shape) and ``step = (sample -
        reference) / num_steps``.  ``reference=False``: zeros."""
        sample = np.asarray(sample)
        if reference is False or reference is None:
            reference = np.zeros(sample.shape)
        reference = np.asarray(reference)
        if sample.shape != reference.shape:
            raise ValueError("sample and reference shapes differ: %s vs %s"
                             % (sample.shape, reference.shape))
        fractions = np.arange(num_steps, dtype=np.float64) / num_steps
        points = reference[None] + (sample - reference)[None] * \
            fractions.reshape((num_steps,) + (1,) * sample.ndim)
        return points, num_steps, (sample - reference) * (1.0 / num_steps)

    def explain(self, sample, outc=0, reference=False, num_steps=50,
                verbose=0):
        """Integrated gradients of output channel ``outc`` for one
        ``sample`` (no batch axis; a list of arrays for a multi-input
        model), from ``reference`` (same structure; False: zeros) in
        ``num_steps`` steps.  Returns an array shaped like the sample (a
        list for a list)."""
        several = isinstance(sample, (list, tuple))
        samples = list(sample) if several else [sample]
        if reference is False or reference is None:
            references = [False] * len(samples)
        else:
            if several != isinstance(reference, (list, tuple)):
                raise ValueError("reference must be a list exactly when "
                                 "sample is (one array per input)")
            references = list(reference) if several else [reference]
            if len(references) != len(samples):
                raise ValueError("%d references for %d inputs"
                                 % (len(references), len(samples)))
        if len(samples) != len(self.input_shapes):
            raise ValueError(
                "the model has %d input(s) but %d sample array(s) were given"
                "%s" % (len(self.input_shapes), len(samples),
                        "; pass a list, one array per input"
                        if len(self.input_shapes) > 1 else ""))
        for i, (s, shape) in enumerate(zip(samples, self.input_shapes)):
            if np.ndim(s) != len(shape) or any(
                    d is not None and d != n for d, n in zip(shape,
                                                             np.shape(s))):
                raise ValueError("sample %d has shape %s but the model's "
                                 "input %d takes %s (one sample, without "
                                 "the batch axis)" % (i, np.shape(s), i,
                                                      shape))
        if isinstance(num_steps, bool) or not isinstance(
                num_steps, (int, np.integer)) or num_steps < 1:
            raise ValueError("num_steps must be a positive integer, got %r"
                             % (num_steps,))
        if outc not in self.outchannels:
            raise ValueError("output channel %r was not built; channels: "
                             "%s (pass outchannels= to integrated_gradients)"
                             % (outc, self.outchannels))
        if verbose:
            logger.info("Explaining output channel %d", outc)
        points, steps = [], []
        for s, r in zip(samples, references):
            p, _, step = self.linearly_interpolate(s, r, num_steps)
            points.append(p)
            steps.append(step)
        xs = [tf.constant(p.astype(dtype))
              for p, dtype in zip(points, self.input_dtypes)]
        gradients = self._gradient_fn(xs, tf.constant(int(outc)))
        explanation = [np.sum(g.numpy(), axis=0) * step
                       for g, step in zip(gradients, steps)]
        return explanation if several else explanation[0]
