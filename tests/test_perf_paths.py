"""The cheaper Rescale math (issue 20) gives the former numbers: bit for bit
at the rule level (plain ops and XLA-fused), and whole-model scores that
sum to the output difference and agree with a float64 run."""
import os

import numpy as np
import pytest
import tensorflow as tf

from deeplift.layers import NonlinearMxtsMode as M
from deeplift.layers import activations
from deeplift.modes import NEAR_ZERO_THRESHOLD
from deeplift.rules.activation import rescale_math

from tests.nets import build, random_data


def former_rescale_math(gradient):
    """Rescale's factor as it was computed before issue 20 (the
    denominator replaced by 1 at near-zero differences, then a second
    select): the reference the new math must equal bit for bit."""
    def math(act_in, ref_in, act_out, ref_out):
        in_diff = act_in - ref_in
        near_zero = tf.abs(in_diff) < NEAR_ZERO_THRESHOLD
        safe = tf.where(near_zero, tf.constant(1, in_diff.dtype), in_diff)
        return tf.where(near_zero, gradient(ref_in),
                        (act_out - ref_out) / safe)
    return math


def _tricky_inputs(dtype, shape=(6, 50, 8), seed=3):
    """Activations against a shared reference, with exact ties, differences
    just below and above the near-zero threshold and sign crossings."""
    rng = np.random.RandomState(seed)
    ref = rng.randn(1, *shape[1:]).astype(dtype)
    x = np.broadcast_to(ref, shape).copy()
    kind = rng.randint(0, 5, size=shape)
    x[kind == 1] += rng.randn(int((kind == 1).sum())).astype(dtype)
    x[kind == 2] += (0.5 * NEAR_ZERO_THRESHOLD
                     * rng.choice([-1, 1], int((kind == 2).sum())))
    x[kind == 3] += (2 * NEAR_ZERO_THRESHOLD
                     * rng.choice([-1, 1], int((kind == 3).sum())))
    x[kind == 4] = -x[kind == 4]       # crossings through zero
    x[0, 0, :] = 0.0                   # zeros on either side of a tie
    return tf.constant(x), tf.constant(ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer_class", [activations.ReLU,
                                         activations.Sigmoid,
                                         activations.Tanh])
def test_rescale_math_is_bitwise_the_former_math(dtype, layer_class):
    layer = layer_class()
    x, ref = _tricky_inputs(dtype)
    args = (x, ref, layer.f(x), layer.f(ref))
    new = rescale_math(layer.gradient)(*args).numpy()
    old = former_rescale_math(layer.gradient)(*args).numpy()
    assert np.all(np.isfinite(new))
    # bit for bit: the same division of the same operands is selected
    np.testing.assert_array_equal(new, old)
    # and where the difference is near zero it is the reference's gradient
    near = np.abs((x - ref).numpy()) < NEAR_ZERO_THRESHOLD
    assert near.any() and (~near).any()
    grad_ref = np.broadcast_to(layer.gradient(ref).numpy(), new.shape)
    np.testing.assert_array_equal(new[near], grad_ref[near])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rescale_math_xla_fused_is_bitwise_the_plain_math(dtype):
    layer = activations.ReLU()
    x, ref = _tricky_inputs(dtype)
    args = (x, ref, layer.f(x), layer.f(ref))
    plain = rescale_math(layer.gradient)(*args).numpy()
    compiled = tf.function(rescale_math(layer.gradient), jit_compile=True,
                           autograph=False)(*args).numpy()
    np.testing.assert_array_equal(compiled, plain)


SPEC = [("conv1d", 12, 5, 1, 1, "valid", "relu"),
        ("maxpool1d", 2, 2, "valid"),
        ("conv1d", 8, 3, 1, 1, "valid", "relu"),
        ("flatten",), ("dense", 6, "relu"), ("dense", 3, None)]
SHAPE = (40, 4)


@pytest.mark.parametrize("mode", [M.Rescale, M.DeepLIFT_GenomicsDefault])
def test_model_scores_sum_to_delta_and_match_float64(mode):
    """Whole-model Rescale / GenomicsDefault scores through the public
    function: they sum to the target's difference from reference, and the
    float32 scores agree with a float64 run of the same model."""
    # max pooling by summation_to_delta, so that the scores sum to delta
    _, model, target = build(SPEC, SHAPE, mode=mode,
                             maxpool_mode="summation_to_delta")
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target)
    x, ref = random_data(SHAPE, 9)
    scores = {}
    for dtype in (np.float32, np.float64):
        scores[dtype] = func(task_idx=1,
                             input_data_list=[x.astype(dtype)],
                             input_references_list=[ref.astype(dtype)],
                             batch_size=4, progress_update=None)
    assert scores[np.float64].dtype == np.float64
    # float32 against float64: rounding of ~10 float32 ops per layer over
    # sums of a few hundred terms, relative to the largest score
    scale = np.abs(scores[np.float64]).max()
    np.testing.assert_allclose(scores[np.float32], scores[np.float64],
                               rtol=0, atol=1e-5 * scale)
    predict = model.get_prediction_function(input_layer_idx=0,
                                            output_layer_idx=target)
    delta = (predict([x.astype(np.float64)], batch_size=4)
             - predict([ref.astype(np.float64)], batch_size=4))[:, 1]
    # summation to delta in float64: exact up to float64 rounding
    np.testing.assert_allclose(
        scores[np.float64].reshape(len(x), -1).sum(axis=1), delta,
        rtol=1e-9, atol=1e-9)


# ----- score_sequences with one reference shared by every sequence -------

L = 200


@pytest.fixture(scope="module")
def demo():
    from deeplift import genomics
    from deeplift.cli import DEMO_MODEL
    # max pooling by the gradient (the default): with summation_to_delta a
    # constant reference (gc, zeros) ties inside every pooling window, and
    # which tied position is credited depends on the last bits of the
    # reference's activations, i.e. on its batch shape (both are valid)
    model = genomics.load_model(DEMO_MODEL)
    rng = np.random.RandomState(4)
    seqs = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (13, L))]
    return model, seqs


@pytest.mark.parametrize("reference", ["gc:0.4", "zeros", "array"])
def test_shared_reference_equals_the_pair_path(demo, reference):
    """A reference shared by all sequences is scored as a batch-1
    reference; the result equals the (sequence, reference) pair path of
    MultiRefScorer, which it replaces for such references."""
    from deeplift import genomics
    from deeplift.genomics.references import gc_reference
    from deeplift.genomics.scoring import ScoringPlan
    model, seqs = demo
    ref = {"gc:0.4": gc_reference(seqs[0], 0.4),
           "zeros": np.zeros((L, 4), np.float32),
           "array": np.random.RandomState(2).dirichlet(
               np.ones(4), L).astype(np.float32)}[reference]
    spec = ref[None, None] if reference == "array" else reference
    plan = ScoringPlan(model, "genomics_default", len(seqs), L, [0, 2],
                       spec, 0, 5)
    assert plan.refs.shared(L) is not None
    hyp, contribs = genomics.score_sequences(
        model, seqs, task_idx=[0, 2], reference=spec, batch_size=5,
        progress=False)
    pairs = plan.scorer.run(seqs, np.broadcast_to(ref, (len(seqs), 1, L, 4)),
                            task_idx=[0, 2], batch_size=5,
                            hypothetical=True, progress=False)
    assert hyp.shape == pairs.hypothetical_contribs.shape == (2, 13, L, 4)
    # float32 rounding only: the reference's forward pass runs on a batch
    # of 1 here and of 5 pairs there, which the CPU kernels may round
    # differently in the last bits
    scale = np.abs(pairs.hypothetical_contribs).max()
    np.testing.assert_allclose(hyp, pairs.hypothetical_contribs, rtol=0,
                               atol=1e-6 * scale)
    np.testing.assert_array_equal(contribs, hyp * seqs)


def test_shared_reference_same_bytes_whatever_the_chunking(demo):
    from deeplift.genomics.scoring import ScoringPlan
    model, seqs = demo
    plan = ScoringPlan(model, "rescale", len(seqs), L, 1, "gc:0.4", 0, 4)
    whole = plan.score(seqs, 0)
    parts = np.concatenate([plan.score(seqs[a:b], a) for a, b in
                            [(0, 3), (3, 9), (9, 13)]], axis=-3)
    assert parts.tobytes() == whole.tobytes()


def test_per_sequence_references_keep_the_pair_path(demo):
    from deeplift.genomics.references import ReferenceSpec
    assert ReferenceSpec("gc", 3, L).shared(L) is None
    assert ReferenceSpec("dinuc-shuffle:2", 3, L).shared(L) is None
    two = np.zeros((1, 2, L, 4), np.float32)
    assert ReferenceSpec(two, 3, L).shared(L) is None


# ----- XLA's compiled kernels kept on disk ---------------------------------

def test_use_xla_cache_sets_the_flag_once(tmp_path, monkeypatch):
    from deeplift import xla_cache
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", str(tmp_path))
    env = {"TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    folder = xla_cache.use_xla_cache(env)
    assert folder.startswith(str(tmp_path / "xla")) and \
        os.path.isdir(folder)
    assert env["TF_XLA_FLAGS"] == ("--tf_xla_auto_jit=0 %s=%s" % (
        xla_cache.XLA_CACHE_FLAG, folder))
    # a persistent cache the user chose is left alone
    assert xla_cache.use_xla_cache(env) is None
    assert env["TF_XLA_FLAGS"].count(xla_cache.XLA_CACHE_FLAG) == 1
    # off with the rest of deeplift's cache
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", "off")
    env = {}
    assert xla_cache.use_xla_cache(env) is None and env == {}


def test_use_xla_cache_skips_a_folder_it_cannot_write(tmp_path, monkeypatch):
    """XLA fails the operation whose kernel it cannot write, so a cache
    folder that cannot be made (here below a file) is not named."""
    from deeplift import xla_cache
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", str(blocker / "cache"))
    env = {"TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    assert xla_cache.use_xla_cache(env) is None
    assert env == {"TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    # a writable folder keeps no probe file
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", str(tmp_path / "cache"))
    folder = xla_cache.use_xla_cache(env)
    assert folder is not None and os.listdir(folder) == []


@pytest.mark.parametrize("cache", ["dir", "off"])
def test_importing_deeplift_points_xla_at_the_cache(tmp_path, cache):
    """``import deeplift`` (before TensorFlow's first operation) names
    the persistent XLA cache in deeplift's cache folder; with
    ``DEEPLIFT_CACHE_DIR=off`` it leaves TF_XLA_FLAGS alone."""
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, DEEPLIFT_CACHE_DIR=(
        str(tmp_path) if cache == "dir" else "off"),
        PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TF_XLA_FLAGS", None)
    out = subprocess.run(
        [sys.executable, "-c", "import os, sys, deeplift; "
         "print(os.environ.get('TF_XLA_FLAGS')); "
         "print('tensorflow' in sys.modules)"],
        env=env, cwd=repo, check=True, capture_output=True,
        text=True).stdout.split()
    # importing deeplift does not import TensorFlow
    assert out[1] == "False"
    if cache == "off":
        assert out[0] == "None"
    else:
        flag, folder = out[0].split("=", 1)
        assert flag == "--tf_xla_persistent_cache_directory"
        assert folder.startswith(str(tmp_path / "xla"))


_FUSED_SCRIPT = """
import sys

import numpy as np
import deeplift  # names the XLA cache (deeplift.xla_cache)
from tests.test_fused import SPEC, SHAPE
from tests.nets import build, random_data
from deeplift.layers import NonlinearMxtsMode as M
_, model, target = build(SPEC, SHAPE, mode=M.Rescale)
func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                      target_layer_idx=target)
x, ref = random_data(SHAPE, 5)
np.save(sys.argv[1], func(task_idx=1, input_data_list=[x],
                          input_references_list=[ref], batch_size=5,
                          fuse=True))
"""


@pytest.mark.slow
def test_fused_kernels_loaded_from_the_xla_cache_give_the_same_bytes(
        tmp_path):
    """Two fresh processes score with fused rule math: the first compiles
    and writes XLA's cache (named by ``import deeplift``), the second
    loads the kernels from it; the scores are the same bytes."""
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, DEEPLIFT_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH",
                                                              ""))
    env.pop("TF_XLA_FLAGS", None)
    outs, entries = [], []
    for run in range(2):
        out = str(tmp_path / ("scores%d.npy" % run))
        subprocess.run([sys.executable, "-c", _FUSED_SCRIPT, out], env=env,
                       cwd=repo, check=True, capture_output=True)
        outs.append(np.load(out))
        xla = tmp_path / "cache" / "xla"
        entries.append({os.path.join(d, f): os.stat(os.path.join(d, f))
                        .st_mtime_ns for d, _, files in os.walk(xla)
                        for f in files})
    # the first run wrote the fused kernels; the second found them all and
    # wrote nothing (a kernel compiled again would be written again)
    assert entries[0] and entries[1] == entries[0]
    assert outs[0].tobytes() == outs[1].tobytes()


def _worker_xla_flags(dask_worker):
    return os.environ.get("TF_XLA_FLAGS", "")


@pytest.mark.slow
def test_worker_plugin_points_xla_at_the_cache(tmp_path, monkeypatch):
    """A Dask worker of a local cluster gets the persistent XLA cache in
    deeplift's cache folder when the plugin is set up."""
    pytest.importorskip("distributed")
    from deeplift import distributed
    from deeplift.cli import DEMO_MODEL
    from deeplift.genomics.jobs import ChunkRunner, JobSpec
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    spec = JobSpec(model=DEMO_MODEL, store=str(tmp_path / "s.zarr"),
                   source=("regions", {}), num=1, length=200,
                   model_key="k")
    with distributed.connect(workers=1) as conn:
        plugin = distributed._worker_plugin_class()(spec, 1, ChunkRunner)
        conn.client.register_plugin(plugin, name=plugin.name)
        (flags,) = conn.client.run(_worker_xla_flags).values()
    from deeplift import xla_cache
    assert flags == "%s=%s" % (xla_cache.XLA_CACHE_FLAG,
                               xla_cache.xla_cache_directory())
    assert flags.split("=", 1)[1].startswith(str(tmp_path / "xla"))


def test_scoring_a_converted_model_does_not_import_tf_keras():
    """Checking whether a model is a Keras model imports neither Keras
    package (tf_keras's import was 0.4 s of score_sequences' first call);
    a model of a package that was imported is still recognised."""
    import subprocess
    import sys
    code = "\n".join([
        "import sys",
        "from deeplift.cli import DEMO_MODEL",
        "from deeplift.genomics import load_model",
        "from deeplift.multiref import MultiRefScorer, _is_keras_model",
        "model = load_model(DEMO_MODEL, method='rescale')",
        "MultiRefScorer(model)",
        "assert 'tf_keras' not in sys.modules, 'tf_keras imported'",
        "import tf_keras",
        "m = tf_keras.Sequential([tf_keras.layers.Dense(1, input_shape=(2,))])",
        "assert _is_keras_model(m) and not _is_keras_model(model)",
        "print('ok')"])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


_AUTOGRAPH_SCRIPT = """
import keras
import numpy as np
from tensorflow.python.autograph.pyct import transpiler

seen = []
real = transpiler.PyToPy.transform


def spy(self, obj, user_context):
    seen.append("%s.%s" % (getattr(obj, "__module__", ""),
                           getattr(obj, "__qualname__", obj)))
    return real(self, obj, user_context)


transpiler.PyToPy.transform = spy
from deeplift.conversion import kerasapi_conversion as kc
from deeplift.util import compile_func
from tests.attention_net import attention_like

inp = keras.Input((60, 4))
h = keras.layers.Conv1D(8, 5, activation="relu")(inp)
h = keras.layers.MaxPooling1D(2)(h)
h = keras.layers.Flatten()(keras.layers.Dense(6, activation="relu")(h))
model = kc.convert_keras_model(keras.Model(inp, keras.layers.Dense(2)(h)))
func = compile_func([model.input_layers()[0].get_activation_vars()],
                    model.output_layers()[0].get_activation_vars())
func([np.zeros((3, 60, 4), np.float32)])
kc.convert_keras_model(attention_like(length=40, filters=8))
print("\\n".join(seen))
"""


def test_conversion_and_compile_func_do_not_autograph_deeplift_code(
        tmp_path):
    """Autograph rewrites the source of each function it converts; on our
    plain-Python sweeps and shape inference that cost 0.75 s of a 0.85 s
    Basset-like conversion.  In a fresh process (autograph caches what it
    converted), converting a CNN, calling compile_func and converting an
    attention model (traced from Keras) hand autograph no deeplift
    function but the traced layer's call wrapper (which calls the user's
    Keras layer, whose code may need autograph)."""
    import subprocess
    import sys
    # the spy wraps autograph's (private) transpiler
    pytest.importorskip("tensorflow.python.autograph.pyct.transpiler")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, DEEPLIFT_CACHE_DIR=str(tmp_path),
               PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH",
                                                             ""))
    result = subprocess.run([sys.executable, "-c", _AUTOGRAPH_SCRIPT],
                            env=env, cwd=repo, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout.split()
    ours = [name for name in out if name.startswith("deeplift.")]
    assert set(ours) <= {"deeplift.conversion.tracing.trace_layer.<locals>"
                         ".fn"}, ours
    # the traced layer's wrapper was converted: the spy saw autograph work
    assert ours, out
