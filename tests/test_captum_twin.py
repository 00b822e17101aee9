"""Cross-check against an independent implementation: captum's DeepLift.

A small residual ReLU CNN is built as a Keras 3 functional model with
seeded random weights, converted with this package, and rebuilt in
PyTorch with the same weights (the "twin").  Captum's ``DeepLift`` applies
the Rescale rule to every ``nn.ReLU`` module it hooks, so on this network
(convolutions, dense layers, an addition and ReLUs only) its scores must
equal this package's ``Rescale`` contributions.

Skipped unless the optional ``peers`` extra (torch + captum) is installed.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
captum_attr = pytest.importorskip("captum.attr")

import keras  # noqa: E402

from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already"),
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks"),
]

L, C, N_TASKS = 20, 4, 3


def _keras_model():
    keras.utils.set_random_seed(1234)
    inp = keras.Input((L, C), name="inp")
    h = keras.layers.Conv1D(8, 5, padding="same", activation="relu",
                            name="conv1")(inp)
    r = keras.layers.Conv1D(8, 3, padding="same", name="conv2")(h)
    h = keras.layers.Add(name="skip")([h, r])
    h = keras.layers.ReLU(name="relu_skip")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(16, activation="relu", name="dense1")(h)
    out = keras.layers.Dense(N_TASKS, name="out")(h)
    model = keras.Model(inp, out)
    # non-zero random biases too, so that the reference matters everywhere
    rng = np.random.RandomState(0)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([(rng.randn(*w.shape) * 0.4).astype("float32")
                               for w in weights])
    return model


class _Twin(torch.nn.Module):
    """The PyTorch twin; every ReLU is its own ``nn.ReLU`` module so that
    captum's DeepLift hooks (and rescales) each one."""

    def __init__(self, keras_model):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv1d(C, 8, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv1d(8, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.dense1 = nn.Linear(L * 8, 16)
        self.relu3 = nn.ReLU()
        self.out = nn.Linear(16, N_TASKS)
        with torch.no_grad():
            for name in ("conv1", "conv2"):
                k, b = keras_model.get_layer(name).get_weights()
                # Keras (width, in, out) -> torch (out, in, width)
                getattr(self, name).weight.copy_(
                    torch.from_numpy(np.transpose(k, (2, 1, 0)).copy()))
                getattr(self, name).bias.copy_(torch.from_numpy(b))
            for name in ("dense1", "out"):
                k, b = keras_model.get_layer(name).get_weights()
                getattr(self, name).weight.copy_(torch.from_numpy(k.T.copy()))
                getattr(self, name).bias.copy_(torch.from_numpy(b))

    def forward(self, x):                      # x: (N, C, L)
        h = self.relu1(self.conv1(x))
        h = self.relu2(h + self.conv2(h))
        # Keras flattens (length, channels) row-major
        h = h.permute(0, 2, 1).reshape(h.shape[0], -1)
        h = self.relu3(self.dense1(h))
        return self.out(h)


def _to_torch(a):
    """(N, L, C) numpy -> (N, C, L) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(
        np.transpose(a, (0, 2, 1)), dtype=np.float32))


@pytest.fixture(scope="module")
def models():
    keras_model = _keras_model()
    twin = _Twin(keras_model).eval()
    dl_model = kc.convert_keras_model(keras_model,
                                      nonlinear_mxts_mode="Rescale",
                                      verbose=False)
    return keras_model, twin, dl_model


def _data(n=6, seed=0):
    rng = np.random.RandomState(seed)
    # one-hot-like inputs with noise, and a random (not one-hot) reference
    x = np.eye(C, dtype=np.float32)[rng.randint(0, C, size=(n, L))]
    x = x + 0.1 * rng.randn(n, L, C).astype(np.float32)
    ref = rng.rand(1, L, C).astype(np.float32)
    return x.astype(np.float32), ref


def test_twin_forward_matches_keras(models):
    keras_model, twin, _ = models
    x, ref = _data()
    expected = keras_model.predict(np.concatenate([x, ref]), verbose=0)
    with torch.no_grad():
        got = twin(_to_torch(np.concatenate([x, ref]))).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("per_example_ref", [False, True],
                         ids=["shared_ref", "per_example_ref"])
def test_rescale_matches_captum_deeplift(models, per_example_ref):
    keras_model, twin, dl_model = models
    x, ref = _data(seed=1)
    if per_example_ref:
        ref = np.random.RandomState(2).rand(*x.shape).astype(np.float32)
    func = dl_model.get_target_contribs_func(
        find_scores_layer_name=dl_model.get_input_layer_names()[0],
        pre_activation_target_layer_name=dl_model.get_layer("out").get_name())
    deep_lift = captum_attr.DeepLift(twin)
    f_x = keras_model.predict(x, verbose=0)
    f_ref = keras_model.predict(np.broadcast_to(ref, x.shape), verbose=0)
    x_t = _to_torch(x).requires_grad_()
    for task in range(N_TASKS):
        ours = np.asarray(func(task_idx=task, input_data_list=[x],
                               input_references_list=[ref], batch_size=4,
                               progress_update=None))
        theirs = deep_lift.attribute(
            x_t, baselines=_to_torch(ref),
            target=task).detach().numpy().transpose(0, 2, 1)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
        # the check discriminates: Rescale is not gradient x (x - ref) here
        grad = torch.autograd.grad(twin(x_t)[:, task].sum(), x_t)[0]
        grad_x_delta = grad.numpy().transpose(0, 2, 1) * (
            x - np.broadcast_to(ref, x.shape))
        assert np.abs(ours - grad_x_delta).max() > 1e-2
        # summation to delta, for both
        delta = f_x[:, task] - f_ref[:, task]
        np.testing.assert_allclose(ours.sum(axis=(1, 2)), delta,
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(theirs.sum(axis=(1, 2)), delta,
                                   rtol=1e-4, atol=1e-4)
