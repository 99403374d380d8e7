"""Find the user's application from an APP argument, the way ``webkit runserver`` names it.

Forms: ``package.module:attr``, ``path/to/file.py:attr``, ``path/to/file.py``, a directory (then
``app.py`` or ``main.py`` inside it). ``attr`` is an `Application`, a zero-argument factory or an
async factory; without ``attr`` the single Application of the module is used, else a factory named
``create_app``, ``app_factory`` or ``init_app``. ``attr`` may also be a call with literal
arguments, ``app.py:create_app("dev", debug=True)``, calling the factory with them.

`parse` only looks at the file system and never imports; `load_app` imports the user's code and so
runs only in the runserver child (or in one-shot commands).
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
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
    """A parsed APP argument: a module name or a file, an optional attribute, and the literal
    arguments when APP calls it (``is_call``; ``create_app()`` is a call with no arguments).
    """

    spec: str
    module: str | None
    path: Path | None
    attr: str | None
    # Literal values may be lists or dicts: left out of the hash (``spec`` already tells calls
    # apart) so that an AppRef stays hashable whatever the arguments.
    args: tuple[Any, ...] = field(default=(), hash=False)
    kwargs: tuple[tuple[str, Any], ...] = field(default=(), hash=False)
    is_call: bool = False

    @property
    def watch_dir(self) -> Path:
        """The project directory: the file's directory, or the current one for module names."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def target(self) -> str:
        """The file or module part, without the attribute."""
        return str(self.path) if self.path is not None else str(self.module)

    @property
    def display(self) -> str:
        if not self.attr:
            return self.target
        return f"{self.target}:{self.attr}{self.call_text}"

    @property
    def call_text(self) -> str:
        """``(arg, key=value)`` as APP gives it (normalised), or ``""`` when APP is no call."""
        if not self.is_call:
            return ""
        parts = [repr(value) for value in self.args]
        parts += [f"{key}={value!r}" for key, value in self.kwargs]
        return f"({', '.join(parts)})"


def _is_module_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def parse(spec: str, cwd: Path | None = None) -> AppRef:
    """Parse an APP argument without importing anything.

    Raises:
        AppRefSyntaxError: APP has none of the accepted forms.
        AppNotFoundError: the file or directory does not exist, or the directory has no app file.
    """
    base = cwd or Path.cwd()
    target, expr = _split(spec, base)
    attr, args, kwargs, is_call = (
        _attr_call(expr, spec) if expr is not None else (None, (), (), False)
    )
    if not target:
        raise AppRefSyntaxError(f"APP {spec!r} names no module or file", "e.g. app.py:app")
    candidate = base / target
    looks_like_path = target.endswith(".py") or "/" in target or "\\" in target
    if candidate.exists() or looks_like_path:
        return AppRef(spec, None, _app_file(candidate, spec), attr, args, kwargs, is_call)
    if not _is_module_name(target):
        raise AppRefSyntaxError(
            f"APP {spec!r} is neither a module name nor an existing path",
            "write APP as package.module:attr, path/to/file.py:attr or a directory",
        )
    return AppRef(spec, target, None, attr, args, kwargs, is_call)


def _split(spec: str, base: Path) -> tuple[str, ast.expr | None]:
    """Split APP into its target and the parsed attribute expression (None: no attribute).

    The arguments may hold ':' themselves ("http://x", dict literals), so rather than scanning
    for quotes and brackets, every ':' is tried: only the right one leaves a suffix that parses
    as a name or a call, since any ':' inside the call leaves an unbalanced bracket or quote.
    """
    splits: list[tuple[str, ast.expr | None]] = []
    for index, char in enumerate(spec):
        if char != ":":
            continue
        target, suffix = spec[:index], spec[index + 1 :]
        if not suffix:
            splits.append((target, None))
            continue
        node = _parse_expression(suffix)
        if isinstance(node, ast.Name | ast.Call):
            splits.append((target, node))
    # Should a path itself hold a ':' that also yields a parseable suffix, the one that exists
    # on disk wins; otherwise the leftmost, as module names have no ':'.
    for target, node in splits:
        if target and _exists(base / target):
            return target, node
    if splits:
        return splits[0]
    target, sep, suffix = spec.partition(":")
    if not sep or (("/" in suffix or "\\" in suffix) and "(" not in suffix):
        return spec, None  # a path with a ':' in it, as the rpartition-based parser allowed
    reason = _syntax_reason(suffix)
    raise AppRefSyntaxError(
        f"{suffix!r} in APP {spec!r} is not a Python name or call{reason}",
        'write APP as module:attr, path/to/file.py:attr or file.py:factory("literal", key=1)',
    )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a null byte: not this split, anyway
        return False


def _parse_expression(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):  # ValueError: null bytes, on Python 3.11
        return None


def _syntax_reason(text: str) -> str:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError as exc:
        return f" ({exc.msg})"
    except ValueError as exc:
        return f" ({exc})"
    return ""


_ARGS_HINT = (
    "factory arguments must be literals (strings, numbers, True/False/None, lists, tuples, "
    "dicts, sets); compute anything else inside the factory"
)


def _attr_call(
    node: ast.expr, spec: str
) -> tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...], bool]:
    if isinstance(node, ast.Name):
        return node.id, (), (), False
    assert isinstance(node, ast.Call)  # _split keeps only names and calls
    if not isinstance(node.func, ast.Name):
        raise AppRefSyntaxError(
            f"{ast.unparse(node.func)!r} in APP {spec!r} is not a Python name",
            'call a factory by its name: module:factory("literal", key=1)',
        )
    args = tuple(_literal(arg, spec) for arg in node.args)
    kwargs: list[tuple[str, Any]] = []
    for keyword in node.keywords:
        if keyword.arg is None:
            raise AppRefSyntaxError(
                f"APP {spec!r} unpacks **{ast.unparse(keyword.value)}; write the arguments out",
                _ARGS_HINT,
            )
        if any(key == keyword.arg for key, _ in kwargs):
            # Python rejects this only when compiling, after ast.parse has accepted it.
            raise AppRefSyntaxError(
                f"APP {spec!r} repeats the keyword argument {keyword.arg!r}",
                "give each keyword argument once",
            )
        kwargs.append((keyword.arg, _literal(keyword.value, spec)))
    return node.func.id, args, tuple(kwargs), True


def _literal(node: ast.expr, spec: str) -> Any:
    if isinstance(node, ast.Starred):
        raise AppRefSyntaxError(
            f"APP {spec!r} unpacks *{ast.unparse(node.value)}; write the arguments out",
            _ARGS_HINT,
        )
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):  # TypeError: {[1]: 2}
        raise AppRefSyntaxError(
            f"argument {ast.unparse(node)} in APP {spec!r} is not a literal", _ARGS_HINT
        ) from None


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
    return await _build(name, obj, ref)


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


async def _build(name: str, obj: Any, ref: AppRef) -> Application:
    if isinstance(obj, Application):
        if ref.is_call:
            raise NotAnAppError(
                f"{name!r} is an Application; it takes no arguments (APP {ref.spec!r})",
                f"drop the call: {ref.target}:{name}",
            )
        return obj
    if not callable(obj):
        raise NotAnAppError(
            f"{name!r} is a {type(obj).__name__}, not an Application or a factory",
            "point APP at a web.Application or a function returning one",
        )
    # Copies, so that a factory mutating a list it was given cannot change the AppRef.
    args = copy.deepcopy(ref.args)
    kwargs = copy.deepcopy(dict(ref.kwargs))
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # no signature (a builtin); let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise _arguments_error(name, signature, ref, exc) from None
    try:
        result = obj(*args, **kwargs)
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


def _arguments_error(
    name: str, signature: inspect.Signature, ref: AppRef, exc: TypeError
) -> FactoryArgumentsError:
    # Annotations make the hint long and, under `from __future__ import annotations`, quoted;
    # names, kinds and defaults are what the user needs to write the call.
    bare = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    given = f"with {ref.call_text}" if ref.args or ref.kwargs else "without arguments"
    hint = f"its signature is {name}{bare}"
    if not ref.is_call:
        hint += f"; pass literal arguments in APP: {ref.target}:{name}(...)"
    return FactoryArgumentsError(f"factory {name!r} cannot be called {given}: {exc}", hint)


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
