"""Embedding: forward == Keras; scores found at the embedding output sum
to the output difference."""
import numpy as np
import keras

import deeplift.layers as L
from deeplift.models import GraphModel
from tests.layer_checks import rand_weights


def test_embedding_forward_and_scores_at_embedding_output():
    rng = np.random.RandomState(0)
    kin = keras.Input((6,), dtype="int32")
    emb = keras.layers.Embedding(10, 4)
    h = keras.layers.Flatten()(emb(kin))
    dense = keras.layers.Dense(3)
    out = dense(h)
    kmodel = keras.Model(kin, out)
    rand_weights(emb, rng, 1.0)
    rand_weights(dense, rng)
    ids = rng.randint(0, 10, size=(7, 6))
    inp = L.Input(batch_shape=(None, 6), name="ids")
    e = L.Embedding(emb.get_weights()[0], name="emb").set_inputs(inp)
    f = L.Flatten(name="flat").set_inputs(e)
    d = L.Dense(*dense.get_weights(), name="dense").set_inputs(f)
    model = GraphModel({"ids": inp, "emb": e, "flat": f, "dense": d},
                       ["ids"])
    pred = model.get_prediction_function(["ids"], "dense")
    np.testing.assert_allclose(pred([ids.astype(np.float32)]),
                               kmodel.predict(ids, verbose=0), atol=1e-5)
    func = model.get_target_contribs_func(
        find_scores_layer_name="emb",
        pre_activation_target_layer_name="dense")
    ref = np.zeros((1, 6))   # token 0 as the reference
    delta = kmodel(ids).numpy() - kmodel(np.zeros((1, 6), "int32")).numpy()
    for task in range(3):
        c = func(task_idx=task, input_data_list=[ids.astype(np.float64)],
                 input_references_list=[ref], batch_size=4)
        assert c.shape == (7, 6, 4)
        np.testing.assert_allclose(c.reshape(7, -1).sum(axis=1),
                                   delta[:, task], rtol=1e-5, atol=1e-5)
