"""Plots of attribution scores: sequence logos (:mod:`.viz_sequence`),
image heatmaps (:mod:`.heatmap`) and the matplotlib pieces they share
(:mod:`.matplotlib_helpers`).  Needs matplotlib (``pip install
deeplift[viz]``)."""
