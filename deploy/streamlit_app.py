"""Entry point for Streamlit Community Cloud: runs the app of ../streamlit_app.py unchanged.

It lives in its own folder so that Community Cloud installs deploy/requirements.txt (PyTorch's
CPU build), which it prefers to the root's requirements.txt for an entry point in this folder.
Community Cloud runs `streamlit run` from the repository root, so .streamlit/config.toml applies.
"""

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only this file's folder on the path
    sys.path.insert(0, str(ROOT))
runpy.run_path(str(ROOT / "streamlit_app.py"), run_name="__main__")
