"""Download buttons: the trained model (npz, JSON) and a chart's data (CSV).

The bytes come from superpos.export; each file is only built when its button is clicked.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from superpos import export
from superpos.config import Config
from superpos.train import TrainResult


def file_stem(config: Config) -> str:
    """A file name that says which model it holds, e.g. superpos_relu_n5_m2_S0.9."""
    return f"superpos_{config.model}_n{config.n_features}_m{config.n_hidden}_S{config.sparsity:g}"


def model_downloads(config: Config, result: TrainResult) -> None:
    """Buttons for W, b and friends as .npz and as JSON."""
    st.download_button(
        "Weights (.npz)",
        data=lambda: export.model_npz(config, result),
        file_name=f"{file_stem(config)}.npz",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        help="W (m × n), b, importance, probability, loss curve, snapshots of W and the config, for numpy.load.",
    )
    st.download_button(
        "Weights (JSON)",
        data=lambda: export.model_json(config, result),
        file_name=f"{file_stem(config)}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
        help="config, W (m rows × n columns), b, importance and held-out loss.",
    )


def csv_download(table: Callable[[], pd.DataFrame], name: str) -> None:
    """A button for the table a chart draws (built by `table` on click), as CSV; `name` names
    the file and keys the button."""
    st.download_button(
        "Chart data (CSV)",
        data=lambda: export.csv(table()),
        file_name=f"{name}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key=f"csv_{name}",
    )
