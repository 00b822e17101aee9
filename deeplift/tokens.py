"""Token models: one DeepLIFT score per token.

A model whose input is integer token ids (text, protein or DNA tokens)
starts with an ``Embedding`` (or a custom layer converted op by op whose
table lookup became one: keras_hub's ``TokenAndPositionEmbedding``, scored
at its output, where the positions add no difference).  Indices carry no
differences, so the scores
are found on the embedding's output, (N, T, H) contributions, and a
token's score is their sum over the hidden axis H (the contributions of
its embedding vector); the scores of a sequence sum to the change of the
target between the sequence and its reference.  The reference replaces
every token's embedding by the embedding of one chosen token (e.g. the
padding or ``[MASK]`` token) or by zeros.  Other inputs (attention masks,
token types, positions) are not attributed: their references are their
actual values, so they contribute nothing.

    from deeplift.tokens import score_tokens
    from deeplift.visualization.tokens import plot_token_scores

    result = score_tokens(model, ids, reference=pad_id, task_idx=1)
    plot_token_scores(tokens, result.scores[0])

(Equivalently, with the lower-level API: ``get_target_contribs_func(
find_scores_layer_name=<embedding layer>, ...)`` and references of the
token input set to the reference token; sum the result over its last
axis.)
"""
import collections

import numpy as np

__all__ = ["TokenScores", "score_tokens", "embedding_layer_of"]

#: ``scores`` (N, T): one value per token; ``contribs`` (N, T, H): the
#: contributions of each embedding component; ``embedding_layer``: the
#: name of the layer they were found on
TokenScores = collections.namedtuple(
    "TokenScores", ["scores", "contribs", "embedding_layer"])


#: ops a traced layer may apply to its token embedding and still be scored
#: at its output per token (elementwise with constants: + a position table,
#: * a scale)
_ELEMENTWISE_AFTER_LOOKUP = frozenset(["AddV2", "Add", "Sub", "Mul",
                                       "RealDiv", "Identity", "Cast",
                                       "BiasAdd"])


def _traced_lookup(layer, inputs):
    """``(the inner Embedding node, the model input it reads)`` when
    ``layer`` is a traced layer (op-level conversion) made of one lookup of
    an integer model input in a table followed by elementwise ops with
    constants only (a token + position embedding), else None: its output's
    differences are then the token embeddings' own."""
    from deeplift.layers import Embedding
    from deeplift.layers.traced import LinearOp, OpCall, TracedLayer
    from deeplift.layers.unattributed import Unattributed
    if not isinstance(layer, TracedLayer):
        return None
    ports = {id(p): i for i, p in enumerate(layer._ports)}
    lookups, others = [], []
    for node in layer.inner_layers():
        if id(node) in ports or isinstance(node, Unattributed):
            continue
        (lookups if isinstance(node, Embedding) else others).append(node)
    if len(lookups) != 1:
        return None
    for node in others:
        call = getattr(node, "call", None)
        if not isinstance(node, LinearOp) or not isinstance(call, OpCall) \
                or call.op_type not in _ELEMENTWISE_AFTER_LOOKUP:
            return None
        # one varying operand (besides the input read for the batch size
        # of a constant broadcast to the batch)
        varying = [p for i, p in enumerate(node.input_layers())
                   if i != call.batch_index]
        if len(varying) != 1:
            return None
    # the ports the indices are computed from (through integer ops:
    # negative indices wrapped, ids shifted)
    sources, stack, seen = set(), [lookups[0].get_inputs()], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in ports:
            sources.add(ports[id(node)])
        elif isinstance(node, Unattributed):
            # (an input cast to the float data's dtype reads that data for
            # its dtype only)
            stack.extend(p for i, p in enumerate(node.input_layers())
                         if i != node.dtype_from)
        else:
            return None
    if len(sources) != 1:
        return None
    outer = layer.get_inputs()[sources.pop()]
    if id(outer) not in inputs:
        return None
    return lookups[0], outer


def _token_embedding(model, embedding_layer=None):
    """``(layer to score, the model input of the token ids, the Embedding
    node whose table it looks up)``: a :class:`deeplift.layers.Embedding`
    fed by an input, or a traced layer that is one lookup plus
    elementwise constants (see :func:`_traced_lookup`)."""
    from deeplift.layers import Embedding
    inputs = {id(l): l for l in model.input_layers()}

    def candidate(layer):
        if isinstance(layer, Embedding) and id(layer.get_inputs()) in inputs:
            return layer, layer.get_inputs(), layer
        found = _traced_lookup(layer, inputs)
        if found is not None:
            return layer, found[1], found[0]
        return None
    candidates = [c for c in (candidate(l) for l in model.all_layers())
                  if c is not None]
    names = [c[0].get_name() for c in candidates]
    if embedding_layer is not None:
        layer = model.layer(embedding_layer, "embedding_layer")
        found = candidate(layer)
        if found is None:
            raise ValueError("embedding_layer %r is not an Embedding (or a "
                             "traced token lookup) fed by a model input "
                             "(those are: %s)"
                             % (embedding_layer, ", ".join(names) or "none"))
        return found
    if len(candidates) != 1:
        raise ValueError("the model has %d Embedding layers fed by an input "
                         "(%s); give embedding_layer=<name>"
                         % (len(candidates), ", ".join(names) or "none"))
    return candidates[0]


def embedding_layer_of(model, embedding_layer=None):
    """``(embedding layer, the model input it reads)`` of a converted
    model: the one :class:`deeplift.layers.Embedding` fed directly by an
    input -- or the one traced layer (a Keras layer converted op by op,
    e.g. keras_hub's ``TokenAndPositionEmbedding``) that looks an integer
    input up in a table and adds constants (positions) to it -- or the one
    named ``embedding_layer``.  ValueError naming the candidates
    otherwise."""
    layer, ids_input, _ = _token_embedding(model, embedding_layer)
    return layer, ids_input


def score_tokens(model, token_ids, reference="zeros", task_idx=0,
                 target_layer=None, embedding_layer=None, other_inputs=None,
                 batch_size=32):
    """DeepLIFT scores of each token of ``token_ids`` (N, T) integer ids.

    Arguments:
        model: a converted deeplift model (its nonlinearities' rule is the
            method).
        reference: ``"zeros"`` (the reference embedding is the zero
            vector) or a token id (every position's reference is that
            token's embedding).
        task_idx: the unit of the target layer to explain.
        target_layer: a layer name; None: the model's usual target (the
            output, or the layer before its final activation).
        embedding_layer: the Embedding to score at (needed only when
            several read a model input).
        other_inputs: ``{input name: array}`` for the model's other inputs
            (deeplift or Keras names)
            (masks, token types): used as given for the sequences and their
            references, so they get no attribution.
        batch_size: sequences per call.

    Returns :data:`TokenScores`: ``scores`` (N, T) float, the sum over the
    hidden axis of ``contribs`` (N, T, H).  For a summation-to-delta rule
    each row of ``scores`` sums to the target's change from the
    reference.
    """
    emb, ids_input, table = _token_embedding(model, embedding_layer)
    ids = np.asarray(token_ids)
    if ids.ndim < 1 or not (np.issubdtype(ids.dtype, np.integer)
                            or np.all(np.mod(ids, 1) == 0)):
        raise ValueError("token_ids must be integer token ids (N, T)")
    vocab = table.zero_index
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise ValueError("token ids must be in [0, %d) (the embedding's "
                         "input_dim); got %d..%d"
                         % (vocab, ids.min(), ids.max()))
    if isinstance(reference, str):
        if reference != "zeros":
            raise ValueError("reference must be 'zeros' or a token id, got "
                             "%r" % (reference,))
        ref_id = table.zero_index
    else:
        ref_id = int(reference)
        if not 0 <= ref_id < vocab:
            raise ValueError("reference token %d is outside [0, %d)"
                             % (ref_id, vocab))
    names = list(model.get_input_layer_names())
    ids_name = next(n for n in names
                    if model.layer(n) is ids_input)
    # keys may be Keras input names (aliases of the deeplift names)
    by_layer = {id(model.layer(n)): n for n in names}
    resolved = {}
    for key, value in dict(other_inputs or {}).items():
        try:
            resolved[by_layer.get(id(model.layer(key)), key)] = value
        except ValueError:
            resolved[key] = value
    other_inputs = resolved
    missing = [n for n in names if n != ids_name and n not in other_inputs]
    unknown = sorted(set(other_inputs) - set(names))
    if missing or unknown or ids_name in other_inputs:
        raise ValueError("other_inputs must give exactly the model's inputs "
                         "other than the token ids %r: %s"
                         % (ids_name, ", ".join(n for n in names
                                                if n != ids_name)
                            or "none"))
    dtype = np.float64 if table.embeddings.dtype == np.float64 \
        else np.float32
    data, refs = [], []
    for name in names:
        if name == ids_name:
            data.append(ids.astype(dtype))
            refs.append(np.full(ids.shape, ref_id, dtype=dtype))
        else:
            value = np.asarray(other_inputs[name])
            data.append(value)
            refs.append(value)
    if target_layer is None:
        target_layer = model.default_target().get_name()
    func = model.get_target_contribs_func(
        find_scores_layer_name=emb.get_name(),
        pre_activation_target_layer_name=target_layer)
    contribs = np.asarray(func(task_idx=task_idx, input_data_list=data,
                               input_references_list=refs,
                               batch_size=batch_size))
    return TokenScores(contribs.sum(axis=-1), contribs, emb.get_name())
