"""Dilated Conv1D (conv1d's own dilation; its transpose a forward dilated
convolution of the padded multipliers) and Cropping1D (zero padding as its transpose): forward equal
to Keras, Gradient-mode multipliers equal to tf.GradientTape, Rescale
summing to delta, in float64 to rule out rounding."""
import numpy as np
import pytest
import tensorflow as tf

from deeplift.layers import NonlinearMxtsMode
from tests.nets import build, keras_preactivation, random_data
from tests.bpnet_net import chrombpnet_like, random_onehot


@pytest.mark.parametrize("padding, dilation, width", [("valid", 2, 3),
                                                      ("same", 3, 4)])
def test_dilated_conv1d_against_keras_and_tape(padding, dilation, width):
    spec = [("conv1d", 5, width, 1, dilation, padding, "relu"),
            ("conv1d", 3, 3, 1, 2 * dilation, padding, None),
            ("flatten",), ("dense", 2, None)]
    shape = (23, 3)
    x, ref = random_data(shape, 4, seed=2, dtype=np.float64)
    for mode in (NonlinearMxtsMode.Gradient, NonlinearMxtsMode.Rescale):
        kmodel, dmodel, target = build(spec, shape, mode=mode, seed=5,
                                       dtype="float64")
        pre = keras_preactivation(kmodel)
        mults = dmodel.get_target_multipliers_func(
            find_scores_layer_idx=0, target_layer_idx=target)
        contribs = dmodel.get_target_contribs_func(
            find_scores_layer_idx=0, target_layer_idx=target)
        for task in range(2):
            m = np.asarray(mults(task_idx=task, input_data_list=[x],
                                 input_references_list=[ref],
                                 batch_size=3, progress_update=None))
            c = np.asarray(contribs(task_idx=task, input_data_list=[x],
                                    input_references_list=[ref],
                                    batch_size=3, progress_update=None))
            out_x = pre(x).numpy()[:, task]
            out_r = pre(ref).numpy()[:, task]
            if mode == NonlinearMxtsMode.Gradient:
                xt = tf.constant(x)
                with tf.GradientTape() as tape:
                    tape.watch(xt)
                    y = pre(xt)[:, task]
                grad = tape.gradient(y, xt).numpy()
                np.testing.assert_allclose(m, grad, atol=1e-10, rtol=1e-9)
            else:
                np.testing.assert_allclose(c.reshape(4, -1).sum(axis=1),
                                           out_x - out_r, atol=1e-9)


def test_cropped_residual_model_gradient_equals_tape():
    """ChromBPNet-shaped (dilated residual blocks with Cropping1D + Add):
    Gradient-mode multipliers of the counts head equal the tape."""
    import os
    import tempfile
    from deeplift.conversion import kerasapi_conversion as kc
    kmodel = chrombpnet_like(length=60, filters=4, num_dilated=2,
                             first_width=3, profile_width=5,
                             profile_length=20, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.h5")
        kmodel.save(path)
        dmodel = kc.convert_model_from_saved_files(
            path, nonlinear_mxts_mode="Gradient", verbose=False)
    x = random_onehot(3, 60, seed=1)
    func = dmodel.get_target_multipliers_func(find_scores_layer_name="sequence_0",
                                              pre_activation_target_layer_name=
                                              "logcounts_0")
    m = np.asarray(func(task_idx=0, input_data_list=[x],
                        input_references_list=[np.zeros_like(x)],
                        batch_size=2, progress_update=None))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = kmodel(xt)[1][:, 0]
    grad = tape.gradient(y, xt).numpy()
    np.testing.assert_allclose(m, grad, atol=1e-6 * np.abs(grad).max())
