"""Rendering: `render_string` (text) and `render_template` (an HTML `web.Response`)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

import jinja2

from webkit import web
from webkit.templates.environment import (
    APP_KEY,
    PROCESSORS_KEY,
    REQUEST_CONTEXT_VAR,
    not_set_up_message,
)

__all__ = ["logger", "render_string", "render_template"]

logger = logging.getLogger("webkit.templates")


def _environment(
    request: web.Request, app_key: web.AppKey[jinja2.Environment]
) -> jinja2.Environment:
    # config_dict: a sub-application without its own setup() uses its parent's environment.
    env = request.config_dict.get(app_key)
    if env is None:
        raise RuntimeError(not_set_up_message(app_key))
    return env


async def _build_context(request: web.Request, context: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {REQUEST_CONTEXT_VAR: request}
    for processor in request.config_dict.get(PROCESSORS_KEY) or ():
        result = processor(request)
        if inspect.isawaitable(result):
            result = await result
        merged.update(result)
    if context:
        merged.update(context)
    return merged


def _not_found(request: web.Request, name: str) -> web.HTTPInternalServerError:
    logger.error(
        "Template '%s' not found (while handling %s %s)", name, request.method, request.path
    )
    return web.HTTPInternalServerError(text=f"Template '{name}' not found")


async def render_string(
    template_name: str,
    request: web.Request,
    context: Mapping[str, Any] | None,
    *,
    app_key: web.AppKey[jinja2.Environment] = APP_KEY,
) -> str:
    """Render ``template_name`` with the context processors' names, then ``context``.

    A coroutine (context processors may be async). With ``enable_async=True`` environments
    the template is rendered with ``render_async``.

    Raises:
        web.HTTPInternalServerError: the template (or one it includes) does not exist; the
            name is logged at ERROR on the ``webkit.templates`` logger and is the body text.
        RuntimeError: `setup` was not called for this application (or a parent) and key.
    """
    env = _environment(request, app_key)
    full_context = await _build_context(request, context)
    try:
        tmpl = env.get_template(template_name)
        if env.is_async:
            return await tmpl.render_async(full_context)
        return tmpl.render(full_context)
    except jinja2.TemplateNotFound as exc:
        missing = exc.name if isinstance(exc.name, str) else template_name
        raise _not_found(request, missing) from None


async def render_template(
    template_name: str,
    request: web.Request,
    context: Mapping[str, Any] | None,
    *,
    app_key: web.AppKey[jinja2.Environment] = APP_KEY,
    encoding: str = "utf-8",
    status: int = 200,
) -> web.Response:
    """Render ``template_name`` into a ``text/html`` response (a coroutine).

    Raises:
        web.HTTPInternalServerError: the template does not exist (see `render_string`).
        RuntimeError: `setup` was not called for this application (or a parent) and key.
    """
    text = await render_string(template_name, request, context, app_key=app_key)
    return web.Response(text=text, status=status, content_type="text/html", charset=encoding)
