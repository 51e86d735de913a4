"""``photoseek serve``: the HTTP search API (FastAPI) and the one-page search UI shipped with it."""

from photoseek.serve.app import create_app

__all__ = ["create_app"]
