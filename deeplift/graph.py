"""Graph traversal: topological order, forward sweep, backward sweep.

This module knows nothing about particular layer types.  It relies on the
layer contract (see :class:`deeplift.layers.core.Layer`):

* ``layer.input_layers()`` -> list of input layers;
* ``layer.forward(xs)`` -> output tensor, ``xs`` a list of input tensors;
* ``layer.contribs(state)`` -> ``(pos, neg)`` contributions of the output's
  difference from reference, with ``pos + neg == state.diff``;
* ``layer.backward(state, pos_mxts, neg_mxts)`` -> list of
  ``(pos_mxts, neg_mxts)`` increments, one pair per input layer.

Multipliers travel as pairs ``(pos, neg)``; when both are the same tensor
object (``neg is pos``) the rules take single-pass shortcuts.

References may have batch 1 (one reference shared by every example) and
stay so through every layer, except after a layer whose attribute
``full_batch_reference`` is True (its output mixes the examples, e.g. a
traced op over the batch axis): its parents' references are broadcast to
the batch size of their activations first.
"""
import tensorflow as tf


class LayerState(object):
    """Tensors of one layer during one traced evaluation.

    ``act``: activations on the input batch; ``ref``: activations on the
    references (batch 1 when the reference is shared); ``diff``: act - ref;
    ``contribs``: (pos, neg) split of ``diff``, computed on first use.
    ``inputs``: the states of the input layers, in order.  ``fuse``: the
    rules may run their elementwise math as XLA-compiled kernels (see
    :func:`deeplift.layers.activations.fused`).
    """
    __slots__ = ("layer", "inputs", "act", "ref", "_diff", "_contribs",
                 "cache", "fuse")

    def __init__(self, layer, inputs, act, ref, fuse=False):
        self.layer = layer
        self.inputs = inputs
        self.act = act
        self.ref = ref
        self.fuse = fuse
        self._diff = None
        self._contribs = None
        self.cache = {}

    @property
    def diff(self):
        if self._diff is None:
            self._diff = self.act - self.ref
        return self._diff

    @property
    def contribs(self):
        if self._contribs is None:
            self._contribs = self.layer.contribs(self)
        return self._contribs

    @property
    def input(self):
        """The single input's state (single-input layers)."""
        return self.inputs[0]


def topological_order(output_layers):
    """All ancestors of ``output_layers`` (included), inputs first."""
    order, seen, on_stack = [], set(), set()
    for root in output_layers:
        stack = [(root, False)]
        while stack:
            layer, expanded = stack.pop()
            if expanded:
                on_stack.discard(id(layer))
                if id(layer) not in seen:
                    seen.add(id(layer))
                    order.append(layer)
                continue
            if id(layer) in seen:
                continue
            if id(layer) in on_stack:
                raise ValueError("the layer graph has a cycle through layer "
                                 "%r" % (layer.get_name(),))
            on_stack.add(id(layer))
            stack.append((layer, True))
            for parent in reversed(layer.input_layers()):
                if id(parent) not in seen:
                    stack.append((parent, False))
    return order


def forward_sweep(order, input_values, reference_values=None, fuse=False,
                  pair_example=None):
    """Evaluate activations and reference activations.

    ``input_values`` / ``reference_values``: dicts Input layer -> tensor;
    without ``reference_values`` only activations are computed (``ref`` is
    None).  ``fuse``: passed to every state.

    ``pair_example`` (optional, int32 (P,)): the inputs hold M distinct
    examples and the references P (example, reference) pairs, pair p
    belonging to example ``pair_example[p]``.  Each layer's activation is
    then computed once per example (batch M) and gathered to the pairs
    (batch P), so the actual input's forward pass costs 1/K of the
    references' for K references per example; the states hold the
    gathered (P, ...) activations, as if the inputs had been repeated.

    A layer with an inner graph that offers ``sweep_inner(parents, fuse,
    pair_example, examples)`` (composites, traced layers) is evaluated by
    one sweep of its inner graph on the activations and references
    together, whose states its rules use later (``state.cache
    ["inner_sweep"]``), instead of a forward pass on each and a second
    sweep for the rules.  In pair mode each state keeps its per-example
    activations in ``state.cache["example_act"]``.

    Returns a dict ``id(layer) -> LayerState`` for every layer in ``order``.
    """
    states = {}
    per_example = {}
    for layer in order:
        parents = [states[id(p)] for p in layer.input_layers()]
        inner = _sweep_inner(layer, parents, reference_values, fuse,
                             pair_example, per_example)
        if inner is not None:
            inner_states, out = inner
            act, ref = out.act, out.ref
            if pair_example is not None:
                per_example[id(layer)] = out.cache["example_act"]
        elif parents:
            if pair_example is None:
                act = layer.forward([p.act for p in parents])
            else:
                small = layer.forward([per_example[id(p)]
                                       for p in layer.input_layers()])
                per_example[id(layer)] = small
                act = tf.gather(small, pair_example)
            if reference_values is None:
                ref = None
            elif getattr(layer, "reference_is_actual", False):
                # a value that carries no attribution (a mask computed
                # from token ids): its reference is its actual value
                ref = act
            else:
                refs = [p.ref for p in parents]
                if getattr(layer, "full_batch_reference", False):
                    refs = [_to_batch(r, p.act) for r, p in zip(refs,
                                                                parents)]
                ref = layer.forward(refs)
        else:
            if layer not in input_values:
                raise ValueError("no data was given for input layer %r"
                                 % (layer.get_name(),))
            act = input_values[layer]
            if pair_example is not None:
                per_example[id(layer)] = act
                act = tf.gather(act, pair_example)
            ref = (None if reference_values is None
                   else reference_values[layer])
        state = LayerState(layer, parents, act, ref, fuse)
        if pair_example is not None:
            state.cache["example_act"] = per_example[id(layer)]
        if inner is not None:
            state.cache["inner_sweep"] = inner_states
        states[id(layer)] = state
    return states


def _sweep_inner(layer, parents, reference_values, fuse, pair_example,
                 per_example):
    """``(inner states, inner output state)`` of ``layer``'s one sweep of
    its inner graph on activations and references (see
    :func:`forward_sweep`), or None where the layer has none to offer
    (no inner graph, no references, a reference that is the actual value
    or one computed at the full batch size)."""
    sweep = getattr(layer, "sweep_inner", None)
    if (sweep is None or not parents or reference_values is None
            or getattr(layer, "reference_is_actual", False)
            or getattr(layer, "full_batch_reference", False)):
        return None
    examples = (None if pair_example is None
                else [per_example[id(p)] for p in layer.input_layers()])
    return sweep(parents, fuse, pair_example, examples)


def _to_batch(ref, act):
    """``ref`` (batch 1 or the batch of ``act``) with ``act``'s batch
    size."""
    return tf.broadcast_to(ref, tf.concat([tf.shape(act)[:1],
                                           tf.shape(ref)[1:]], 0))


def add_mxts(current, increment):
    """Sum two (pos, neg) multiplier pairs, keeping the 'same' marker."""
    if current is None:
        return increment
    pos = current[0] + increment[0]
    if current[1] is current[0] and increment[1] is increment[0]:
        return (pos, pos)
    return (pos, current[1] + increment[1])


def backward_sweep(order, states, target_layer, seed, override=None,
                   neg_seed=None):
    """Propagate multipliers from ``target_layer`` back to its ancestors.

    ``seed``: multipliers on the target's output, broadcastable to its
    activations; ``neg_seed`` (optional): distinct multipliers for the
    target's negative contributions (``seed`` by default, also when it is
    ``seed`` itself).  ``override`` (optional): ``f(layer, state, pos,
    neg)`` returning the increments to use instead of ``layer.backward``,
    or None to keep the layer's own rule (e.g. the epsilon-LRP rule); it
    also applies inside layers with ``has_inner_graph`` (composites), whose
    ``backward`` then gets it as ``override=``.
    Returns a dict ``id(layer) -> (pos_mxts, neg_mxts)``.  Layers that do
    not feed the target are absent.
    """
    target_state = states[id(target_layer)]

    def full(t):
        return tf.broadcast_to(tf.cast(t, target_state.act.dtype),
                               tf.shape(target_state.act))
    pos = full(seed)
    neg = pos if neg_seed is None or neg_seed is seed else full(neg_seed)
    mxts = {id(target_layer): (pos, neg)}
    for layer in reversed(order):
        pair = mxts.get(id(layer))
        if pair is None or not layer.input_layers():
            continue
        state = states[id(layer)]
        increments = None
        if override is not None:
            increments = override(layer, state, pair[0], pair[1])
        if increments is None and override is not None and getattr(
                layer, "has_inner_graph", False):
            # a composite layer sweeps its inner graph with the override
            increments = layer.backward(state, pair[0], pair[1],
                                        override=override)
        if increments is None:
            increments = layer.backward(state, pair[0], pair[1])
        for parent, increment in zip(layer.input_layers(), increments):
            mxts[id(parent)] = add_mxts(mxts.get(id(parent)), increment)
    return mxts


def sweep_model(model, inputs, references, seed, target_layer=None):
    """Forward and backward sweeps of a converted model (anything with
    ``input_layers()`` and ``output_layers()``) on one batch.

    ``inputs`` / ``references``: one array or tensor per input layer, in
    order; ``seed``: multipliers on the target's output (broadcastable to
    it); ``target_layer``: the model's first output by default.  Returns
    ``(states, mxts)`` as :func:`forward_sweep` and
    :func:`backward_sweep` do.
    """
    input_layers = model.input_layers()
    if target_layer is None:
        target_layer = model.output_layers()[0]
    order = topological_order([target_layer])
    states = forward_sweep(
        order, {l: tf.convert_to_tensor(x) for l, x in
                zip(input_layers, inputs)},
        {l: tf.convert_to_tensor(r) for l, r in
         zip(input_layers, references)})
    return states, backward_sweep(order, states, target_layer, seed)


def vjp(fn, xs, output_gradient):
    """Vector-Jacobian product of ``fn`` at ``xs`` (a list of tensors).

    Used for ops that are linear or piecewise linear (transposed
    convolutions, pooling, reshapes): the result is ``J^T output_gradient``
    where J is the Jacobian at ``xs``.  Returns a list like ``xs``.
    """
    xs = list(xs)
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        y = fn(xs)
    grads = tape.gradient(y, xs, output_gradients=output_gradient,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return grads


def jvp(fn, x, tangent):
    """Jacobian-vector product of single-input ``fn`` (taking a list) at
    ``x``: for max pooling, the tangent's value at each window's argmax."""
    with tf.autodiff.ForwardAccumulator(primals=x, tangents=tangent) as acc:
        y = fn([x])
    return acc.jvp(y)
