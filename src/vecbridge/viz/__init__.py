"""Look at the spaces: 2-D projections before and after translation.

- :mod:`~vecbridge.viz.plots`: projections (PCA in numpy, UMAP from the optional
  ``viz`` extra), the panel model shared by both renderers, and PNG output via
  matplotlib;
- :mod:`~vecbridge.viz.report`: one self-contained interactive HTML file with the
  plots (drawn by inline JavaScript into SVG; nothing is fetched) and metric tables.

matplotlib and umap-learn are imported only when a PNG or a UMAP is asked for.
"""
