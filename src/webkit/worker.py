"""Gunicorn worker classes, at the path aiohttp users know (``aiohttp.worker``).

    gunicorn my_app_module:my_web_app --worker-class webkit.worker.GunicornWebWorker

Importing this module imports gunicorn; ``webkit.web`` does not.
"""

from __future__ import annotations

from webkit.web.worker import GunicornUVLoopWebWorker, GunicornWebWorker

__all__ = ["GunicornUVLoopWebWorker", "GunicornWebWorker"]
