"""The app's views, one module each; VIEW_NAMES is their order in the tabs (and the URL's ?view=)."""

VIEW_NAMES = (
    "Tour",
    "Embedding",
    "Training dynamics",
    "Sparsity sweep",
    "Phase diagram",
    "Neurons & polysemanticity",
    "Near-orthogonality (JL)",
    "Loss",
    "Sparse autoencoder",
    "Computation (|x|)",
    "Correlated features",
    "Collapse sweep",
    "One feature differs",
)

# A view's chart and explanation columns: 3 : 1 leaves the charts about 600 px on a 1280 px page,
# as much as the widest fixed-size chart beside a text needs (tests/test_browser.py checks that
# none runs over).
CHART_TEXT_COLUMNS = (3, 1)
