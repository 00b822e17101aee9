"""Elementwise nonlinearities (Keras' activations).

An activation class defines only its function ``f`` and derivative
``gradient``; the rules of every ``NonlinearMxtsMode`` are shared by all
of them and live in :mod:`deeplift.rules.activation` (``MXTS_RULES``,
``CONTRIB_RULES``).  ``ACTIVATION_BY_NAME`` maps Keras activation names to
factories ``(nonlinear_mxts_mode, **layer_kwargs) -> layer`` (``None`` for
``'linear'``).
"""
import logging
import math

import tensorflow as tf

from deeplift.modes import NEAR_ZERO_THRESHOLD  # noqa: F401 (0.6.13 name)
from deeplift.rules.activation import (  # noqa: F401 (re-exported)
    MXTS_RULES, CONTRIB_RULES, FUSE_MIN_ELEMENTS, fused, rescale_factor,
    pseudocount_near_zero, mxts_rule, contribs_rule)
from deeplift.rules.resolve import RuleResolver, genomics_default_mode
from deeplift.layers.core import (SingleInputMixin, Node, NonlinearMxtsMode,
                                  check_mode, as_float_array)

logger = logging.getLogger(__name__)


def resolve_genomics_default(layer):
    """DeepLIFT_GenomicsDefault for ``layer``: see
    :func:`deeplift.rules.resolve.genomics_default_mode`."""
    return genomics_default_mode(layer)


class Activation(SingleInputMixin, Node):
    """Elementwise nonlinearity ``f`` with derivative ``gradient``."""

    def __init__(self, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                 **kwargs):
        super(Activation, self).__init__(**kwargs)
        self.nonlinear_mxts_mode = check_mode(
            nonlinear_mxts_mode, NonlinearMxtsMode, "nonlinear_mxts_mode")

    def get_yaml_compatible_object_kwargs(self):
        """The constructor arguments as plain values (0.6.13 name)."""
        return {"name": self.get_name(), "verbose": self.verbose,
                "nonlinear_mxts_mode": self.nonlinear_mxts_mode}

    def f(self, x):
        """The elementwise function applied to the tensor ``x``; returns a
        tensor of the same shape."""
        raise NotImplementedError()

    def gradient(self, x):
        """Elementwise derivative of ``f`` at ``x``."""
        raise NotImplementedError()

    def forward(self, xs):
        return self.f(xs[0])

    def _compute_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def _on_built(self):
        # graphs are always built before they are evaluated, so the
        # genomics default is resolved once here, from the layer's inputs
        if (self.nonlinear_mxts_mode
                == NonlinearMxtsMode.DeepLIFT_GenomicsDefault):
            self.nonlinear_mxts_mode = RuleResolver.activation_mode(
                self, self.nonlinear_mxts_mode)

    def contribs(self, state):
        return contribs_rule(self.nonlinear_mxts_mode)(self, state)

    def backward(self, state, pos_mxts, neg_mxts):
        rule = mxts_rule(self.nonlinear_mxts_mode)
        return [rule(self, state, pos_mxts, neg_mxts)]


class PReLU(Activation):
    """``max(x, 0) + alpha * min(x, 0)``; ``alpha`` scalar or per-unit."""

    exact_under_xla = True

    def __init__(self, alpha=0.0, **kwargs):
        super(PReLU, self).__init__(**kwargs)
        self.alpha = as_float_array(alpha)

    def _alpha(self, dtype):
        return tf.constant(self.alpha, dtype=dtype)

    def f(self, x):
        return tf.where(x < 0, x * self._alpha(x.dtype), x)

    def gradient(self, x):
        ones = tf.ones_like(x)
        return tf.where(x > 0, ones, ones * self._alpha(x.dtype))


class ReLU(PReLU):
    """``max(x, 0)`` (a :class:`PReLU` with slope 0)."""
    def __init__(self, **kwargs):
        super(ReLU, self).__init__(alpha=0.0, **kwargs)

    def f(self, x):
        return tf.nn.relu(x)

    def gradient(self, x):
        return tf.cast(x > 0, x.dtype)


class Sigmoid(Activation):
    """``1 / (1 + exp(-x))``."""
    def f(self, x):
        return tf.nn.sigmoid(x)

    def gradient(self, x):
        y = tf.nn.sigmoid(x)
        return y * (1 - y)


class Tanh(Activation):
    """``tanh(x)``."""
    def f(self, x):
        return tf.nn.tanh(x)

    def gradient(self, x):
        y = tf.nn.tanh(x)
        return 1 - y * y


class Softmax(Activation):
    """Softmax over the last axis.  It is not elementwise: only the
    Gradient rule (its exact vector-Jacobian product) goes through it;
    DeepLIFT targets are normally the layer *before* a softmax."""

    def f(self, x):
        return tf.nn.softmax(x)

    def gradient(self, x):
        raise NotImplementedError("softmax has no elementwise derivative")

    def contribs(self, state):
        return Node.contribs(self, state)

    def backward(self, state, pos_mxts, neg_mxts):
        if self.nonlinear_mxts_mode != NonlinearMxtsMode.Gradient:
            raise NotImplementedError(
                "multipliers cannot go back through softmax layer %r with "
                "nonlinear_mxts_mode=%s; target the layer before the "
                "softmax (its pre-activation) instead"
                % (self.get_name(), self.nonlinear_mxts_mode))
        y = state.act

        def vjp(m):
            return y * (m - tf.reduce_sum(m * y, axis=-1, keepdims=True))
        pos = vjp(pos_mxts)
        return [(pos, pos if neg_mxts is pos_mxts else vjp(neg_mxts))]


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _c(value, x):
    return tf.constant(value, dtype=x.dtype)


def _elu_gradient(x, alpha):
    """Derivative of ``elu(x, alpha)``."""
    return tf.where(x > 0, tf.ones_like(x),
                    _c(alpha, x) * tf.exp(tf.minimum(x, 0)))


class LeakyReLU(PReLU):
    """``x`` if ``x > 0`` else ``negative_slope * x`` (Keras 3's
    ``negative_slope``, Keras 2's ``alpha``; Keras' layer default 0.3)."""

    def __init__(self, negative_slope=None, alpha=None, **kwargs):
        if negative_slope is None:
            negative_slope = 0.3 if alpha is None else alpha
        super(LeakyReLU, self).__init__(alpha=float(negative_slope),
                                        **kwargs)
        self.negative_slope = float(negative_slope)


class ELU(Activation):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha=1.0, **kwargs):
        super(ELU, self).__init__(**kwargs)
        self.alpha = float(alpha)

    def f(self, x):
        return tf.where(x > 0, x,
                        _c(self.alpha, x) * tf.math.expm1(tf.minimum(x, 0)))

    def gradient(self, x):
        return _elu_gradient(x, self.alpha)


class SELU(Activation):
    """``scale * elu(x, alpha)`` with Keras' fixed constants."""

    def f(self, x):
        return tf.nn.selu(x)

    def gradient(self, x):
        return _c(SELU_SCALE, x) * _elu_gradient(x, SELU_ALPHA)


class GELU(Activation):
    """``x * Phi(x)`` (``approximate=False``, Keras' default for the
    activation) or its tanh approximation (``approximate=True``), as
    ``tf.nn.gelu`` computes them (its constants rounded to float32 also
    in float64); :meth:`gradient` is the exact derivative of that."""

    def __init__(self, approximate=False, **kwargs):
        super(GELU, self).__init__(**kwargs)
        self.approximate = bool(approximate)

    def f(self, x):
        return tf.nn.gelu(x, approximate=self.approximate)

    def gradient(self, x):
        if self.approximate:
            k = _c(math.sqrt(2.0 / math.pi), x)
            # tf.nn.gelu rounds this coefficient to float32 (below)
            c = tf.cast(tf.constant(0.044715, tf.float32), x.dtype)
            t = tf.tanh(k * (x + c * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (
                1 + 3 * c * x * x)
        # the derivative of what f computes: tf.nn.gelu is 0.5 x erfc(-x c)
        # with c = 1/sqrt(2) rounded to float32 first (math_ops.cast of a
        # Python float), which moves a float64 gelu by ~5e-9 off x Phi(x)
        c = tf.cast(tf.constant(1.0 / math.sqrt(2.0), tf.float32), x.dtype)
        cdf = 0.5 * tf.math.erfc(-x * c)
        pdf = c * tf.exp(-tf.square(x * c)) / _c(math.sqrt(math.pi), x)
        return cdf + x * pdf


class Swish(Activation):
    """``x * sigmoid(x)`` (Keras' ``swish`` / ``silu``)."""

    def f(self, x):
        return tf.nn.silu(x)

    def gradient(self, x):
        s = tf.nn.sigmoid(x)
        return s * (1 + x * (1 - s))



class Softplus(Activation):
    """``log(1 + exp(x))``."""

    def f(self, x):
        return tf.math.softplus(x)

    def gradient(self, x):
        return tf.nn.sigmoid(x)


class Softsign(Activation):
    """``x / (1 + |x|)``."""

    def f(self, x):
        return tf.nn.softsign(x)

    def gradient(self, x):
        d = 1 + tf.abs(x)
        return 1 / (d * d)


class HardSigmoid(Activation):
    """Keras 3: ``relu6(x + 3) / 6`` (slope 1/6).  Keras 2's was
    ``clip(0.2 * x + 0.5, 0, 1)``: pass ``slope=0.2`` for models trained
    with it."""

    def __init__(self, slope=1.0 / 6, offset=0.5, **kwargs):
        super(HardSigmoid, self).__init__(**kwargs)
        self.slope = float(slope)
        self.offset = float(offset)

    def _keras3(self):
        return self.slope == 1.0 / 6 and self.offset == 0.5

    def f(self, x):
        if self._keras3():
            return tf.nn.relu6(x + _c(3.0, x)) / _c(6.0, x)
        return tf.clip_by_value(_c(self.slope, x) * x + _c(self.offset, x),
                                _c(0.0, x), _c(1.0, x))

    def gradient(self, x):
        y = _c(self.slope, x) * x + _c(self.offset, x)
        inside = tf.logical_and(y > 0, y < 1)
        return tf.where(inside, _c(self.slope, x) * tf.ones_like(x),
                        tf.zeros_like(x))


class HardSwish(Activation):
    """Keras 3's ``hard_silu`` / ``hard_swish``: ``x * relu6(x + 3) / 6``
    (0 below -3, ``x`` above 3)."""

    def f(self, x):
        return x * (tf.nn.relu6(x + _c(3.0, x)) / _c(6.0, x))

    def gradient(self, x):
        inside = tf.logical_and(x > _c(-3.0, x), x < _c(3.0, x))
        return tf.where(inside, (2 * x + _c(3.0, x)) / _c(6.0, x),
                        tf.cast(x >= _c(3.0, x), x.dtype))


class Exponential(Activation):
    """``exp(x)``."""

    def f(self, x):
        return tf.exp(x)

    def gradient(self, x):
        return tf.exp(x)


class ReLUGeneral(Activation):
    """Keras' ``ReLU`` layer / ``relu`` activation with ``max_value``,
    ``threshold`` and ``negative_slope`` (computed as Keras does):
    ``x`` above ``threshold`` (else 0), clipped to ``[0, max_value]`` when
    ``max_value`` is set, minus ``negative_slope * relu(threshold - x)``.
    """

    def __init__(self, max_value=None, threshold=0.0, negative_slope=0.0,
                 **kwargs):
        super(ReLUGeneral, self).__init__(**kwargs)
        self.max_value = None if max_value is None else float(max_value)
        self.threshold = float(threshold or 0.0)
        self.negative_slope = float(negative_slope or 0.0)

    def _leaky_only(self):
        return self.max_value is None and self.threshold == 0.0

    def f(self, x):
        ns, thr = self.negative_slope, self.threshold
        if ns != 0 and self._leaky_only():
            return tf.where(x > 0, x, _c(ns, x) * x)
        if thr != 0:
            y = tf.where(x > _c(thr, x), x, tf.zeros_like(x))
        else:
            y = tf.nn.relu(x)
        if self.max_value is not None:
            y = tf.clip_by_value(y, _c(0.0, x), _c(self.max_value, x))
        if ns != 0:
            y = y - _c(ns, x) * tf.nn.relu(_c(thr, x) - x)
        return y

    def gradient(self, x):
        ns, thr = self.negative_slope, self.threshold
        if ns != 0 and self._leaky_only():
            return tf.where(x > 0, tf.ones_like(x),
                            _c(ns, x) * tf.ones_like(x))
        on = x > _c(thr, x)
        if self.max_value is not None:
            on = tf.logical_and(on, tf.logical_and(
                x > 0, x < _c(self.max_value, x)))
        grad = tf.cast(on, x.dtype)
        if ns != 0:
            grad = grad + _c(ns, x) * tf.cast(x < _c(thr, x), x.dtype)
        return grad


def _factory(cls, **fixed):
    def make(nonlinear_mxts_mode, **kwargs):
        params = dict(fixed)
        params.update(kwargs)
        return cls(nonlinear_mxts_mode=nonlinear_mxts_mode, **params)
    make.__name__ = "make_%s" % cls.__name__.lower()
    return make


def _linear(nonlinear_mxts_mode, **kwargs):
    return None


#: Keras activation name -> ``factory(nonlinear_mxts_mode, **kwargs)``
#: returning a deeplift layer, or None for 'linear' (an identity)
ACTIVATION_BY_NAME = {
    "linear": _linear,
    "relu": _factory(ReLU),
    "sigmoid": _factory(Sigmoid),
    "tanh": _factory(Tanh),
    "softmax": _factory(Softmax),
    "elu": _factory(ELU),
    "selu": _factory(SELU),
    "gelu": _factory(GELU),
    "swish": _factory(Swish),
    "silu": _factory(Swish),
    "softplus": _factory(Softplus),
    "softsign": _factory(Softsign),
    "hard_sigmoid": _factory(HardSigmoid),
    "hard_silu": _factory(HardSwish),
    "hard_swish": _factory(HardSwish),
    "exponential": _factory(Exponential),
    "leaky_relu": _factory(LeakyReLU, negative_slope=0.2),
    "relu6": _factory(ReLUGeneral, max_value=6.0),
}
