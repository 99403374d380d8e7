"""The application factory.

Run it with ``webkit runserver {{ cookiecutter.project_slug }}/app.py:create_app``; tests call
``create_app(Settings(...))``.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import webkit.templates
from webkit import web

from {{ cookiecutter.project_slug }}.settings import SETTINGS, Settings
from {{ cookiecutter.project_slug }}.storage import store_ctx
from {{ cookiecutter.project_slug }}.views import routes

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings | None = None) -> web.Application:
    """Build the application; ``settings`` default to `Settings.from_env()`."""
    app = web.Application()
    app[SETTINGS] = settings if settings is not None else Settings.from_env()
    webkit.templates.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"))
    app.cleanup_ctx.append(store_ctx)
    app.add_routes(routes)
    return app
