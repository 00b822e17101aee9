"""Dense applied to the last axis of an N-D input (Basenji heads,
ConvNeXt's pointwise layers): forward == Keras, Gradient == tape,
summation to delta (see tests/layer_checks.py); bad shapes refused
clearly."""
import numpy as np
import keras
import pytest

import deeplift.layers as L
from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, check_layer_case)

CASES = {
    "dense_3d": (lambda: keras.layers.Dense(4),
                 lambda w, m: L.Dense(w[0], w[1]), [(6, 3)]),
    "dense_4d_nobias": (lambda: keras.layers.Dense(2, use_bias=False),
                        lambda w, m: L.Dense(w[0], None), [(3, 4, 5)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])


def test_dense_shape_errors_name_the_layer():
    kernel, bias = np.ones((3, 2)), np.zeros(2)
    inp = L.Input(batch_shape=(None, 5, 4), name="in")
    dense = L.Dense(kernel, bias, name="head").set_inputs(inp)
    with pytest.raises(ValueError, match="'head' has a kernel for 3 inputs "
                       "but its input has 4 features on its last axis"):
        dense.build_fwd_pass_vars()
    inp = L.Input(batch_shape=(None,), name="in")
    dense = L.Dense(kernel, bias, name="head").set_inputs(inp)
    with pytest.raises(ValueError, match="'head' needs an input with a "
                       "feature axis"):
        dense.build_fwd_pass_vars()
