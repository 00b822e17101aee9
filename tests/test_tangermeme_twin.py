"""Independent truth for attention: tangermeme's ``deep_lift_shap``.

A small self-attention model (one-hot input (L, A) -> q, k, v projections
-> ``q kᵀ / √d`` -> softmax -> ``weights @ v`` -> Dense + ReLU -> Flatten
-> Dense -> one output) is built in Keras 3, its attention either a
registered custom layer or ``keras.layers.MultiHeadAttention`` (2 heads;
both of Keras' code paths) — no converter for either: deeplift traces it
into ops — and rebuilt in PyTorch with the same weights, its two
contractions written with tangermeme's ``BilinearOp`` and its softmax as
``nn.Softmax`` (the "twin").  All in float64, so that what is left after a
comparison is rounding.

What is established (scripts/RESULTS_attention_twin.md has the numbers):

* forward passes equal (1e-12);
* tangermeme 1.6's ``BilinearOp`` rule is the midpoint product rule
  (multiplier of ``a`` = Jacobian at ``((a+a0)/2, (b+b0)/2)``), which for
  a bilinear map is the same as deeplift's two-operand Shapley rule;
  its ReLU rule and ours are both Rescale; linear layers pass gradients
  in both; and both decompose the softmax ``y = a · v`` with ``a =
  exp(x - c)``, ``v = 1 / Σa`` (same shift ``c`` for input and
  reference) and split that product in log space (``Δy = (Δy/Δlog y)
  (Δlog a + Δlog v)``: deeplift's SoftmaxOp is exp of the log-softmax).
  So deeplift's Rescale scores equal tangermeme's to float64 rounding;
* the alternative split of ``a · v`` by Shapley (``Δy = Δa·v̄ + ā·Δv``,
  written here as a tangermeme rule from the formula) is exact too but
  gives other scores (and, with references far below the input, huge
  cancelling ones): tangermeme run with it differs from both;
* captum's ``DeepLift`` on the same twin takes plain gradients through
  the two matmuls, so its contributions do not sum to the output
  difference (its gap is reported, not asserted beyond being large).

Skipped unless torch and tangermeme (the ``peers`` extra) are installed.
"""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="needs torch (pip install deeplift[peers])")
tdls = pytest.importorskip(
    "tangermeme.deep_lift_shap",
    reason="needs tangermeme>=1.6 (pip install deeplift[peers])")
if not hasattr(tdls, "BilinearOp"):
    pytest.skip("needs tangermeme>=1.6 (BilinearOp)", allow_module_level=True)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplift.conversion import kerasapi_conversion as kc  # noqa: E402
from deeplift.layers import NonlinearMxtsMode  # noqa: E402

L, A, D, H = 8, 4, 4, 6       # length, alphabet, head width, hidden units
N = 5                         # examples


@keras.saving.register_keras_serializable(package="deeplift_tests")
class DotAttention(keras.layers.Layer):
    """softmax(q kᵀ / √d) v on three inputs (N, L, d); no weights."""

    def call(self, inputs):
        q, k, v = inputs
        scores = keras.ops.matmul(q, keras.ops.transpose(k, (0, 2, 1)))
        w = keras.ops.softmax(scores / np.sqrt(D), axis=-1)
        return keras.ops.matmul(w, v)


HEADS, KEY_DIM = 2, 3          # keras.layers.MultiHeadAttention variant
KINDS = ["custom", "mha", "mha-einsum"]


def keras_model(seed=0, kind="custom"):
    """The Keras model (float64), weights and biases random normal x 0.7.
    ``kind``: "custom" (Dense q, k, v + the registered ``DotAttention``
    layer) or ``keras.layers.MultiHeadAttention`` (2 heads of width 3)
    on Keras' ``dot_product_attention`` path ("mha") or its einsum +
    Softmax-layer path ("mha-einsum", taken when dropout > 0; inference
    applies none)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        inp = keras.Input((L, A), name="seq", dtype="float64")
        if kind == "custom":
            q = keras.layers.Dense(D, name="q")(inp)
            k = keras.layers.Dense(D, name="k")(inp)
            v = keras.layers.Dense(D, name="v")(inp)
            h = DotAttention(name="attn")([q, k, v])
        else:
            h = keras.layers.MultiHeadAttention(
                HEADS, KEY_DIM, output_shape=D, name="attn",
                dropout=0.1 if kind == "mha-einsum" else 0.0)(inp, inp)
        h = keras.layers.Dense(H, activation="relu", name="mlp")(h)
        h = keras.layers.Flatten(name="flat")(h)
        out = keras.layers.Dense(1, name="out")(h)
        model = keras.Model(inp, out)
    finally:
        keras.config.set_dtype_policy(previous)
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.randn(*w.shape) * 0.7 for w in ws])
    return model


def _tensor(w):
    return torch.nn.Parameter(torch.from_numpy(np.array(w, np.float64)),
                              requires_grad=False)


class Twin(torch.nn.Module):
    """The PyTorch twin of :func:`keras_model`; input (N, A, L) as
    tangermeme wants it.  The projections are plain (linear) tensor ops,
    the two contractions ``BilinearOp``s, the softmax ``nn.Softmax``."""

    def __init__(self, kmodel, kind="custom"):
        super().__init__()
        nn = torch.nn
        self.kind = kind
        if kind == "custom":
            proj = {name: kmodel.get_layer(name).get_weights()
                    for name in "qkv"}
            # (A, D) kernels as one head of width D
            self.proj = {n: (k[:, None, :], b[None, :])
                         for n, (k, b) in proj.items()}
            self.proj_out = None
            self.scale = 1 / np.sqrt(D)
        else:
            mha = kmodel.get_layer("attn")
            dense = {"q": mha._query_dense, "k": mha._key_dense,
                     "v": mha._value_dense}
            self.proj = {n: (d.kernel.numpy(), d.bias.numpy())
                         for n, d in dense.items()}
            self.proj_out = (mha._output_dense.kernel.numpy(),
                             mha._output_dense.bias.numpy())
            self.scale = 1 / np.sqrt(KEY_DIM)
            # Keras makes its scale a float32 tensor before casting it to
            # float64, on both paths (measured: forward off by 2e-8
            # otherwise); the twin does the same
            self.scale = float(np.float32(self.scale))
        for n, (k, b) in self.proj.items():
            setattr(self, "w" + n, _tensor(k))            # (A, heads, d)
            setattr(self, "b" + n, _tensor(b))            # (heads, d)
        if self.proj_out is not None:
            self.wo = _tensor(self.proj_out[0])           # (heads, d, D)
            self.bo = _tensor(self.proj_out[1])
        self.scores = tdls.BilinearOp("bqhd,bkhd->bhqk")  # q kᵀ per head
        self.softmax = nn.Softmax(dim=-1)
        self.mix = tdls.BilinearOp("bhqk,bkhd->bqhd")     # weights @ v
        for name in ("mlp", "out"):
            kern, bias = kmodel.get_layer(name).get_weights()
            lin = nn.Linear(*kern.shape).double()
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(kern.T.copy()))
                lin.bias.copy_(torch.from_numpy(bias))
            setattr(self, name, lin)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = x.transpose(1, 2)                             # (N, L, A)
        q, k, v = (torch.einsum("bla,ahd->blhd", x, getattr(self, "w" + n))
                   + getattr(self, "b" + n) for n in "qkv")
        s = self.scores(q * self.scale, k)
        h = self.mix(self.softmax(s), v)                  # (N, L, heads, d)
        if self.proj_out is None:
            h = h[:, :, 0]
        else:
            h = torch.einsum("blhd,hdo->blo", h, self.wo) + self.bo
        h = self.relu(self.mlp(h))
        return self.out(h.flatten(1))                     # (N, 1)


def shapley_softmax(module, grad_input, grad_output):
    """A tangermeme rule (``additional_nonlinear_ops``) for ``nn.Softmax``
    with deeplift's split, written from the formula: ``a = exp(x - c)``
    (Rescale: ``Δa/Δx``), ``v = 1/Σa`` (exact: ``-v v0``), ``y = a v``
    split by Shapley (multiplier of ``a`` = ``(v+v0)/2``, of ``v`` =
    ``(a+a0)/2``).  ``module.input`` holds the batch then its references."""
    dim = module.dim
    x, x0 = module.input.chunk(2)
    c = torch.maximum(x.amax(dim, keepdim=True), x0.amax(dim, keepdim=True))
    a, a0 = torch.exp(x - c), torch.exp(x0 - c)
    v, v0 = 1 / a.sum(dim, keepdim=True), 1 / a0.sum(dim, keepdim=True)
    dx = x - x0
    # Rescale's fallback to the derivative where the logits barely move
    m_exp = torch.where(dx.abs() > 1e-7, (a - a0) / dx.where(
        dx.abs() > 1e-7, torch.ones_like(dx)), (a + a0) / 2)
    out = []
    for g in grad_output[0].chunk(2):
        g_v = (g * (a + a0) / 2).sum(dim, keepdim=True)
        out.append(m_exp * (g * (v + v0) / 2 - v * v0 * g_v))
    return (torch.cat(out),)


shapley_softmax._reads = ("input",)


def data(seed=1):
    """One-hot inputs (N, L, A) and two kinds of reference: all zeros
    (tangermeme's "N" column) and another one-hot sequence per example."""
    rng = np.random.RandomState(seed)
    eye = np.eye(A)
    x = eye[rng.randint(A, size=(N, L))]
    return x, {"zeros": np.zeros_like(x),
               "one-hot": eye[rng.randint(A, size=(N, L))]}


def deeplift_model(kmodel):
    """``kmodel`` converted for Rescale; its attention core is traced."""
    dl = kc.convert_keras_model(
        kmodel, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale, verbose=False)
    traced = [layer for layer in dl.all_layers()
              if type(layer).__name__ == "TracedLayer"]
    assert len(traced) == 1, traced    # the attention layer, nothing else
    return dl


def deeplift_scores(dl, x, ref):
    """deeplift contributions (N, L, A) of the output of ``dl`` (from
    :func:`deeplift_model`)."""
    f = dl.get_target_contribs_func(
        find_scores_layer_name=dl.get_input_layer_names()[0],
        pre_activation_target_layer_name=dl.output_layers()[0].get_name())
    c = f(task_idx=0, input_data_list=[x], input_references_list=[ref],
          batch_size=N)
    return np.asarray(c[0] if isinstance(c, list) else c)


def tangermeme_scores(twin, x, ref, rule=None):
    """tangermeme ``deep_lift_shap`` contributions (N, L, A): its raw
    multipliers times (x - ref), one fixed reference per example."""
    xt = torch.from_numpy(x.transpose(0, 2, 1).copy())
    rt = torch.from_numpy(ref.transpose(0, 2, 1).copy())[:, None]
    ops = None if rule is None else {torch.nn.Softmax: rule}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # deltas printed
        m = tdls.deep_lift_shap(twin, xt, references=rt, raw_outputs=True,
                                additional_nonlinear_ops=ops, device="cpu",
                                batch_size=N, dtype=torch.float64)
    m = m[:, 0].numpy().transpose(0, 2, 1)
    return m * (x - ref)


def captum_scores(twin, x, ref):
    """captum ``DeepLift`` contributions (N, L, A)."""
    from captum.attr import DeepLift
    xt = torch.from_numpy(x.transpose(0, 2, 1).copy())
    rt = torch.from_numpy(ref.transpose(0, 2, 1).copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = DeepLift(twin).attribute(xt, baselines=rt, target=0)
    return c.detach().numpy().transpose(0, 2, 1)


@pytest.fixture(scope="module", params=KINDS)
def setup(request):
    kmodel = keras_model(kind=request.param)
    return (kmodel, Twin(kmodel, request.param).eval(), data(),
            deeplift_model(kmodel))


def output_delta(kmodel, x, ref):
    return (kmodel(tf.constant(x)).numpy() - kmodel(tf.constant(ref)).numpy()
            )[:, 0]


def test_forward_equal(setup):
    kmodel, twin, (x, _), _ = setup
    with torch.no_grad():
        got = twin(torch.from_numpy(x.transpose(0, 2, 1).copy())).numpy()
    # float64, the same arithmetic in another order: 1e-12
    np.testing.assert_allclose(got, kmodel(tf.constant(x)).numpy(),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["zeros", "one-hot"])
def test_equal_to_tangermeme(setup, kind):
    kmodel, twin, (x, refs), dl = setup
    ref = refs[kind]
    ours = deeplift_scores(dl, x, ref)
    theirs = tangermeme_scores(twin, x, ref)
    delta = output_delta(kmodel, x, ref)
    scale = np.abs(ours).max()
    # both exact: sums equal the output difference (float64 rounding only)
    np.testing.assert_allclose(ours.reshape(N, -1).sum(1), delta, rtol=0,
                               atol=1e-10 * (np.abs(delta).max() + 1))
    np.testing.assert_allclose(theirs.reshape(N, -1).sum(1), delta, rtol=0,
                               atol=1e-10 * (np.abs(delta).max() + 1))
    # same rules on every op (BilinearOp midpoint == Shapley; Rescale on
    # ReLU and exp; softmax split in log space on both sides): equal to
    # float64 rounding, 1e-10 of the scores' scale
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("kind", ["zeros", "one-hot"])
def test_shapley_softmax_split_differs(setup, kind):
    """The Shapley split of ``a · v`` (run as a tangermeme rule): exact
    too, but other scores; the comparison above can therefore tell the
    two softmax rules apart."""
    kmodel, twin, (x, refs), dl = setup
    ref = refs[kind]
    ours = deeplift_scores(dl, x, ref)
    theirs = tangermeme_scores(twin, x, ref, rule=shapley_softmax)
    delta = output_delta(kmodel, x, ref)
    np.testing.assert_allclose(theirs.reshape(N, -1).sum(1), delta, rtol=0,
                               atol=1e-10 * (np.abs(delta).max() + 1))
    # the two splits of y = a·v differ at first order in Δ (not rounding)
    assert np.abs(theirs - ours).max() > 1e-4 * np.abs(ours).max()


def test_captum_gap_reported(setup):
    """captum DeepLift has no rule for BilinearOp (gradients through the
    matmuls): its contributions miss the output difference by far more
    than rounding, while ours sum to it."""
    kmodel, twin, (x, refs), dl = setup
    ref = refs["zeros"]
    delta = output_delta(kmodel, x, ref)
    gap = captum_scores(twin, x, ref).reshape(N, -1).sum(1) - delta
    assert np.abs(gap).max() > 1e-3 * np.abs(delta).max()
