"""Reshaping layers (Reshape, Permute, cropping, zero padding, upsampling,
RepeatVector): forward == Keras, Gradient == tape, summation to delta
(see tests/layer_checks.py)."""
import pytest

from tests.layer_checks import (  # noqa: F401 (fixture)
    restore_dtype_policy, check_layer_case, reshaping_case)

CASES = {
    "reshape": reshaping_case("Reshape", (4, 3), (6, 2)),
    "reshape_minus1": reshaping_case("Reshape", (2, 2, 3), (-1, 3)),
    "permute": reshaping_case("Permute", (2, 3, 4), (3, 1, 2)),
    "cropping1d": reshaping_case("Cropping1D", (8, 3), (1, 2)),
    "cropping2d": reshaping_case("Cropping2D", (5, 6, 2),
                                  ((1, 0), (2, 1))),
    "cropping2d_cf": reshaping_case("Cropping2D", (2, 5, 6), (1, 2),
                                     data_format="channels_first"),
    "zeropadding1d": reshaping_case("ZeroPadding1D", (5, 3), (1, 2)),
    "zeropadding2d": reshaping_case("ZeroPadding2D", (3, 4, 2),
                                     ((1, 0), (2, 1))),
    "zeropadding2d_cf": reshaping_case("ZeroPadding2D", (2, 3, 4), 1,
                                        data_format="channels_first"),
    "upsampling1d": reshaping_case("UpSampling1D", (4, 2), 3),
    "upsampling2d": reshaping_case("UpSampling2D", (3, 2, 2), (2, 3)),
    "upsampling2d_cf": reshaping_case("UpSampling2D", (2, 3, 2), 2,
                                       data_format="channels_first"),
    "repeatvector": reshaping_case("RepeatVector", (5,), 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_gradient_and_summation(name):
    check_layer_case(CASES[name])
