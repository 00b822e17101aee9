"""Genomics helpers: one-hot encoding, FASTA reading, references, scoring
of DNA sequences and a small simulation of the DeepLIFT paper's data.

A package, one concern per module: :mod:`.encoding`, :mod:`.fasta`,
:mod:`.regions` (genome FASTA + BED / narrowPeak), :mod:`.sources` (the
reader registry), :mod:`.references`, :mod:`.models` (methods, converted
models, two-headed targets), :mod:`.scoring`, :mod:`.store` (the chunked
Zarr store), :mod:`.jobs` (the chunk function), :mod:`.exports` (the
writer registry) and :mod:`.simulate`; the public names are re-exported
here.

The main entry point is :func:`score_sequences`::

    from deeplift import genomics
    onehot = genomics.one_hot_encode(["ACGTN...", ...])      # (N, L, 4)
    hyp, contribs = genomics.score_sequences(
        "model.h5", onehot, task_idx=0, method="genomics_default",
        reference="dinuc-shuffle:20", seed=0)

``hyp`` holds the hypothetical contributions (for every position, the
contribution each of the four bases would have there), averaged over the
references; ``contribs = hyp * onehot`` is the actual contribution of the
observed base (zero for the other bases and for N positions).

Methods (the name of the attribution rule; in this package the rule is
chosen when the Keras model is converted, see
:data:`METHOD_TO_NONLINEAR_MXTS_MODE`):

* ``rescale``, ``revealcancel``: DeepLIFT with that rule everywhere;
* ``genomics_default``: DeepLIFT with Rescale for nonlinearities after
  convolutions and RevealCancel after dense layers (the original default);
* ``gradient``: gradient x (input - reference), i.e. gradient x input with
  the ``zeros`` reference;
* ``guided_backprop``: guided backpropagation x (input - reference);
* ``integrated_gradients``: gradients averaged over ``ig_steps`` points of
  the straight path from the reference to the input, x (input - reference).

References (``reference=``):

* ``"zeros"``: an all-zero sequence;
* ``"gc"``: every position holds the sequence's own base composition,
  ``[(1-g)/2, g/2, g/2, (1-g)/2]`` with ``g`` its GC fraction (N positions
  excluded); ``"gc:0.41"`` uses a fixed GC fraction;
* ``"dinuc-shuffle:N"``: N dinucleotide-shuffled versions of each sequence
  (seeded by ``seed``), scores averaged over them;
* an array: ``(4,)`` (the same at every position), ``(L, 4)`` or
  ``(1, L, 4)`` shared by all sequences,
  ``(N, L, 4)`` one per sequence, ``(N, R, L, 4)`` R per sequence or
  ``(1, R, L, 4)`` R shared ones (scores averaged over the R references).
"""
import importlib

#: public name -> the submodule defining it; names are imported on first
#: use (PEP 562), so that ``import deeplift.genomics`` and the light
#: modules (encoding, FASTA, references, regions) do not import TensorFlow
_EXPORTS = {
    "encoding": ("BASES", "one_hot_encode", "length_mismatch",
                 "onehot_to_sequences"),
    "fasta": ("read_fasta",),
    "models": ("METHOD_TO_NONLINEAR_MXTS_MODE", "METHODS", "load_model",
               "model_methods", "normalize_method", "resolve_target",
               "resolve_custom_conversions"),
    "references": ("gc_reference", "make_references", "parse_reference",
                   "ReferenceSpec"),
    "regions": ("Genome", "RegionTable", "read_regions"),
    "sources": ("open_source", "register_reader"),
    "scoring": ("score_sequences", "ScoringPlan"),
    "store": ("ScoreStore",),
    "jobs": ("JobSpec", "ChunkRunner", "run_job"),
    "exports": ("export", "register_writer"),
    "simulate": ("BACKGROUND", "GATA_PWM", "TAL1_PWM", "TASK_NAMES", "auroc",
                 "motif_mask_auroc", "simulate_sequences"),
}
_WHERE = {name: module for module, names in _EXPORTS.items()
          for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        module = importlib.import_module(__name__ + "." + _WHERE[name])
        return getattr(module, name)
    try:
        return importlib.import_module(__name__ + "." + name)
    except ModuleNotFoundError as exc:
        if exc.name != __name__ + "." + name:
            raise
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
