"""Reshaping layers: Reshape, Permute, cropping, zero padding, nearest
upsampling, RepeatVector.

Each is a linear op with no bias and 0/1 coefficients, so each is a
:class:`~deeplift.layers.core.StructuralLayer` defining only ``forward``:
contributions map through the op, multipliers go back through its
transpose.
"""
import numpy as np
import tensorflow as tf

from deeplift.layers.core import (SingleInputMixin, StructuralLayer,
                                  Flatten, check_mode)
from deeplift.layers.convolutional import DataFormat


def _dim(x, axis):
    """Static size of ``axis`` when known, else the dynamic one."""
    static = x.shape[axis]
    return int(static) if static is not None else tf.shape(x)[axis]


def _pair(value, what):
    """(before, after) from an int or a pair."""
    if np.ndim(value) == 0:
        return (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError("%s must be an int or a pair, got %s"
                         % (what, value))
    return value


def _pairs2d(value, what):
    """((top, bottom), (left, right)) from an int, a pair of ints
    (symmetric per axis) or a pair of pairs (as Keras)."""
    if np.ndim(value) == 0:
        v = int(value)
        return ((v, v), (v, v))
    value = list(value)
    if len(value) != 2:
        raise ValueError("%s must be an int, 2 ints or 2 pairs, got %s"
                         % (what, value))
    return tuple(_pair(v, what) for v in value)


class _Structural(SingleInputMixin, StructuralLayer):
    pass


class _DataFormatMixin(object):
    def _init_data_format(self, data_format):
        self.data_format = check_mode(data_format or
                                      DataFormat.channels_last,
                                      DataFormat, "data_format")

    def _first_spatial(self):
        return 2 if self.data_format == DataFormat.channels_first else 1


class Reshape(_Structural):
    """Reshape to ``(batch,) + target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super(Reshape, self).__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def forward(self, xs):
        x = xs[0]
        return tf.reshape(x, tf.concat([tf.shape(x)[:1],
                                        tf.constant(self.target_shape,
                                                    tf.int32)], 0))

    def _compute_shape(self, input_shapes):
        shape = input_shapes[0]
        target = list(self.target_shape)
        if -1 in target:
            known = int(np.prod([d for d in target if d != -1]))
            total = int(np.prod(shape[1:]))
            target[target.index(-1)] = total // known
        return (None,) + tuple(target)

    # the transpose of a reshape reshapes back, as Flatten's
    backward = Flatten.backward


class Permute(_Structural):
    """Permute the non-batch axes; ``dims`` is 1-based, as in Keras."""

    def __init__(self, dims, **kwargs):
        super(Permute, self).__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError("Permute dims must be a permutation of 1..%d, "
                             "got %s" % (len(self.dims), self.dims))

    def forward(self, xs):
        return tf.transpose(xs[0], (0,) + self.dims)

    def backward(self, state, pos_mxts, neg_mxts):
        inverse = (0,) + tuple(int(i) + 1 for i in np.argsort(self.dims))
        pos = tf.transpose(pos_mxts, inverse)
        neg = pos if neg_mxts is pos_mxts else tf.transpose(neg_mxts,
                                                            inverse)
        return [(pos, neg)]


class Cropping1D(_Structural):
    """Remove ``cropping = (start, end)`` steps from the length axis of
    (batch, length, channels)."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super(Cropping1D, self).__init__(**kwargs)
        self.cropping = _pair(cropping, "cropping")

    def forward(self, xs):
        x = xs[0]
        start, end = self.cropping
        return x[:, start:_dim(x, 1) - end]

    def backward(self, state, pos_mxts, neg_mxts):
        # the transpose of cropping is zero padding; written out because
        # TensorFlow's gradient of a slice (StridedSliceGrad) is several
        # times slower on CPU (bench/PROFILE.md, workload (e))
        start, end = self.cropping
        pad = [[0, 0], [start, end], [0, 0]]
        pos = tf.pad(pos_mxts, pad)
        neg = pos if neg_mxts is pos_mxts else tf.pad(neg_mxts, pad)
        return [(pos, neg)]


class Cropping2D(_DataFormatMixin, _Structural):
    """Remove ``cropping = ((top, bottom), (left, right))`` from the two
    spatial axes."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None,
                 **kwargs):
        super(Cropping2D, self).__init__(**kwargs)
        self.cropping = _pairs2d(cropping, "cropping")
        self._init_data_format(data_format)

    def forward(self, xs):
        x = xs[0]
        (top, bottom), (left, right) = self.cropping
        first = self._first_spatial()
        rows = slice(top, _dim(x, first) - bottom)
        cols = slice(left, _dim(x, first + 1) - right)
        if self.data_format == DataFormat.channels_first:
            return x[:, :, rows, cols]
        return x[:, rows, cols, :]


class ZeroPadding1D(_DataFormatMixin, _Structural):
    """Pad the length axis with ``padding = (start, end)`` zeros."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super(ZeroPadding1D, self).__init__(**kwargs)
        self.padding = _pair(padding, "padding")
        self._init_data_format(data_format)

    def forward(self, xs):
        pads = [[0, 0], [0, 0], [0, 0]]
        pads[self._first_spatial()] = list(self.padding)
        return tf.pad(xs[0], pads)


class ZeroPadding2D(_DataFormatMixin, _Structural):
    """Pad the two spatial axes with ``((top, bottom), (left, right))``
    zeros."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super(ZeroPadding2D, self).__init__(**kwargs)
        self.padding = _pairs2d(padding, "padding")
        self._init_data_format(data_format)

    def forward(self, xs):
        pads = [[0, 0]] * 4
        first = self._first_spatial()
        pads[first] = list(self.padding[0])
        pads[first + 1] = list(self.padding[1])
        return tf.pad(xs[0], pads)


class UpSampling1D(_Structural):
    """Repeat each step of (batch, length, channels) ``size`` times."""

    def __init__(self, size=2, **kwargs):
        super(UpSampling1D, self).__init__(**kwargs)
        self.size = int(size)

    def forward(self, xs):
        return tf.repeat(xs[0], self.size, axis=1)


class UpSampling2D(_DataFormatMixin, _Structural):
    """Nearest-neighbour upsampling: repeat rows and columns
    ``size = (rows, cols)`` times (only ``interpolation='nearest'``)."""

    def __init__(self, size=(2, 2), data_format=None,
                 interpolation="nearest", **kwargs):
        super(UpSampling2D, self).__init__(**kwargs)
        self.size = _pair(size, "size")
        if str(interpolation).lower() != "nearest":
            raise ValueError("UpSampling2D supports only "
                             "interpolation='nearest', got %r"
                             % (interpolation,))
        self.interpolation = "nearest"
        self._init_data_format(data_format)

    def forward(self, xs):
        first = self._first_spatial()
        x = tf.repeat(xs[0], self.size[0], axis=first)
        return tf.repeat(x, self.size[1], axis=first + 1)


class RepeatVector(_Structural):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super(RepeatVector, self).__init__(**kwargs)
        self.n = int(n)

    def forward(self, xs):
        return tf.repeat(tf.expand_dims(xs[0], 1), self.n, axis=1)


class GetItem(_Structural):
    """``x[key]`` with a constant ``key`` (Keras 3's ``GetItem`` op node:
    ``h[:, 0, :]``, ``h[:, 1:4:2]``, ``h[..., 2]``, ``h[:, None]``): a tuple
    of ints, ``slice`` objects of ints, ``None`` (new axis) and
    ``Ellipsis``.  The batch axis must be kept whole (the key's first entry
    a full slice ``:``, or an ``Ellipsis`` that covers the batch axis);
    otherwise a ValueError when the layer is built."""

    def __init__(self, key, **kwargs):
        super(GetItem, self).__init__(**kwargs)
        key = tuple(key) if isinstance(key, (list, tuple)) else (key,)
        for item in key:
            ok = (item is None or item is Ellipsis
                  or isinstance(item, (int, np.integer))
                  or (isinstance(item, slice) and all(
                      v is None or isinstance(v, (int, np.integer))
                      for v in (item.start, item.stop, item.step))))
            if not ok or isinstance(item, bool):
                raise ValueError("GetItem key entries must be ints, slices "
                                 "of ints, None or Ellipsis, got %r"
                                 % (item,))
        if sum(item is Ellipsis for item in key) > 1:
            raise ValueError("GetItem key has more than one Ellipsis: %r"
                             % (key,))
        self.key = key

    def _check_batch_kept(self, rank):
        key = self.key
        if key and key[0] is Ellipsis:
            used = sum(item is not None for item in key[1:])
            if used < rank:       # the ellipsis spans the batch axis
                return
            key = key[1:]
        first = key[0] if key else slice(None)
        if first != slice(None):
            raise ValueError("layer %r indexes the batch axis with %r (the "
                             "first index must be ':')" % (self.name, first))

    def forward(self, xs):
        """``xs[0][key]`` (a ValueError if the key touches the batch
        axis)."""
        x = xs[0]
        self._check_batch_kept(len(x.shape))
        return x[self.key]
