"""What the AppTest files share: the app's path, a run on a link, and its charts' data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from superpos.config import Config
from views import controls

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def run_app(timeout: float = 120, **params: str) -> AppTest:
    """The app after its first run on a link with these query parameters."""
    app = AppTest.from_file(APP, default_timeout=timeout)
    for name, value in params.items():
        app.query_params[name] = value
    return app.run()


def tables(app: AppTest) -> list[pd.DataFrame]:
    """Every dataset of every chart on the page, decoded from Arrow."""
    return [
        pa.ipc.open_stream(dataset.data.data).read_pandas()
        for chart in app.get("vega_lite_chart")
        for dataset in chart.proto.datasets
    ]


def table_with(app: AppTest, *columns: str) -> pd.DataFrame:
    """The first chart dataset that has all `columns`."""
    return next(table for table in tables(app) if set(columns) <= set(table.columns))


def assert_clean(app: AppTest) -> None:
    """No exception and no error on the page."""
    assert not app.exception, [element.value for element in app.exception]
    assert not app.error, [element.value for element in app.error]


def sidebar_config(app: AppTest) -> Config:
    """The Config the sidebar describes, read from its widgets (an empty training field: automatic)."""

    def whole(key: str) -> int | None:
        value = app.number_input(key=key).value
        return None if value is None else controls.whole_part(value)

    return Config(
        n_features=whole("n_features"),
        n_hidden=whole("n_hidden"),
        sparsity=app.select_slider(key="sparsity").value,
        importance_decay=app.slider(key="importance_decay").value,
        model=app.radio(key="model").value,
        steps=whole("steps"),
        lr=app.number_input(key="lr").value,
        batch_size=whole("batch_size"),
        seed=whole("seed"),
    )
