"""Find the user's application from an APP argument, the way ``webkit runserver`` names it.

Forms: ``package.module:attr``, ``path/to/file.py:attr``, ``path/to/file.py``, a directory (then
``app.py`` or ``main.py`` inside it). ``attr`` is an `Application`, a zero-argument factory or an
async factory; without ``attr`` the single Application of the module is used, else a factory named
``create_app``, ``app_factory`` or ``init_app``.

`parse` only looks at the file system and never imports; `load_app` imports the user's code and so
runs only in the runserver child (or in one-shot commands).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from webkit.devtools.errors import (
    AmbiguousAppError,
    AppAttributeError,
    AppNotFoundError,
    AppRefSyntaxError,
    FactoryArgumentsError,
    NotAnAppError,
    UserCodeError,
)
from webkit.web import Application

__all__ = ["FACTORY_NAMES", "AppRef", "load_app", "parse"]

FACTORY_NAMES = ("create_app", "app_factory", "init_app")
DIRECTORY_FILES = ("app.py", "main.py")
_WEBKIT_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class AppRef:
    """A parsed APP argument: a module name or a file, and an optional attribute."""

    spec: str
    module: str | None
    path: Path | None
    attr: str | None

    @property
    def watch_dir(self) -> Path:
        """The project directory: the file's directory, or the current one for module names."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def display(self) -> str:
        target = str(self.path) if self.path is not None else str(self.module)
        return f"{target}:{self.attr}" if self.attr else target


def _is_module_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def parse(spec: str, cwd: Path | None = None) -> AppRef:
    """Parse an APP argument without importing anything.

    Raises:
        AppRefSyntaxError: APP has none of the accepted forms.
        AppNotFoundError: the file or directory does not exist, or the directory has no app file.
    """
    base = cwd or Path.cwd()
    target, sep, attr = spec.rpartition(":")
    if not sep or "/" in attr or "\\" in attr:
        target, attr = spec, ""
    if sep and not attr.isidentifier() and attr != "":
        raise AppRefSyntaxError(
            f"{attr!r} in APP {spec!r} is not a Python name",
            "write APP as module:attr or path/to/file.py:attr",
        )
    if not target:
        raise AppRefSyntaxError(f"APP {spec!r} names no module or file", "e.g. app.py:app")
    candidate = base / target
    looks_like_path = target.endswith(".py") or "/" in target or "\\" in target
    if candidate.exists() or looks_like_path:
        return AppRef(spec, None, _app_file(candidate, spec), attr or None)
    if not _is_module_name(target):
        raise AppRefSyntaxError(
            f"APP {spec!r} is neither a module name nor an existing path",
            "write APP as package.module:attr, path/to/file.py:attr or a directory",
        )
    return AppRef(spec, target, None, attr or None)


def _app_file(candidate: Path, spec: str) -> Path:
    if candidate.is_dir():
        for name in DIRECTORY_FILES:
            if (candidate / name).is_file():
                return (candidate / name).resolve()
        raise AppNotFoundError(
            f"directory {str(candidate)!r} has no {' or '.join(DIRECTORY_FILES)}",
            "name the file: APP=path/to/file.py:attr",
        )
    if not candidate.is_file():
        raise AppNotFoundError(
            f"file {str(candidate)!r} (from APP {spec!r}) does not exist",
            "check the path, relative to the current directory",
        )
    if candidate.suffix != ".py":
        raise AppRefSyntaxError(f"{str(candidate)!r} is not a .py file", "point APP at a .py file")
    return candidate.resolve()


async def load_app(ref: AppRef) -> Application:
    """Import the user's module and return its Application, calling a factory if needed.

    Raises:
        AppRefError: the module, attribute or factory is not what APP says (a usage error).
        UserCodeError: the user's code raised while importing or in the factory.
    """
    module = _import(ref)
    name, obj = _find(module, ref)
    return await _build(name, obj)


def _import(ref: AppRef) -> ModuleType:
    try:
        if ref.path is not None:
            return _import_file(ref.path)
        assert ref.module is not None
        return importlib.import_module(ref.module)
    except ModuleNotFoundError as exc:
        if ref.module is not None and _is_requested(exc.name, ref.module):
            raise AppNotFoundError(
                f"no module named {ref.module!r} (APP {ref.spec!r})",
                f"run from the project directory or pass a path; cwd is {Path.cwd()}",
            ) from None
        raise user_code_error(exc) from None
    except Exception as exc:  # the user's module raised while importing
        raise user_code_error(exc) from None


def _is_requested(missing: str | None, module: str) -> bool:
    if missing is None:
        return False
    parts = module.split(".")
    return missing in {".".join(parts[: i + 1]) for i in range(len(parts))}


def _import_file(path: Path) -> ModuleType:
    # The file's directory goes first on sys.path so its sibling imports work, as with `python
    # file.py`. Executed fresh every time: a dev server loads each file once per child anyway.
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppNotFoundError(f"cannot load {str(path)!r} as a module", "is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise AppNotFoundError(f"file {str(path)!r} does not exist", "check the path") from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _candidates(module: ModuleType) -> dict[str, Any]:
    """Applications and functions that could be factories (handlers take a request: not listed)."""
    found: dict[str, Any] = {}
    for key, value in vars(module).items():
        if key.startswith("_"):
            continue
        if isinstance(value, Application) or (
            inspect.isfunction(value)
            and value.__module__ == module.__name__
            and _callable_without_arguments(value)
        ):
            found[key] = value
    return found


def _callable_without_arguments(func: Any) -> bool:
    try:
        inspect.signature(func).bind()
    except (TypeError, ValueError):
        return False
    return True


def _find(module: ModuleType, ref: AppRef) -> tuple[str, Any]:
    where = ref.display
    if ref.attr is not None:
        if not hasattr(module, ref.attr):
            names = tuple(_candidates(module))
            listed = ", ".join(names) if names else "none"
            raise AppAttributeError(
                f"{module.__name__!r} has no attribute {ref.attr!r} (APP {ref.spec!r})",
                f"candidates found: {listed}",
                names,
            )
        return ref.attr, getattr(module, ref.attr)
    apps: dict[int, str] = {}
    for key, value in vars(module).items():
        if isinstance(value, Application) and not key.startswith("_"):
            apps.setdefault(id(value), key)
    if len(apps) == 1:
        name = next(iter(apps.values()))
        return name, getattr(module, name)
    if len(apps) > 1:
        listed = ", ".join(sorted(apps.values()))
        raise AmbiguousAppError(
            f"{where!r} holds several applications: {listed}",
            f"pick one: {ref.spec}:NAME",
        )
    for name in FACTORY_NAMES:
        if callable(getattr(module, name, None)):
            return name, getattr(module, name)
    listed = ", ".join(_candidates(module)) or "none"
    raise AppAttributeError(
        f"no Application or factory ({', '.join(FACTORY_NAMES)}) found in {where!r}",
        f"name it: {ref.spec}:NAME (candidates found: {listed})",
    )


async def _build(name: str, obj: Any) -> Application:
    if isinstance(obj, Application):
        return obj
    if not callable(obj):
        raise NotAnAppError(
            f"{name!r} is a {type(obj).__name__}, not an Application or a factory",
            "point APP at a web.Application or a function returning one",
        )
    try:
        inspect.signature(obj).bind()
    except TypeError as exc:
        raise FactoryArgumentsError(
            f"factory {name!r} cannot be called without arguments: {exc}",
            "give its parameters defaults, or wrap it in a zero-argument function",
        ) from None
    except ValueError:  # no signature (a builtin); let the call decide
        pass
    try:
        result = obj()
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        raise user_code_error(exc) from None
    if not isinstance(result, Application):
        raise NotAnAppError(
            f"factory {name!r} returned {type(result).__name__}, not an Application",
            "return the web.Application from the factory",
        )
    return result


def user_code_error(exc: BaseException) -> UserCodeError:
    """Wrap an exception from the user's code with its traceback, minus importlib/webkit frames."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(("<frozen ", _WEBKIT_DIR))
    ]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
    return UserCodeError(summary, "".join(lines))
