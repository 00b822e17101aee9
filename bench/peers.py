"""Peer comparison for workload (b): captum's DeepLift / DeepLiftShap and
tangermeme's ``deep_lift_shap`` on a PyTorch twin of the Keras model,
against this package, on the same (example, reference) pairs.

Needs the optional ``peers`` extra (``pip install -e .[peers]``: torch,
captum and tangermeme); tangermeme is skipped, with a note in the result,
when it is not importable.
This module imports without any of them (torch, captum and tangermeme are
imported inside the functions).

Usage, from bench/run.py's workload (b) (``h5`` is the Basset-like model
saved by ``basset_keras_model_file``, ``x`` is (N, L, 4), ``refs`` is
(N, K, L, 4), e.g. K dinucleotide shuffles of each example)::

    from peers import peer_pairs_per_second
    res = peer_pairs_per_second(h5, x, refs, batch_size=128)
    res["captum_deeplift_pairs_per_s"], res["ours_pairs_per_s"], ...
    res.get("tangermeme_pairs_per_s")   # else res["tangermeme_skipped"]

or standalone (8 examples x 20 references, the Basset-like model)::

    python bench/peers.py [--n 8] [--k 20]

The first argument may be a Sequential tf_keras / Keras 3 model object, the
path of a full-model HDF5 file, or a zero-argument callable returning a
model.  Supported layers: Conv1D (strides 1, 'valid' or odd-width 'same',
relu or linear), MaxPooling1D ('valid'), Flatten, Dense (relu or linear),
Dropout, and a final sigmoid / linear Activation (or activation of the last
Dense), which is left out: scores are for the pre-activation output, as
``target_layer_idx=-2`` in bench/run.py.

What is timed (median of ``repeats`` after one warm-up, pairs = N x K):
  * captum ``DeepLift`` on the N*K tiled (example, reference) pairs, in
    batches of ``batch_size``, baselines = the per-pair references;
  * captum ``DeepLiftShap``, one call per example with that example's K
    references as the (shared) baselines -- captum's way of averaging over
    references; compared with the mean over references of our scores;
  * tangermeme ``deep_lift_shap`` (when installed) on the same twin, with
    the same references passed explicitly (``references``, (N, K, 4, L)
    channels-first), ``target=task``, ``batch_size`` (example, reference)
    pairs per batch, on the CPU, no progress bar, default outputs
    (``raw_outputs=False, hypothetical=False``).  Those are the mean over
    the K references of the "hypothetical" projection, masked by the input:
    at each position, the observed base gets the sum over the channels of
    (x - r) * multipliers, the other bases 0.  Its differences with captum
    DeepLiftShap and with our mean over references are therefore taken
    after the same projection of theirs / ours (``x * a.sum(channels)``).
    tangermeme hooks every ``nn.ReLU`` (Rescale) and ``nn.MaxPool1d`` (its
    revision of captum's max-pooling rule, routing the change of each
    pooled output to the winning input positions); our Flatten module, the
    convolutions and the dense layers are linear to it;
  * ours: ``convert_model_from_saved_files(h5, 'DeepLIFT_GenomicsDefault')``
    then ``get_target_contribs_func`` on the tiled pairs.
The differences are reported, not asserted: captum and tangermeme use
Rescale at every ReLU and each its own max-pooling rule, ours
GenomicsDefault (Rescale in the convolutions, RevealCancel in the dense
layers) with gradient max-pooling.  The ``convergence_delta_*`` entries
show which scores sum to the output difference (summation-to-delta).
"""
import os
import tempfile

import numpy as np

from timing import median_time


def _load_model(model_or_path):
    if callable(model_or_path) and not hasattr(model_or_path, "layers"):
        model_or_path = model_or_path()
    if isinstance(model_or_path, (str, os.PathLike)):
        import tf_keras
        return tf_keras.models.load_model(str(model_or_path), compile=False)
    return model_or_path


def _activation_name(layer):
    act = layer.get_config().get("activation", "linear")
    if isinstance(act, dict):              # serialized activation object
        act = act.get("config", {}).get("name", act.get("class_name"))
    return str(act).lower()


def build_torch_twin(keras_model):
    """A ``torch.nn.Sequential`` equal to the Keras Sequential model up to
    its final (pre-)activation, channels-first input (N, C, L).  Each ReLU
    is its own ``nn.ReLU`` (captum's DeepLift hooks modules).  Returns
    (twin, final_activation_name)."""
    import torch
    from torch import nn

    class KerasFlatten(nn.Module):
        """Flatten in Keras' (length, channels) row-major order."""

        def forward(self, x):
            return x.permute(0, 2, 1).reshape(x.shape[0], -1)

    layers = [l for l in keras_model.layers
              if type(l).__name__ not in ("InputLayer", "Dropout")]
    final_activation = "linear"
    if type(layers[-1]).__name__ == "Activation":
        final_activation = _activation_name(layers[-1])
        layers = layers[:-1]
    mods = []
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        cfg = layer.get_config()
        last = i == len(layers) - 1
        if kind in ("Conv1D", "Dense"):
            weights = layer.get_weights()
            kernel = weights[0]
            bias = weights[1] if len(weights) > 1 else None
            if kind == "Conv1D":
                if tuple(np.atleast_1d(cfg["strides"])) != (1,) or \
                        tuple(np.atleast_1d(cfg["dilation_rate"])) != (1,):
                    raise NotImplementedError("strided/dilated Conv1D")
                width = kernel.shape[0]
                if cfg["padding"] == "valid":
                    pad = 0
                elif cfg["padding"] == "same" and width % 2 == 1:
                    pad = width // 2
                else:
                    raise NotImplementedError("Conv1D padding %r, width %d"
                                              % (cfg["padding"], width))
                mod = nn.Conv1d(kernel.shape[1], kernel.shape[2], width,
                                padding=pad, bias=bias is not None)
                w = np.transpose(kernel, (2, 1, 0))    # (out, in, width)
            else:
                mod = nn.Linear(kernel.shape[0], kernel.shape[1],
                                bias=bias is not None)
                w = kernel.T                           # (out, in)
            with torch.no_grad():
                mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                if bias is not None:
                    mod.bias.copy_(torch.from_numpy(bias))
            mods.append(mod)
            act = _activation_name(layer)
            if act == "relu":
                mods.append(nn.ReLU())
            elif act != "linear":
                if last:
                    final_activation = act
                else:
                    raise NotImplementedError("activation %r" % act)
        elif kind == "MaxPooling1D":
            if cfg["padding"] != "valid":
                raise NotImplementedError("MaxPooling1D padding 'same'")
            pool = int(np.atleast_1d(cfg["pool_size"])[0])
            strides = cfg.get("strides") or pool
            mods.append(nn.MaxPool1d(pool,
                                     int(np.atleast_1d(strides)[0])))
        elif kind == "Flatten":
            mods.append(KerasFlatten())
        elif kind in ("ReLU",) or (kind == "Activation" and
                                   _activation_name(layer) == "relu"):
            mods.append(nn.ReLU())
        else:
            raise NotImplementedError("layer %s" % kind)
    return nn.Sequential(*mods).eval(), final_activation


def _keras_pre_activation(keras_model, x):
    """Output of the Keras model before its final activation."""
    import tensorflow as tf
    layers = [l for l in keras_model.layers
              if type(l).__name__ != "InputLayer"]
    h = tf.convert_to_tensor(x)
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        if last and type(layer).__name__ == "Activation":
            break
        if last and type(layer).__name__ == "Dense":
            h = tf.matmul(h, layer.kernel)
            if layer.use_bias:
                h = h + layer.bias
            break
        h = layer(h, training=False)
    return np.asarray(h)


def _to_torch(a):
    """(N, L, C) numpy -> (N, C, L) float32 tensor."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(
        np.transpose(a, (0, 2, 1)), dtype=np.float32))


def _project_on_input(scores, x):
    """tangermeme's default output from per-channel mean scores (N, L, C):
    at each position the observed base (``x`` one-hot) gets the sum over
    the channels, the other bases 0."""
    return x * scores.sum(axis=-1, keepdims=True)


def peer_pairs_per_second(keras_model_builder_or_weights, x, refs,
                          batch_size=128, task=0, repeats=3, h5_file=None,
                          target_layer_idx=-2, with_ours=True):
    """Time captum's DeepLift / DeepLiftShap and, when installed,
    tangermeme's ``deep_lift_shap`` on a PyTorch twin of the model (and this
    package on the same pairs); see the module docstring.

    ``x``: (N, L, C) examples; ``refs``: (N, K, L, C) references per
    example.  ``h5_file``: the saved model for our side (default: the path
    given as first argument, else the model saved to a temporary .h5).

    Returns a dict: ``pairs``, ``captum_deeplift_pairs_per_s``,
    ``captum_deepliftshap_pairs_per_s``, ``ours_pairs_per_s``,
    ``twin_max_abs_diff`` (twin vs Keras pre-activation outputs),
    ``max_abs_diff_deeplift`` (captum DeepLift vs ours, per pair),
    ``max_abs_diff_deepliftshap`` (captum DeepLiftShap vs our mean over
    references), ``max_abs_diff_deeplift_ours_rescale`` (captum DeepLift
    vs our Rescale mode, untimed: what remains is the max-pooling rule),
    ``max_abs_ours`` (scale of our scores), ``torch_threads``; with
    tangermeme: ``tangermeme_pairs_per_s``, ``tangermeme_version``,
    ``max_abs_diff_tangermeme_captum`` (vs captum DeepLiftShap) and
    ``max_abs_diff_tangermeme_ours`` (vs our mean over references), both
    after the projection described in the module docstring, and
    ``max_abs_tangermeme`` (scale of its scores); without it:
    ``tangermeme_skipped`` (why).  ``convergence_delta_<who>`` (who:
    ``captum_deepliftshap``, ``tangermeme``, ``ours``): the largest, over
    the examples, |sum of the mean-over-references scores - mean over the
    references of the output difference| (summation-to-delta; untimed).
    Raises ImportError without torch or captum.
    """
    import torch
    from captum.attr import DeepLift, DeepLiftShap

    source = keras_model_builder_or_weights
    if h5_file is None and isinstance(source, (str, os.PathLike)):
        h5_file = str(source)
    keras_model = _load_model(source)
    x = np.asarray(x, dtype=np.float32)
    refs = np.asarray(refs, dtype=np.float32)
    n, k = refs.shape[:2]
    assert refs.shape[0] == x.shape[0] and refs.shape[2:] == x.shape[1:]
    pairs_x = np.repeat(x, k, axis=0)
    pairs_r = refs.reshape((-1,) + x.shape[1:])

    twin, _ = build_torch_twin(keras_model)
    check = np.concatenate([x[:4], pairs_r[:4]])
    expected = _keras_pre_activation(keras_model, check)
    with torch.no_grad():
        got = twin(_to_torch(check)).numpy()
    twin_diff = float(np.abs(got - expected).max())
    scale = max(1.0, float(np.abs(expected).max()))
    if twin_diff > 1e-4 * scale:
        raise AssertionError("PyTorch twin differs from the Keras model by "
                             "%g" % twin_diff)

    result = {"pairs": n * k, "torch_threads": torch.get_num_threads(),
              "twin_max_abs_diff": twin_diff}

    # summation-to-delta: the scores of example i, summed, should equal the
    # mean over its references of (output(x_i) - output(r_ik)), task ``task``
    with torch.no_grad():
        out_x = twin(_to_torch(x))[:, task].numpy()
        out_r = np.concatenate([
            twin(_to_torch(pairs_r[s:s + batch_size]))[:, task].numpy()
            for s in range(0, len(pairs_r), batch_size)]).reshape(n, k)
    mean_out_diff = out_x - out_r.mean(axis=1)

    def convergence_delta(mean_scores):
        """max over examples of |sum of the mean scores - mean output
        difference|."""
        sums = mean_scores.reshape(n, -1).sum(axis=1)
        return float(np.abs(sums - mean_out_diff).max())

    # captum DeepLift on the tiled pairs, per-pair baselines
    tx, tr = _to_torch(pairs_x), _to_torch(pairs_r)
    deep_lift = DeepLift(twin)

    def captum_deeplift():
        parts = []
        for s in range(0, len(tx), batch_size):
            xb = tx[s:s + batch_size].clone().requires_grad_()
            parts.append(deep_lift.attribute(
                xb, baselines=tr[s:s + batch_size],
                target=task).detach())
        return torch.cat(parts).numpy().transpose(0, 2, 1)

    # captum DeepLiftShap: per example, its K references as baselines
    ex_t = [_to_torch(x[i:i + 1]) for i in range(n)]
    ref_t = [_to_torch(refs[i]) for i in range(n)]
    shap = DeepLiftShap(twin)

    def captum_shap():
        parts = []
        for xi, ri in zip(ex_t, ref_t):
            parts.append(shap.attribute(xi.clone().requires_grad_(),
                                        baselines=ri, target=task).detach())
        return torch.cat(parts).numpy().transpose(0, 2, 1)

    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs = captum_deeplift()
        t = median_time(captum_deeplift, repeats, warmup=0)
        result["captum_deeplift_pairs_per_s"] = n * k / t
        theirs_shap = captum_shap()
        t = median_time(captum_shap, repeats, warmup=0)
        result["captum_deepliftshap_pairs_per_s"] = n * k / t
    result["convergence_delta_captum_deepliftshap"] = convergence_delta(
        theirs_shap)

    # tangermeme deep_lift_shap: same twin, same references, mean over them
    try:
        from tangermeme.deep_lift_shap import deep_lift_shap
    except ImportError as e:
        deep_lift_shap = None
        result["tangermeme_skipped"] = "tangermeme not installed (%s)" % e
    if deep_lift_shap is not None:
        import tangermeme
        result["tangermeme_version"] = getattr(tangermeme, "__version__",
                                               "?")
        tm_x = _to_torch(x)
        tm_refs = torch.from_numpy(np.ascontiguousarray(
            np.transpose(refs, (0, 1, 3, 2))))           # (N, K, C, L)

        def tangermeme_fn():
            return deep_lift_shap(
                twin, tm_x, target=task, batch_size=batch_size,
                references=tm_refs, device="cpu", verbose=False,
                print_convergence_deltas=False)

        with warnings.catch_warnings():
            # its convergence-delta warnings: differences are reported below
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            theirs_tm = tangermeme_fn().detach().numpy().transpose(0, 2, 1)
            t = median_time(tangermeme_fn, repeats, warmup=0)
        result["tangermeme_pairs_per_s"] = n * k / t
        result["max_abs_tangermeme"] = float(np.abs(theirs_tm).max())
        result["convergence_delta_tangermeme"] = convergence_delta(theirs_tm)
        result["max_abs_diff_tangermeme_captum"] = float(
            np.abs(theirs_tm - _project_on_input(theirs_shap, x)).max())

    if with_ours:
        from deeplift.conversion import kerasapi_conversion as kc
        tmp = None
        if h5_file is None:
            tmp = tempfile.TemporaryDirectory()
            h5_file = os.path.join(tmp.name, "model.h5")
            keras_model.save(h5_file)
        try:
            model = kc.convert_model_from_saved_files(
                h5_file, nonlinear_mxts_mode="DeepLIFT_GenomicsDefault",
                verbose=False)
            rescale = kc.convert_model_from_saved_files(
                h5_file, nonlinear_mxts_mode="Rescale", verbose=False)
        finally:
            if tmp is not None:
                tmp.cleanup()
        func = model.get_target_contribs_func(
            find_scores_layer_idx=0, target_layer_idx=target_layer_idx)
        # untimed: our Rescale (still gradient max-pooling), which isolates
        # the part of the difference due to the max-pooling rule
        ours_rescale = np.asarray(rescale.get_target_contribs_func(
            find_scores_layer_idx=0, target_layer_idx=target_layer_idx)(
                task_idx=task, input_data_list=[pairs_x],
                input_references_list=[pairs_r], batch_size=batch_size,
                progress_update=None))
        result["max_abs_diff_deeplift_ours_rescale"] = float(
            np.abs(ours_rescale - theirs).max())

        def ours_fn():
            return np.asarray(func(task_idx=task, input_data_list=[pairs_x],
                                   input_references_list=[pairs_r],
                                   batch_size=batch_size,
                                   progress_update=None))
        ours = ours_fn()
        t = median_time(ours_fn, repeats, warmup=0)
        result["ours_pairs_per_s"] = n * k / t
        result["max_abs_ours"] = float(np.abs(ours).max())
        result["max_abs_diff_deeplift"] = float(np.abs(ours - theirs).max())
        ours_mean = ours.reshape((n, k) + x.shape[1:]).mean(axis=1)
        result["max_abs_diff_deepliftshap"] = float(
            np.abs(ours_mean - theirs_shap).max())
        result["convergence_delta_ours"] = convergence_delta(ours_mean)
        if "tangermeme_pairs_per_s" in result:
            result["max_abs_diff_tangermeme_ours"] = float(
                np.abs(theirs_tm - _project_on_input(ours_mean, x)).max())
    return result


def main(argv=None):
    import argparse
    import sys
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    sys.path.insert(0, os.path.dirname(here))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("DEEPLIFT_NO_PROGRESS", "1")
    from run import basset_keras_model_file, random_onehot
    from deeplift.dinuc_shuffle import dinuc_shuffle
    x = random_onehot(args.n, 1000, seed=1)
    rng = np.random.RandomState(0)
    refs = np.stack([dinuc_shuffle(s, num_shufs=args.k, rng=rng)
                     for s in x]).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "basset.h5")
        basset_keras_model_file(h5)
        res = peer_pairs_per_second(h5, x, refs, batch_size=args.batch_size,
                                    repeats=args.repeats)
    for key, value in res.items():
        print("%-38s %s" % (key, ("%.4g" % value)
                            if isinstance(value, float) else value))


if __name__ == "__main__":
    main()
