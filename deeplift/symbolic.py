"""``compile_func`` over the symbolic variables of the original API.

In the original, ``layer.get_activation_vars()`` etc. were TF1 graph
tensors and ``compile_func`` wrapped a session call.  Here they are
:class:`~deeplift.layers.core.SymbolicVar` handles; compiling them builds a
``tf.function`` over the layer graph.  Multiplier variables need a target:
the layer downstream on which ``set_scoring_mode`` was called; its task
index and active state are read at call time, as the original read its
``tf.Variable``.
"""
import numpy as np
import tensorflow as tf

from deeplift.graph import topological_order, forward_sweep, backward_sweep
from deeplift.layers.core import SymbolicVar, Input
from deeplift import scoring
from deeplift.scoring import layer_output

#: symbolic variable kind -> score kind of :func:`scoring.layer_output`
_KIND = {"pos_mxts": scoring.POS_MXTS, "neg_mxts": scoring.NEG_MXTS,
         "mxts": scoring.MULTIPLIERS, "target_contribs": scoring.CONTRIBS,
         "pos_contribs": scoring.POS_CONTRIBS,
         "neg_contribs": scoring.NEG_CONTRIBS}


def _find_target(layer):
    """The nearest layer at or downstream of ``layer`` with a scoring
    mode."""
    frontier, seen = [layer], set()
    while frontier:
        current = frontier.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current._scoring_mode is not None:
            return current
        frontier.extend(current.get_output_layers())
    raise RuntimeError(
        "no target layer found downstream of %r: call set_scoring_mode() on "
        "the target layer (after build_fwd_pass_vars()) before compiling "
        "multipliers or contributions" % (layer.get_name(),))


def compile_symbolic(inputs, outputs):
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    for var in list(inputs) + outputs:
        if not isinstance(var, SymbolicVar):
            raise TypeError("compile_func takes variables returned by layer "
                            "methods such as get_activation_vars(); got %r"
                            % (var,))
    for var in inputs:
        if not isinstance(var.layer, Input) or var.kind not in (
                "activation", "reference"):
            raise ValueError("compile_func inputs must be Input layers' "
                             "activation or reference variables; got %r"
                             % (var,))
    needs_target = [v for v in outputs
                    if v.kind not in ("activation", "reference")]
    targets = set()
    for var in needs_target:
        targets.add(_find_target(var.layer))
    if len(targets) > 1:
        raise ValueError("the compiled variables lead to several target "
                         "layers; compile them separately")
    target = targets.pop() if targets else None
    roots = [v.layer for v in outputs] + ([target] if target else [])
    for root in roots:
        root.build_fwd_pass_vars()
    order = topological_order(roots)
    input_layers = [l for l in order if isinstance(l, Input)]
    cache = {}

    def build(dtype):
        def run(feeds, seed):
            acts, refs = {}, {}
            for var, value in zip(inputs, feeds):
                (acts if var.kind == "activation" else refs)[var.layer] = \
                    value
            for layer in input_layers:
                if layer not in acts:
                    raise ValueError("compile_func needs the activation "
                                     "variable of input %r among its inputs"
                                     % (layer.get_name(),))
                refs.setdefault(layer, tf.zeros_like(acts[layer]))
            states = forward_sweep(order, acts, refs)
            mxts = (backward_sweep(order, states, target, seed)
                    if target is not None else {})
            results = []
            for var in outputs:
                state = states[id(var.layer)]
                if var.kind == "activation":
                    results.append(state.act)
                elif var.kind == "reference":
                    results.append(state.ref + tf.zeros_like(state.act))
                else:
                    results.append(layer_output(_KIND[var.kind], state,
                                                mxts.get(id(var.layer))))
            return results
        # no autograph: the sweeps are plain Python over layers
        return tf.function(run, reduce_retracing=True, autograph=False)

    def func(values):
        values = list(values)
        if len(values) > len(inputs) and len(inputs) == 1:
            values = [values]
        if len(values) != len(inputs):
            raise ValueError("expected %d input arrays, got %d"
                             % (len(inputs), len(values)))
        arrays = [np.asarray(v) for v in values]
        dtype = (np.float64 if any(a.dtype == np.float64 for a in arrays)
                 else np.float32)
        arrays = [a.astype(dtype) for a in arrays]
        if dtype not in cache:
            cache[dtype] = build(dtype)
        if target is not None:
            seed = target.target_seed(target._task_index,
                                      active=target._active, dtype=dtype)
        else:
            seed = np.zeros((1,), dtype=dtype)
        results = [r.numpy() for r in cache[dtype](arrays, seed)]
        return results[0] if single else results
    return func
