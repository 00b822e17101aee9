"""Layers computed by an inner graph of deeplift layers.

A :class:`Composite` (layer normalization, a recurrent layer unrolled over
time) describes its op as a small graph of existing layers -- linear maps,
elementwise nonlinearities, Shapley products -- built once its input shape
is known.  Its contributions and multipliers are those of that graph: the
inner forward sweep runs on the outer input's activations and references,
the inner input takes the outer input's (pos, neg) contributions, and the
outer (pos, neg) multipliers are swept back through the inner graph.  Every
inner layer keeps its own summation-to-delta property, so the composite
does too.  Layers used only inside composites (time slices, stacking,
elementwise affine maps) are defined here as well.
"""
import logging

import numpy as np
import tensorflow as tf

from deeplift.graph import topological_order, forward_sweep, backward_sweep
from deeplift.layers.core import (Input, Node, SingleInputMixin,
                                  ListInputMixin, StructuralLayer,
                                  NonlinearMxtsMode, check_mode,
                                  as_float_array, zero_multipliers)
from deeplift.rules.ops import scaled_contribs, scaled_multipliers

logger = logging.getLogger(__name__)


class Port(Input):
    """The inner input of a :class:`Composite`: its contributions are the
    outer input's."""

    def contribs(self, state):
        return state.cache["outer_contribs"]


class Composite(SingleInputMixin, Node):
    """Base of layers defined by an inner graph.

    Subclasses implement ``build_inner(port)``: wire deeplift layers from
    ``port`` (a :class:`Port` with this layer's input shape) and return
    the inner output layer.  ``nonlinear_mxts_mode`` is the mode of the
    inner nonlinearities and products; DeepLIFT_GenomicsDefault means the
    class's ``genomics_default`` (the inner layers have no Dense or
    convolution of the model before them to decide by).
    """

    genomics_default = NonlinearMxtsMode.Rescale
    #: the backward sweep passes its override (e.g. epsilon-LRP's rule for
    #: activations) on to the inner graph
    has_inner_graph = True

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                 **kwargs):
        super(Composite, self).__init__(**kwargs)
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")
        self._port = self._out = self._order = None

    def build_inner(self, port):
        """Wire the inner graph from ``port`` (a :class:`Port` with this
        layer's input shape) and return its output layer."""
        raise NotImplementedError()

    def inner_name(self, stage):
        """Name of an inner layer: ``<this layer's name>/<stage>``."""
        return "%s/%s" % (self.name, stage)

    def add(self, stage, layer, inputs):
        """Wire the inner ``layer`` (named for ``stage``) to ``inputs`` (a
        layer or a list) and infer its shape; returns it."""
        layer.name = self.inner_name(stage)
        layer.verbose = False
        layer.set_inputs(inputs)
        layer.build_fwd_pass_vars()
        return layer

    def resolve_mode(self):
        """Replace DeepLIFT_GenomicsDefault by ``genomics_default`` (before
        the inner graph is built)."""
        if (self.nonlinear_mxts_mode
                == NonlinearMxtsMode.DeepLIFT_GenomicsDefault):
            self.nonlinear_mxts_mode = self.genomics_default
            if self.verbose:
                logger.info("%s layer %s: %s means %s inside it",
                            type(self).__name__, self.name,
                            NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
                            self.genomics_default)

    def _compute_shape(self, input_shapes):
        self.resolve_mode()
        self._port = Port(batch_shape=input_shapes[0],
                          name=self.inner_name("input"))
        self._out = self.build_inner(self._port)
        self._out.build_fwd_pass_vars()
        self._order = topological_order([self._out])
        return tuple(self._out.get_shape())

    def forward(self, xs):
        states = forward_sweep(self._order, {self._port: xs[0]})
        return states[id(self._out)].act

    def sweep_inner(self, parents, fuse, pair_example=None, examples=None):
        """The inner graph's states on the input's activations and
        references, and its output's state: the outer forward sweep's
        evaluation of this layer (:func:`deeplift.graph.forward_sweep`),
        whose states :meth:`inner_states` then uses.  ``pair_example`` /
        ``examples``: the pair mode of the outer sweep (the inner sweep
        runs in it too).  None for subclasses whose forward pass or inner
        states are not this plain sweep (they override :meth:`forward` or
        :meth:`inner_states`)."""
        if (type(self).inner_states is not Composite.inner_states
                or type(self).forward is not Composite.forward):
            return None
        feed = parents[0].act if examples is None else examples[0]
        states = forward_sweep(self._order, {self._port: feed},
                               {self._port: parents[0].ref}, fuse=fuse,
                               pair_example=pair_example)
        return states, states[id(self._out)]

    def inner_states(self, state):
        """States of the inner layers for the outer ``state`` (computed
        once per state: by the outer forward sweep, see
        :meth:`sweep_inner`, or here)."""
        if "inner" not in state.cache:
            states = state.cache.pop("inner_sweep", None)
            if states is None:
                states = forward_sweep(self._order,
                                       {self._port: state.input.act},
                                       {self._port: state.input.ref},
                                       fuse=state.fuse)
            states[id(self._port)].cache["outer_contribs"] = \
                state.input.contribs
            state.cache["inner"] = states
        return state.cache["inner"]

    def contribs(self, state):
        return self.inner_states(state)[id(self._out)].contribs

    def backward(self, state, pos_mxts, neg_mxts, override=None):
        """The inner graph's backward sweep (with the outer sweep's
        ``override``, if any) from ``(pos_mxts, neg_mxts)``."""
        mxts = backward_sweep(self._order, self.inner_states(state),
                              self._out, pos_mxts, override=override,
                              neg_seed=neg_mxts)
        if id(self._port) not in mxts:
            zeros = zero_multipliers(state.input.act)
            return [(zeros, zeros)]
        return [mxts[id(self._port)]]


class ElementwiseAffine(SingleInputMixin, Node):
    """``x * scale + offset`` with ``scale`` and ``offset`` arrays
    broadcastable to the input (e.g. per feature, or ``1 - z``).  A
    negative scale swaps the positive and negative parts."""

    def __init__(self, scale, offset=None, **kwargs):
        super(ElementwiseAffine, self).__init__(**kwargs)
        self.scale = as_float_array(scale)
        self.offset = (np.zeros_like(self.scale) if offset is None
                       else as_float_array(offset))

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def _scale(self, dtype):
        return tf.constant(self.scale, dtype=dtype)

    def forward(self, xs):
        x = xs[0]
        return x * self._scale(x.dtype) + tf.constant(self.offset, x.dtype)

    def contribs(self, state):
        pos_in, neg_in = state.input.contribs
        scale = self._scale(pos_in.dtype)
        return scaled_contribs(pos_in, neg_in, scale)

    def backward(self, state, pos_mxts, neg_mxts):
        scale = self._scale(pos_mxts.dtype)
        return [scaled_multipliers(pos_mxts, neg_mxts, scale)]


class Slice(SingleInputMixin, StructuralLayer):
    """``x[:, ..., start:stop]`` along ``axis`` (a time step, a gate), with
    ``keep_axis=False`` dropping an axis of size 1 (``x[:, t]``)."""

    def __init__(self, axis, start, stop, keep_axis=True, **kwargs):
        super(Slice, self).__init__(**kwargs)
        self.axis, self.start, self.stop = int(axis), int(start), int(stop)
        self.keep_axis = bool(keep_axis)

    def forward(self, xs):
        x = xs[0]
        axis = self.axis % len(x.shape)
        index = [slice(None)] * len(x.shape)
        index[axis] = (slice(self.start, self.stop) if self.keep_axis
                       else self.start)
        return x[tuple(index)]

    def _compute_shape(self, input_shapes):
        shape = list(input_shapes[0])
        axis = self.axis % len(shape)
        if self.keep_axis:
            shape[axis] = self.stop - self.start
        else:
            del shape[axis]
        return tuple(shape)


class Stack(ListInputMixin, StructuralLayer):
    """Stack the inputs along a new ``axis`` (time steps -> a sequence)."""

    def __init__(self, axis=1, **kwargs):
        super(Stack, self).__init__(**kwargs)
        self.axis = int(axis)

    def forward(self, xs):
        return tf.stack(xs, axis=self.axis)

    def _compute_shape(self, input_shapes):
        shape = list(input_shapes[0])
        shape.insert(self.axis % (len(shape) + 1), len(input_shapes))
        return tuple(shape)


class Reverse(SingleInputMixin, StructuralLayer):
    """Reverse the order along ``axis`` (time, for backward layers)."""

    def __init__(self, axis=1, **kwargs):
        super(Reverse, self).__init__(**kwargs)
        self.axis = int(axis)

    def forward(self, xs):
        return tf.reverse(xs[0], axis=[self.axis])

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])


class Zeros(SingleInputMixin, StructuralLayer):
    """Zeros of shape ``(batch,) + shape`` (an initial recurrent state);
    nothing flows back to the input."""

    def __init__(self, shape, **kwargs):
        super(Zeros, self).__init__(**kwargs)
        self.shape = tuple(int(d) for d in shape)

    def forward(self, xs):
        x = xs[0]
        return tf.zeros(tf.concat([tf.shape(x)[:1],
                                   tf.constant(self.shape, tf.int32)], 0),
                        dtype=x.dtype)

    def _compute_shape(self, input_shapes):
        return (None,) + self.shape

    def backward(self, state, pos_mxts, neg_mxts):
        zeros = zero_multipliers(state.input.act)
        return [(zeros, zeros)]
