"""Core layers, enums and the layer contract.

A layer is a stateless description of one op plus the DeepLIFT rule that
sends multipliers back through it.  The contract used by
:mod:`deeplift.graph`:

* ``forward(xs)`` - the op, ``xs`` a list of input tensors (one per input
  layer); the same op runs on the input batch and on the references;
* ``contribs(state)`` - ``(pos, neg)`` with ``pos + neg == state.diff``;
* ``backward(state, pos_mxts, neg_mxts)`` - a list with one
  ``(pos_mxts, neg_mxts)`` increment per input.

The original package's stateful methods (``set_inputs``,
``build_fwd_pass_vars``, ``get_activation_vars``, ``update_task_index``,
...) are kept as a thin layer over that contract.
"""
import logging

import numpy as np
import tensorflow as tf

from deeplift.graph import vjp
from deeplift.rules.ops import (positive_part, negative_part,  # noqa: F401
                                select_by_sign)
from deeplift.modes import (ScoringMode, NonlinearMxtsMode,  # noqa: F401
                            DenseMxtsMode, ConvMxtsMode, ActivationNames,
                            MaxPoolDeepLiftMode, check_mode)

logger = logging.getLogger(__name__)


def as_float_array(value):
    """A numpy float array, keeping float64 (for exactness checks) and
    casting anything else to float32; computations cast to the data's
    dtype."""
    array = np.asarray(value)
    if array.dtype != np.float64:
        array = array.astype(np.float32)
    return array


def zero_multipliers(x, scalar=False):
    """Zeros in ``x``'s own dtype (int ids get int zeros) and shape (a scalar if ``scalar``)."""
    return tf.zeros((), x.dtype) if scalar else tf.zeros_like(x)


def captured(layer, key, array, dtype):
    """``array`` as an eager tensor of ``dtype``, made once per layer, key
    and dtype (outside any trace, via ``tf.init_scope``): traced functions
    capture it instead of embedding a copy as a constant, so weights are
    stored once however many functions are traced, and graph rewrites do
    not fold them (TensorFlow's optimiser turns ``x / constant`` into
    ``x * (1 / constant)``, which rounds differently from Keras' division
    by a variable)."""
    cache = layer.__dict__.setdefault("_captured", {})
    dtype = tf.as_dtype(dtype)
    entry = cache.get((key, dtype))
    # the array is kept with its tensor: a key made from id(array) can
    # then never be reused by another array
    if entry is None or entry[0] is not array:
        with tf.init_scope():
            entry = cache[(key, dtype)] = (array, tf.constant(array,
                                                              dtype=dtype))
    return entry[1]


class SymbolicVar(object):
    """Stands for a tensor of the original's TF1 graph (what
    ``get_activation_vars()`` etc. return).  Pass these to
    :func:`deeplift.util.compile_func` to get a callable."""

    KINDS = ("activation", "reference", "pos_mxts", "neg_mxts", "mxts",
             "target_contribs", "pos_contribs", "neg_contribs")

    def __init__(self, layer, kind):
        assert kind in self.KINDS
        self.layer = layer
        self.kind = kind

    def __repr__(self):
        return "<deeplift %s of layer %r>" % (self.kind,
                                              self.layer.get_name())

    def get_shape(self):
        """The shape of the layer's output, batch axis first (None)."""
        return self.layer.get_shape()


class OneDimOutputMixin(object):
    """The target-layer state of the original API: scoring mode, task
    index and active flag (0.6.13 kept them in a ``tf.Variable``; here
    scoring functions read them at call time)."""

    def set_scoring_mode(self, scoring_mode):
        """Set the :class:`~deeplift.modes.ScoringMode` used when this layer is
        the target (a member or its name; ValueError if unknown)."""
        self._scoring_mode = check_mode(scoring_mode, ScoringMode,
                                        "scoring_mode")

    def update_task_index(self, task_index):
        """Set the task (flat output index) used when this layer is the target."""
        self._task_index = int(task_index)

    def set_active(self):
        """Mark this layer as the active target (its seed multiplier is 1)."""
        self._active = 1.0

    def set_inactive(self):
        """Mark this layer as not the target (its seed multiplier is 0)."""
        self._active = 0.0

    def update_task_vector(self):
        """0.6.13 copied the task index into its session here; the index
        and active flag are read at call time, so nothing is left to do."""

    def _get_task_index(self):
        return self._task_index


class Layer(OneDimOutputMixin):
    """Base of every layer; an ``Input`` or a ``Node``."""

    def __init__(self, name=None, verbose=True):
        self.name = name
        self.verbose = verbose
        self.inputs = None
        self._shape = None
        self._output_layers = []
        self._built = False
        # compatibility state of the original's target layer
        self._scoring_mode = None
        self._task_index = 0
        self._active = 0.0
        self._mxts_updated = False

    # ----- the contract ---------------------------------------------------
    def input_layers(self):
        """List of the layers feeding this one (empty for Input)."""
        raise NotImplementedError()

    def forward(self, xs):
        """The layer's op: a tensor computed from ``xs``, the list of the
        input layers' output tensors (one per input, batch axis first)."""
        raise NotImplementedError()

    def contribs(self, state):
        """Default: split the output difference by sign."""
        return positive_part(state.diff), negative_part(state.diff)

    def backward(self, state, pos_mxts, neg_mxts):
        """Multipliers of the inputs from this layer's multipliers.

        ``state`` is the layer's :class:`~deeplift.graph.LayerState`;
        ``pos_mxts`` and ``neg_mxts`` are the multipliers of the positive and
        negative parts of its output difference (shape of the output).
        Returns a list with one ``(pos, neg)`` pair of tensors per input
        layer, each of that input's shape."""
        raise NotImplementedError()

    # ----- original API -----------------------------------------------------
    def get_name(self):
        """The layer's name (a string, or None when it was given none)."""
        return self.name

    def get_inputs(self):
        """The input layer(s) as given to ``set_inputs`` (None for an
        Input)."""
        return self.inputs

    def get_shape(self):
        """The output shape, a tuple with None for the batch axis; a
        RuntimeError before ``build_fwd_pass_vars()`` has inferred it."""
        if self._shape is None:
            raise RuntimeError("layer %r has no shape yet: call "
                               "build_fwd_pass_vars() on the output layer"
                               % (self.name,))
        return self._shape

    def get_output_layers(self):
        """The layers that take this layer's output as an input (a list)."""
        return self._output_layers

    def build_fwd_pass_vars(self, output_layer=None):
        """Register ``output_layer`` and infer shapes of this layer and its
        ancestors (idempotent)."""
        if output_layer is not None and not any(
                o is output_layer for o in self._output_layers):
            self._output_layers.append(output_layer)
        if not self._built:
            self._build()
            self._built = True

    def reset_built_fwd_pass_vars(self):
        """Forget the inferred shapes and output layers of this layer and its
        ancestors, so that ``build_fwd_pass_vars()`` runs again."""
        self._built = False
        self._output_layers = []
        for parent in self.input_layers():
            parent.reset_built_fwd_pass_vars()

    def _build(self):
        raise NotImplementedError()

    def get_activation_vars(self):
        """A :class:`SymbolicVar` for this layer's activations on the input
        (for :func:`deeplift.util.compile_func`)."""
        return SymbolicVar(self, "activation")

    def get_reference_vars(self):
        """A :class:`SymbolicVar` for this layer's activations on the reference."""
        return SymbolicVar(self, "reference")

    def get_pos_mxts(self):
        """A :class:`SymbolicVar` for the multipliers of the positive part of
        this layer's difference from reference."""
        return SymbolicVar(self, "pos_mxts")

    def get_neg_mxts(self):
        """A :class:`SymbolicVar` for the multipliers of the negative part of
        this layer's difference from reference."""
        return SymbolicVar(self, "neg_mxts")

    def get_mxts(self):
        """Multipliers (mean of the positive and negative multipliers)."""
        return SymbolicVar(self, "mxts")

    def get_target_contrib_vars(self):
        """A :class:`SymbolicVar` for this layer's contributions to the target
        (multipliers times the difference from reference)."""
        return SymbolicVar(self, "target_contribs")

    def get_pos_and_neg_contribs(self):
        """Two :class:`SymbolicVar`: the positive and the negative part of this
        layer's contributions to the target."""
        return (SymbolicVar(self, "pos_contribs"),
                SymbolicVar(self, "neg_contribs"))

    def update_mxts(self):
        """0.6.13 built the multiplier graph here; only marks this layer as
        updated (multipliers are computed when a scoring function runs)."""
        self._mxts_updated = True

    def reset_mxts_updated(self):
        """Clear the mark set by :meth:`update_mxts`."""
        self._mxts_updated = False

    def target_seed(self, task_idx, scoring_mode=None, active=1.0,
                    dtype=np.float32):
        """Multipliers placed on this layer's output when it is the target:
        an array of shape (1,) + output shape, one-hot at the flat index
        ``task_idx`` (times ``active``).  SoftmaxPreActivation subtracts
        the mean over classes (the paper's normalisation for softmax
        outputs)."""
        num_outputs = int(np.prod(self.get_shape()[1:]))
        if isinstance(task_idx, (bool, np.bool_)) or not isinstance(
                task_idx, (int, np.integer)):
            raise ValueError("task index must be an integer (or a list of "
                             "integers), got %r" % (task_idx,))
        task_idx = int(task_idx)
        if not 0 <= task_idx < num_outputs:
            raise ValueError(
                "task index %d is out of range for target layer %r, which "
                "has %d outputs (valid: 0..%d)"
                % (task_idx, self.get_name(), num_outputs, num_outputs - 1))
        seed = np.zeros(num_outputs, dtype=dtype)
        seed[task_idx] = active
        mode = scoring_mode or self._scoring_mode or ScoringMode.OneAndZeros
        if mode == ScoringMode.SoftmaxPreActivation:
            seed = seed - seed.mean()
        return seed.reshape((1,) + tuple(self.get_shape()[1:]))

    def __repr__(self):
        return "<%s %r>" % (type(self).__name__, self.name)


class Input(Layer):
    """An input of the network; ``batch_shape`` includes the batch axis
    (``None``)."""

    def __init__(self, batch_shape, dtype="float32", **kwargs):
        super(Input, self).__init__(**kwargs)
        batch_shape = tuple(None if d is None else int(d)
                            for d in batch_shape)
        if len(batch_shape) < 1:
            raise ValueError("batch_shape must include the batch axis")
        self._shape = (None,) + batch_shape[1:]
        self._num_dims = len(batch_shape)
        self.dtype = dtype

    def input_layers(self):
        return []

    def _build(self):
        pass

    def reset_built_fwd_pass_vars(self):
        self._output_layers = []


class Node(Layer):
    """A layer computed from other layers."""

    def __init__(self, **kwargs):
        super(Node, self).__init__(**kwargs)

    def __call__(self, *args, **kwargs):
        return self.set_inputs(*args, **kwargs)

    def set_inputs(self, inputs):
        """Wire the input layer(s); returns ``self``."""
        self.inputs = inputs
        self._check_inputs()
        return self

    def _check_inputs(self):
        raise NotImplementedError()

    def _build(self):
        if self.inputs is None:
            raise RuntimeError("layer %r has no inputs: call set_inputs() "
                               "first" % (self.name,))
        for parent in self.input_layers():
            parent.build_fwd_pass_vars(output_layer=self)
        self._shape = self._compute_shape(
            [parent.get_shape() for parent in self.input_layers()])
        self._on_built()

    def _on_built(self):
        """Hook run once the inputs are built and the shape known."""

    def _compute_shape(self, input_shapes):
        """Output shape (with ``None`` batch) from the input shapes; the
        default traces ``forward`` symbolically."""
        specs = [tf.TensorSpec(shape, tf.float32) for shape in input_shapes]
        concrete = tf.function(
            lambda *xs: self.forward(list(xs)),
            autograph=False).get_concrete_function(*specs)
        return tuple(concrete.structured_outputs.shape.as_list())


class SingleInputMixin(object):
    """For layers with exactly one input layer."""

    def _check_inputs(self):
        if isinstance(self.inputs, (list, tuple)):
            if len(self.inputs) != 1:
                raise ValueError("layer %r (%s) takes one input, got %d"
                                 % (self.name, type(self).__name__,
                                    len(self.inputs)))
            self.inputs = self.inputs[0]
        if not isinstance(self.inputs, Layer):
            raise TypeError("the input of layer %r must be a deeplift layer, "
                            "got %s" % (self.name, type(self.inputs)))

    def input_layers(self):
        """A list holding the one input layer."""
        return [self.inputs] if self.inputs is not None else []


class ListInputMixin(object):
    """For layers with a list of ``min_inputs`` to ``max_inputs`` (None:
    any number) input layers."""

    min_inputs = 1
    max_inputs = None

    def _check_inputs(self):
        if not isinstance(self.inputs, (list, tuple)) or not self.inputs:
            raise ValueError("layer %r (%s) takes a non-empty list of input "
                             "layers" % (self.name, type(self).__name__))
        self.inputs = list(self.inputs)
        for an_input in self.inputs:
            if not isinstance(an_input, Layer):
                raise TypeError("inputs of layer %r must be deeplift layers, "
                                "got %s" % (self.name, type(an_input)))
        n = len(self.inputs)
        if n < self.min_inputs or (self.max_inputs is not None
                                   and n > self.max_inputs):
            raise ValueError("layer %r (%s) takes %s inputs, got %d"
                             % (self.name, type(self).__name__,
                                self.min_inputs if self.max_inputs ==
                                self.min_inputs else
                                "at least %d" % self.min_inputs, n))

    def input_layers(self):
        """The input layers, in the order given to ``set_inputs``."""
        return list(self.inputs) if self.inputs is not None else []


class StructuralLayer(Node):
    """A linear op with no bias and non-negative coefficients (reshapes,
    concatenation, averaging, cropping...).  Contributions map through the
    op; multipliers go back through its transpose (vector-Jacobian
    product), positive and negative separately."""

    def contribs(self, state):
        pos = self.forward([s.contribs[0] for s in state.inputs])
        neg = self.forward([s.contribs[1] for s in state.inputs])
        return pos, neg

    def backward(self, state, pos_mxts, neg_mxts):
        xs = [s.act for s in state.inputs]
        pos = vjp(self.forward, xs, pos_mxts)
        neg = pos if neg_mxts is pos_mxts else vjp(self.forward, xs,
                                                   neg_mxts)
        return list(zip(pos, neg))


class NoOp(SingleInputMixin, StructuralLayer):
    """Identity (what Dropout and other inference no-ops become)."""

    def forward(self, xs):
        return xs[0]

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def contribs(self, state):
        return state.input.contribs

    def backward(self, state, pos_mxts, neg_mxts):
        return [(pos_mxts, neg_mxts)]


class Flatten(SingleInputMixin, StructuralLayer):
    """Flattens all but the batch axis (row-major, as Keras)."""

    def forward(self, xs):
        x = xs[0]
        return tf.reshape(x, [tf.shape(x)[0], -1])

    def _compute_shape(self, input_shapes):
        dims = input_shapes[0][1:]
        size = (None if any(d is None for d in dims)
                else int(np.prod(dims)))
        return (None, size)

    def backward(self, state, pos_mxts, neg_mxts):
        shape = tf.shape(state.input.act)
        pos = tf.reshape(pos_mxts, shape)
        neg = pos if neg_mxts is pos_mxts else tf.reshape(neg_mxts, shape)
        return [(pos, neg)]


class Merge(ListInputMixin, StructuralLayer):
    """Base of layers merging several inputs along ``axis``."""

    def __init__(self, axis, **kwargs):
        super(Merge, self).__init__(**kwargs)
        self.axis = axis

    def compute_shape_for_merge_axis(self, lengths_for_merge_axis_dim):
        """The output's length along ``axis`` from the inputs' lengths."""
        raise NotImplementedError()


class Concat(Merge):
    """Concatenation along ``axis`` (the original's Merge/Concat)."""

    def forward(self, xs):
        return tf.concat(xs, axis=self.axis)

    def compute_shape_for_merge_axis(self, lengths_for_merge_axis_dim):
        if any(n is None for n in lengths_for_merge_axis_dim):
            return None
        return sum(lengths_for_merge_axis_dim)

    def backward(self, state, pos_mxts, neg_mxts):
        sizes = [tf.shape(s.act)[self.axis] for s in state.inputs]
        pos = tf.split(pos_mxts, sizes, axis=self.axis)
        neg = pos if neg_mxts is pos_mxts else tf.split(
            neg_mxts, sizes, axis=self.axis)
        return list(zip(pos, neg))


class LinearLayer(SingleInputMixin, Node):
    """``y = L(x; kernel) + bias`` with DeepLIFT's Linear rule.

    Subclasses implement ``apply_kernel(x, kernel)``, the bias-free linear
    map.  Contributions split the input difference and the kernel by sign;
    multipliers go back through the transpose of ``L``, choosing the
    positive or negative kernel part by the sign of the input difference.
    Both need two applications of ``L`` (see ``contribs``, ``backward``).
    """

    def __init__(self, kernel, bias, **kwargs):
        super(LinearLayer, self).__init__(**kwargs)
        self.kernel = as_float_array(kernel)
        if bias is None:
            bias = np.zeros(self.kernel.shape[-1], dtype=self.kernel.dtype)
        self.bias = as_float_array(bias)

    def apply_kernel(self, x, kernel):
        """The bias-free linear map of ``x`` (a tensor with the input's shape)
        by ``kernel`` (a tensor of the layer's kernel); returns the output
        without bias."""
        raise NotImplementedError()

    def add_bias(self, y, bias):
        """``y`` (the output of :meth:`apply_kernel`) plus ``bias``,
        broadcast along the channel axis."""
        return y + bias

    def _const(self, array, dtype):
        return captured(self, id(array), array, dtype)

    def _kernels(self, dtype):
        """The kernel and its elementwise absolute value."""
        kernel = self._const(self.kernel, dtype)
        return kernel, tf.abs(kernel)

    def forward(self, xs):
        x = xs[0]
        kernel = self._const(self.kernel, x.dtype)
        return self.add_bias(self.apply_kernel(x, kernel),
                             self._const(self.bias, x.dtype))

    def contribs(self, state):
        """``pos = K+ d+ + K- d-`` and ``neg = K+ d- + K- d+`` (``d`` the
        input difference), each a sum of two kernel applications.

        Two applications would do (``pos + neg = K d``, ``pos - neg =
        |K| |d|``), but that rounds differently, and RevealCancel's
        pseudocount at exactly-zero parts (0.6.13's finite difference over
        1e-7) turns ulp-level changes of the other part into multiplier
        changes of about 1e-3 relative: the four applications keep 0.6.13's
        numbers (bench/NOTES.md)."""
        diff = state.input.diff
        kernel, _ = self._kernels(diff.dtype)
        kpos, kneg = positive_part(kernel), negative_part(kernel)
        dpos, dneg = positive_part(diff), negative_part(diff)
        pos = self.apply_kernel(dpos, kpos) + self.apply_kernel(dneg, kneg)
        neg = self.apply_kernel(dneg, kpos) + self.apply_kernel(dpos, kneg)
        return pos, neg

    def transpose(self, state, mxts, kernel):
        """``L^T mxts`` for the given kernel, shaped like the input."""
        return vjp(lambda xs: self.apply_kernel(xs[0], kernel),
                   [state.input.act], mxts)[0]

    def backward(self, state, pos_mxts, neg_mxts):
        """An input whose difference is > 0 feeds the positive parts through
        ``K+`` and the negative parts through ``K-``, so its multiplier is
        ``K+^T P + K-^T N``; one < 0 gets ``K-^T P + K+^T N``; one == 0 the
        mean.  These are ``(K^T (P + N) +/- |K|^T (P - N)) / 2``: two
        transposed applications instead of four."""
        kernel, kabs = self._kernels(state.act.dtype)
        if neg_mxts is pos_mxts:
            increment = self.transpose(state, pos_mxts, kernel)
            return [(increment, increment)]
        total = self.transpose(state, pos_mxts + neg_mxts, kernel)
        spread = self.transpose(state, pos_mxts - neg_mxts, kabs)
        increment = 0.5 * (total + tf.sign(state.input.diff) * spread)
        return [(increment, increment)]


class Dense(LinearLayer):
    """Fully connected layer; ``kernel`` is (inputs, outputs).  As in
    Keras, an input of rank > 2 is mapped along its last axis:
    ``(batch, ..., inputs) -> (batch, ..., outputs)``.

    ``dense_mxts_mode``: accepted for 0.6.13 compatibility (its only value
    is Linear); nothing reads it."""

    def __init__(self, kernel, bias, dense_mxts_mode=DenseMxtsMode.Linear,
                 **kwargs):
        super(Dense, self).__init__(kernel=kernel, bias=bias, **kwargs)
        if self.kernel.ndim != 2:
            raise ValueError("Dense kernel must be 2-D (inputs, outputs); "
                             "got shape %s" % (self.kernel.shape,))
        self.dense_mxts_mode = check_mode(dense_mxts_mode, DenseMxtsMode,
                                          "dense_mxts_mode")

    def apply_kernel(self, x, kernel):
        return tf.matmul(x, kernel)

    def transpose(self, state, mxts, kernel):
        return tf.matmul(mxts, kernel, transpose_b=True)

    def _compute_shape(self, input_shapes):
        shape = tuple(input_shapes[0])
        if len(shape) < 2:
            raise ValueError("Dense layer %r needs an input with a feature "
                             "axis (batch, ..., features) but its input has "
                             "shape %s" % (self.name, shape))
        if shape[-1] is not None and shape[-1] != self.kernel.shape[0]:
            raise ValueError("Dense layer %r has a kernel for %d inputs but "
                             "its input has %d features on its last axis"
                             % (self.name, self.kernel.shape[0], shape[-1]))
        return shape[:-1] + (int(self.kernel.shape[1]),)
