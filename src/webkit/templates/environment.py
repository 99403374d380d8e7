"""The per-application Jinja2 environment: `setup`, `get_env`, context processors, helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import jinja2

from webkit import web
from webkit.templates.order import check_decorator_order

__all__ = [
    "APP_KEY",
    "PROCESSORS_KEY",
    "REQUEST_CONTEXT_VAR",
    "ContextProcessor",
    "get_env",
    "request_processor",
    "setup",
]

ContextProcessor = Callable[[web.Request], Awaitable[Mapping[str, Any]] | Mapping[str, Any]]
"""Takes the request, returns names for the template context (a coroutine or a plain function)."""

APP_KEY: web.AppKey[jinja2.Environment] = web.AppKey("webkit.templates.env", jinja2.Environment)
"""Where `setup` stores the environment; found from sub-applications through ``config_dict``."""

PROCESSORS_KEY: web.AppKey[tuple[ContextProcessor, ...]] = web.AppKey(
    "webkit.templates.context_processors", tuple
)
"""The context processors given to `setup`, run in order for every render."""

# Every render puts the request here too, so the ``url``/``static`` globals work even when
# the context processors do not expose ``request``.
REQUEST_CONTEXT_VAR = "_webkit_request"


async def request_processor(request: web.Request) -> dict[str, Any]:
    """The default context processor: makes ``request`` available in templates."""
    return {"request": request}


def setup(
    app: web.Application,
    *,
    loader: jinja2.BaseLoader | None = None,
    context_processors: Iterable[ContextProcessor] = (request_processor,),
    filters: Mapping[str, Callable[..., Any]] | None = None,
    default_helpers: bool = True,
    app_key: web.AppKey[jinja2.Environment] = APP_KEY,
    **env_options: Any,
) -> jinja2.Environment:
    """Create the application's Jinja2 environment and store it under ``app[app_key]``.

    Autoescaping is on unless ``autoescape=`` says otherwise: the rendered text is served as
    ``text/html``. Pass ``enable_async=True`` to render with ``Template.render_async``.
    Also checks, when the application starts, that no route serves a function whose
    ``@template`` wrapper was left unregistered (the wrong decorator order).

    Args:
        app: the application (a sub-application gets its own environment).
        loader: where templates come from, e.g. ``jinja2.FileSystemLoader(path)``.
        context_processors: run in order for each render; their mappings are merged (later
            wins) and the handler's context is merged last. Giving this replaces the default
            ``(request_processor,)``; list `request_processor` to keep ``request``.
        filters: extra Jinja2 filters, by name.
        default_helpers: add the ``url`` and ``static`` globals.
        app_key: the key to store the environment under (several environments per app).
        **env_options: passed to `jinja2.Environment` (``enable_async``, ``autoescape``, ...).

    Returns:
        The environment, to customise further (``env.globals``, ``env.filters``).

    Raises:
        RuntimeError: the application is frozen (already started).
    """
    if app.frozen:
        raise RuntimeError("webkit.templates.setup() must be called before the application starts")
    env_options.setdefault("autoescape", True)
    env = jinja2.Environment(loader=loader, **env_options)
    if default_helpers:
        env.globals["url"] = url
        env.globals["static"] = static
    if filters:
        env.filters.update(filters)
    app[app_key] = env
    app[PROCESSORS_KEY] = tuple(context_processors)
    app.on_startup.append(check_decorator_order)
    return env


def get_env(
    app: web.Application, *, app_key: web.AppKey[jinja2.Environment] = APP_KEY
) -> jinja2.Environment:
    """The environment `setup` stored in ``app``.

    Raises:
        RuntimeError: `setup` was not called for this application and key.
    """
    env = app.get(app_key)
    if env is None:
        raise RuntimeError(not_set_up_message(app_key))
    return env


def not_set_up_message(app_key: web.AppKey[Any]) -> str:
    return (
        f"no Jinja2 environment under {app_key!r}: call "
        "webkit.templates.setup(app, loader=...) before the application starts"
    )


def _context_request(context: jinja2.runtime.Context, helper: str) -> web.Request:
    request = context.get(REQUEST_CONTEXT_VAR)
    if request is None:
        raise RuntimeError(
            f"the {helper}() template helper needs a request: render with "
            "webkit.templates.render_string/render_template or @template"
        )
    return request  # type: ignore[no-any-return]


@jinja2.pass_context
def url(
    context: jinja2.runtime.Context,
    route_name: str,
    /,
    *,
    query_: Mapping[str, Any] | None = None,
    **parts: Any,
) -> str:
    """Template global: ``url('user', id=42, query_={'tab': 'posts'})`` → ``/users/42?tab=posts``.

    Raises:
        KeyError: no route named ``route_name`` in the request's application.
    """
    request = _context_request(context, "url")
    resource = request.app.router[route_name]
    built = resource.url_for(**{key: str(value) for key, value in parts.items()})
    if query_:
        built = built.with_query(query_)
    return str(built)


@jinja2.pass_context
def static(context: jinja2.runtime.Context, filename: str, /) -> str:
    """Template global: the URL of ``filename`` under the static route named ``'static'``.

    Raises:
        RuntimeError: the application has no route named ``'static'``.
    """
    request = _context_request(context, "static")
    router = request.app.router
    if "static" not in router:
        raise RuntimeError(
            "the static() template helper needs a static route named 'static': "
            "app.router.add_static('/static', path, name='static')"
        )
    return str(router["static"].url_for(filename=filename))
