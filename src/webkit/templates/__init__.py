"""Jinja2 templates for webkit applications (the optional extra ``webkit[templates]``).

Set up an environment once per application, then decorate handlers::

    import jinja2
    import webkit.templates
    from webkit import web

    app = web.Application()
    webkit.templates.setup(app, loader=jinja2.FileSystemLoader("templates"))

    @routes.get("/")
    @webkit.templates.template("index.html")  # the innermost decorator, under the route
    async def index(request: web.Request) -> dict[str, str]:
        return {"name": "Andrew"}

Templates see the handler's mapping merged over the context processors' output (by default
``request``), plus the ``url(route_name, **parts, query_={...})`` and ``static(filename)`` globals.
Neither ``webkit`` nor ``webkit.web`` imports this package; it imports jinja2 on import.

Raises:
    ImportError: jinja2 is not installed (``pip install webkit[templates]``).
"""

from __future__ import annotations

try:
    import jinja2 as _jinja2  # noqa: F401  (imported only to fail early with the remedy)
except ImportError as exc:  # pragma: no cover - exercised in a fresh interpreter without jinja2
    raise ImportError(
        "webkit.templates needs jinja2, which is not installed: "
        "run `pip install webkit[templates]` (or `pip install jinja2`)"
    ) from exc

from webkit.templates.decorator import template
from webkit.templates.environment import (
    APP_KEY,
    PROCESSORS_KEY,
    ContextProcessor,
    get_env,
    request_processor,
    setup,
)
from webkit.templates.rendering import render_string, render_template

__all__ = [
    "APP_KEY",
    "PROCESSORS_KEY",
    "ContextProcessor",
    "get_env",
    "render_string",
    "render_template",
    "request_processor",
    "setup",
    "template",
]
