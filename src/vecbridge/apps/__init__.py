"""Putting translations to work: merge models, change dimensionality, update a word model.

One job per module (imported on use, so ``import vecbridge.apps`` stays light):

- :mod:`~vecbridge.apps.merge`: grow one model's vocabulary with another's words
  (:func:`~vecbridge.apps.merge.merge_embeddings`), with provenance and confidence;
- :mod:`~vecbridge.apps.dimension`: map a space into one of another dimension and
  compare with PCA (:func:`~vecbridge.apps.dimension.change_dimension`);
- :mod:`~vecbridge.apps.update`: update a word model with new text by warm start or
  by alignment (:func:`~vecbridge.apps.update.update_word_model`);
- :mod:`~vecbridge.apps.structure`: analogy and word-similarity scores of a space.
"""
