"""The app's views, one module each; VIEW_NAMES is their order in the tabs (and the URL's ?view=)."""

VIEW_NAMES = (
    "Embedding",
    "Training dynamics",
    "Sparsity sweep",
    "Phase diagram",
    "Neurons & polysemanticity",
    "Near-orthogonality (JL)",
    "Loss",
    "Sparse autoencoder",
    "Computation (|x|)",
)
