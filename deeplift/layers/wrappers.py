"""Keras' ``TimeDistributed`` wrapper: the inner layer applied to every
time step of (N, T, ...).

:class:`TimeDistributed` is a :class:`~deeplift.layers.composite.Composite`
whose inner graph is the wrapped layer's deeplift layers (its converted
chain), run on the N*T steps as one batch: the outer activations and
references (the references broadcast to the activations' batch first, so
that a shared reference serves every example) are reshaped (N, T, ...) ->
(N*T, ...), the inner sweeps run, and outputs, contributions and
multipliers are reshaped back.  Reshapes are exact, so the inner layers'
rules apply unchanged, each step on its own, and summation to delta holds
step by step.
"""
import tensorflow as tf

from deeplift.graph import backward_sweep, forward_sweep, topological_order
from deeplift.layers.composite import Composite, Port


def _fold(t):
    """(N, T, ...) -> (N*T, ...)."""
    return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))


def _unfold(t, like):
    """(N*T, ...) -> (N, T, ...) with N, T of ``like``."""
    return tf.reshape(t, tf.concat([tf.shape(like)[:2], tf.shape(t)[1:]],
                                   0))


class TimeDistributed(Composite):
    """``inner`` (a list of unwired deeplift layers, applied in sequence:
    the wrapped Keras layer's conversion) applied to each time step (axis
    1) of the input.  ``nonlinear_mxts_mode`` is unused (the inner layers
    carry their own modes)."""

    def __init__(self, inner, **kwargs):
        super(TimeDistributed, self).__init__(**kwargs)
        self.inner = list(inner)
        if not self.inner:
            raise ValueError("TimeDistributed %r needs at least one inner "
                             "layer" % (self.name,))

    def build_inner(self, port):
        """Wire the inner layers in sequence after ``port`` (the (N*T,
        ...) steps); returns the last one."""
        prev = port
        for i, layer in enumerate(self.inner):
            if not layer.name:
                layer.name = self.inner_name(str(i))
            layer.verbose = False
            layer.set_inputs(prev)
            prev = layer
        return prev

    def _compute_shape(self, input_shapes):
        shape = tuple(input_shapes[0])
        if len(shape) < 3:
            raise ValueError("TimeDistributed %r needs an input of rank >= 3 "
                             "(batch, time, ...), got shape %s"
                             % (self.name, shape))
        self.resolve_mode()
        self._port = Port(batch_shape=(None,) + shape[2:],
                          name=self.inner_name("input"))
        self._out = self.build_inner(self._port)
        self._out.build_fwd_pass_vars()
        self._order = topological_order([self._out])
        return (None, shape[1]) + tuple(self._out.get_shape())[1:]

    def forward(self, xs):
        """(N, T, ...) -> (N, T, ...out): the inner layers on every step."""
        x = xs[0]
        states = forward_sweep(self._order, {self._port: _fold(x)})
        return _unfold(states[id(self._out)].act, x)

    def inner_states(self, state):
        """The inner layers' states on the folded steps (references
        broadcast to the activations' batch first), once per ``state``."""
        if "inner" not in state.cache:
            act = state.input.act
            ref = tf.broadcast_to(state.input.ref, tf.shape(act))
            states = forward_sweep(self._order, {self._port: _fold(act)},
                                   {self._port: _fold(ref)}, fuse=state.fuse)
            pos, neg = state.input.contribs
            states[id(self._port)].cache["outer_contribs"] = (
                _fold(tf.broadcast_to(pos, tf.shape(act))),
                _fold(tf.broadcast_to(neg, tf.shape(act))))
            state.cache["inner"] = states
        return state.cache["inner"]

    def contribs(self, state):
        pos, neg = self.inner_states(state)[id(self._out)].contribs
        return _unfold(pos, state.act), _unfold(neg, state.act)

    def backward(self, state, pos_mxts, neg_mxts, override=None):
        pos = _fold(pos_mxts)
        neg = pos if neg_mxts is pos_mxts else _fold(neg_mxts)
        mxts = backward_sweep(self._order, self.inner_states(state),
                              self._out, pos, override=override,
                              neg_seed=neg)
        act = state.input.act
        if id(self._port) not in mxts:
            zeros = tf.zeros_like(act)
            return [(zeros, zeros)]
        pos_in, neg_in = mxts[id(self._port)]
        pos_in = _unfold(pos_in, act)
        return [(pos_in, pos_in if neg_in is mxts[id(self._port)][0]
                 else _unfold(neg_in, act))]
