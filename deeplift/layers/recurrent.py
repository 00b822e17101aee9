"""Recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional), unrolled over
time into an inner graph (see :mod:`deeplift.layers.composite`).

Each time step is built from existing layers: the input projection of all
steps (one Dense on the sequence) and the recurrent projection (Dense on
the previous state) are linear; the activations follow the chosen rule
(Rescale, RevealCancel, Gradient, ...); every gate product (``f * c``,
``i * g``, ``o * tanh(c)``, ``z * h``, ``r * h``) is a two-factor Shapley
product (:class:`~deeplift.layers.merge.Multiply`); ``1 - z`` is affine.
Contributions therefore sum to the output difference exactly, and the
Gradient mode gives the gradient.  DeepLIFT_GenomicsDefault means
RevealCancel inside (the gates follow dense projections).  The initial
state is zero.  The sequence length must be known; masking is not
supported.

``activation`` / ``recurrent_activation`` are Keras activation names
(looked up in :data:`~deeplift.layers.activations.ACTIVATION_BY_NAME`) or
factories ``(nonlinear_mxts_mode, **layer_kwargs) -> layer or None``.
Weights are Keras': ``kernel`` (features, k * units), ``recurrent_kernel``
(units, k * units), ``bias`` (k * units,), or GRU's (2, 3 * units) with
``reset_after=True``; gates in Keras' order (LSTM: i, f, c, o; GRU: z, r,
h).
"""
import numpy as np

from deeplift.layers.core import (Dense, Concat, NonlinearMxtsMode,
                                  as_float_array)
from deeplift.layers.activations import ACTIVATION_BY_NAME
from deeplift.layers.composite import (Composite, ElementwiseAffine, Slice,
                                       Stack, Reverse, Zeros)
from deeplift.layers.merge import Add, Average, Multiply


def _factory(activation):
    if callable(activation):
        return activation
    try:
        return ACTIVATION_BY_NAME[str(activation).lower()]
    except KeyError:
        raise ValueError("activation %r is not supported; supported "
                         "activations are: %s"
                         % (activation, ", ".join(sorted(ACTIVATION_BY_NAME))))


class _Recurrent(Composite):
    """Base of the unrolled recurrent layers; subclasses define ``gates``
    (k) and ``step(t, x_t, states) -> states`` (``states[0]`` the
    output)."""

    gates = 1
    num_states = 1
    # the gates' nonlinearities follow dense projections
    genomics_default = NonlinearMxtsMode.RevealCancel

    def __init__(self, kernel, recurrent_kernel, bias=None,
                 activation="tanh", recurrent_activation="sigmoid",
                 return_sequences=False, go_backwards=False, **kwargs):
        super(_Recurrent, self).__init__(**kwargs)
        self.kernel = as_float_array(kernel)
        self.recurrent_kernel = as_float_array(recurrent_kernel)
        self.units = self.recurrent_kernel.shape[0]
        k = self.gates * self.units
        if (self.kernel.ndim != 2 or self.kernel.shape[1] != k
                or self.recurrent_kernel.shape != (self.units, k)):
            raise ValueError("%s weights do not fit together: kernel %s, "
                             "recurrent kernel %s (expected (features, %d) "
                             "and (%d, %d))"
                             % (type(self).__name__, self.kernel.shape,
                                self.recurrent_kernel.shape, k, self.units,
                                k))
        self.bias = None if bias is None else as_float_array(bias)
        self.activation = _factory(activation)
        self.recurrent_activation = _factory(recurrent_activation)
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)

    # ----- pieces --------------------------------------------------------
    def act(self, stage, factory, x):
        layer = factory(self.nonlinear_mxts_mode)
        return x if layer is None else self.add(stage, layer, x)

    def product(self, stage, a, b):
        return self.add(stage, Multiply(
            nonlinear_mxts_mode=self.nonlinear_mxts_mode), [a, b])

    def gate(self, stage, x, g, n=1):
        """Gates ``g .. g + n - 1`` (units each) of ``x``."""
        u = self.units
        return self.add(stage, Slice(-1, g * u, (g + n) * u), x)

    def dense(self, stage, x, kernel, bias=None):
        return self.add(stage, Dense(kernel, bias), x)

    def input_bias(self):
        """The bias added to the input projection ``x_t K`` (None for none)."""
        return self.bias

    # ----- the unrolled graph --------------------------------------------
    def build_inner(self, port):
        shape = port.get_shape()
        if len(shape) != 3 or shape[1] is None:
            raise ValueError("%s layer %r needs an input (batch, time, "
                             "features) with a known number of time steps; "
                             "got shape %s"
                             % (type(self).__name__, self.name, shape))
        if shape[2] != self.kernel.shape[0]:
            raise ValueError("%s layer %r has a kernel for %d features but "
                             "its input has %s"
                             % (type(self).__name__, self.name,
                                self.kernel.shape[0], shape[2]))
        steps = list(range(shape[1]))
        if self.go_backwards:
            steps.reverse()
        projected = self.dense("input_projection", port, self.kernel,
                               self.input_bias())
        zeros = self.add("initial_state", Zeros((self.units,)), port)
        states = [zeros] * self.num_states
        outputs = []
        for t in steps:
            x_t = self.add("t%d/input" % t,
                           Slice(1, t, t + 1, keep_axis=False), projected)
            states = self.step("t%d/" % t, x_t, states)
            outputs.append(states[0])
        if not self.return_sequences:
            return outputs[-1]
        return self.add("sequence", Stack(axis=1), outputs)

    def step(self, prefix, x_t, states):
        """Wire one time step: ``prefix`` names its inner layers, ``x_t`` is
        the inner layer of the projected input at step t and ``states`` the
        list of the state layers after step t-1. Returns the list of the
        state layers after step t (``states[0]`` is the output)."""
        raise NotImplementedError()


class SimpleRNN(_Recurrent):
    """``h_t = activation(x_t K + h_{t-1} R + b)``."""

    def __init__(self, kernel, recurrent_kernel, bias=None,
                 activation="tanh", **kwargs):
        super(SimpleRNN, self).__init__(kernel, recurrent_kernel, bias,
                                        activation=activation, **kwargs)

    def step(self, prefix, x_t, states):
        rec = self.dense(prefix + "recurrent", states[0],
                         self.recurrent_kernel)
        z = self.add(prefix + "preact", Add(), [x_t, rec])
        return [self.act(prefix + "h", self.activation, z)]


class LSTM(_Recurrent):
    """Keras' LSTM: ``c_t = f * c_{t-1} + i * activation(g)``,
    ``h_t = o * activation(c_t)``."""

    gates = 4
    num_states = 2

    def step(self, prefix, x_t, states):
        h, c = states
        rec = self.dense(prefix + "recurrent", h, self.recurrent_kernel)
        z = self.add(prefix + "preact", Add(), [x_t, rec])
        ra, a = self.recurrent_activation, self.activation
        i = self.act(prefix + "i", ra, self.gate(prefix + "z_i", z, 0))
        f = self.act(prefix + "f", ra, self.gate(prefix + "z_f", z, 1))
        g = self.act(prefix + "g", a, self.gate(prefix + "z_g", z, 2))
        o = self.act(prefix + "o", ra, self.gate(prefix + "z_o", z, 3))
        c = self.add(prefix + "c", Add(), [
            self.product(prefix + "f_c", f, c),
            self.product(prefix + "i_g", i, g)])
        h = self.product(prefix + "h", o, self.act(prefix + "act_c", a, c))
        return [h, c]


class GRU(_Recurrent):
    """Keras' GRU: ``h_t = z * h_{t-1} + (1 - z) * hh`` with
    ``hh = activation(x_h + r * (h_{t-1} R_h + b_rh))`` (``reset_after``,
    Keras 3's default; ``bias`` (2, 3 * units)) or
    ``activation(x_h + (r * h_{t-1}) R_h)`` (``reset_after=False``)."""

    gates = 3

    def __init__(self, kernel, recurrent_kernel, bias=None,
                 reset_after=True, **kwargs):
        super(GRU, self).__init__(kernel, recurrent_kernel, bias, **kwargs)
        self.reset_after = bool(reset_after)
        if self.bias is not None:
            expected = ((2, 3 * self.units) if self.reset_after
                        else (3 * self.units,))
            if self.bias.shape != expected:
                raise ValueError("GRU bias has shape %s; expected %s with "
                                 "reset_after=%s" % (self.bias.shape,
                                                     expected,
                                                     self.reset_after))

    def input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def step(self, prefix, x_t, states):
        (h,) = states
        u = self.units
        rk = self.recurrent_kernel
        ra, a = self.recurrent_activation, self.activation
        if self.reset_after:
            rbias = None if self.bias is None else self.bias[1]
            rec = self.dense(prefix + "recurrent", h, rk, rbias)
            zr = self.add(prefix + "preact_zr", Add(), [
                self.gate(prefix + "x_zr", x_t, 0, 2),
                self.gate(prefix + "rec_zr", rec, 0, 2)])
        else:
            zr = self.add(prefix + "preact_zr", Add(), [
                self.gate(prefix + "x_zr", x_t, 0, 2),
                self.dense(prefix + "recurrent_zr", h, rk[:, :2 * u])])
        z = self.act(prefix + "z", ra, self.gate(prefix + "z_z", zr, 0))
        r = self.act(prefix + "r", ra, self.gate(prefix + "z_r", zr, 1))
        if self.reset_after:
            rec_h = self.product(prefix + "r_rec",
                                 r, self.gate(prefix + "rec_h", rec, 2))
        else:
            rec_h = self.dense(prefix + "recurrent_h",
                               self.product(prefix + "r_h", r, h),
                               rk[:, 2 * u:])
        hh = self.act(prefix + "hh", a, self.add(prefix + "preact_h", Add(), [
            self.gate(prefix + "x_h", x_t, 2), rec_h]))
        one_minus_z = self.add(prefix + "1-z", ElementwiseAffine(
            np.float32(-1), np.float32(1)), z)
        h = self.add(prefix + "h", Add(), [
            self.product(prefix + "z_h", z, h),
            self.product(prefix + "(1-z)_hh", one_minus_z, hh)])
        return [h]


class Bidirectional(Composite):
    """Keras' Bidirectional: ``forward_layer`` and ``backward_layer`` (a
    recurrent layer with ``go_backwards=True``) on the same input, the
    backward sequence flipped back in time when ``return_sequences``,
    merged by ``merge_mode`` ('concat', 'sum', 'ave' or 'mul')."""

    MERGE_MODES = ("concat", "sum", "ave", "mul")
    genomics_default = NonlinearMxtsMode.RevealCancel

    def __init__(self, forward_layer, backward_layer, merge_mode="concat",
                 **kwargs):
        super(Bidirectional, self).__init__(**kwargs)
        if merge_mode not in self.MERGE_MODES:
            raise ValueError("Bidirectional merge_mode %r is not supported; "
                             "valid: %s (merge_mode=None gives two outputs)"
                             % (merge_mode, ", ".join(self.MERGE_MODES)))
        if forward_layer.return_sequences != backward_layer.return_sequences:
            raise ValueError("the forward and backward layers of a "
                             "Bidirectional layer must agree on "
                             "return_sequences")
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode

    def build_inner(self, port):
        # the two layers' unrolled graphs become part of this one (nested
        # composites would recompute their inner forward passes)
        self.forward_layer.name = self.inner_name("forward")
        self.backward_layer.name = self.inner_name("backward")
        self.forward_layer.resolve_mode()
        self.backward_layer.resolve_mode()
        y = self.forward_layer.build_inner(port)
        y_rev = self.backward_layer.build_inner(port)
        if self.backward_layer.return_sequences:
            y_rev = self.add("backward_flipped", Reverse(axis=1), y_rev)
        merge = {"concat": lambda: Concat(axis=-1), "sum": Add,
                 "ave": Average,
                 "mul": lambda: Multiply(
                     nonlinear_mxts_mode=self.nonlinear_mxts_mode)}
        return self.add("merged", merge[self.merge_mode](), [y, y_rev])
