"""``tinct serve``: the web page and HTTP API (FastAPI + uvicorn). Needs the ``serve`` extra."""

from tinct.serve.app import create_app
from tinct.serve.settings import Settings

__all__ = ["Settings", "create_app"]
