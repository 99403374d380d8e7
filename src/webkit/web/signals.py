"""Signals: ordered lists of async callbacks that freeze when the application starts."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Generic, SupportsIndex, TypeVar, overload

__all__ = ["FrozenList", "Signal"]

_T = TypeVar("_T")


class FrozenList(list[_T], Generic[_T]):
    """A list that refuses changes once `freeze` was called."""

    _frozen = False

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        self._frozen = True

    def _check(self) -> None:
        if self._frozen:
            raise RuntimeError(
                f"cannot modify {type(self).__name__} after the application has started"
            )

    def append(self, item: _T) -> None:
        self._check()
        super().append(item)

    def extend(self, items: Iterable[_T]) -> None:
        self._check()
        super().extend(items)

    def insert(self, index: SupportsIndex, item: _T) -> None:
        self._check()
        super().insert(index, item)

    def remove(self, item: _T) -> None:
        self._check()
        super().remove(item)

    def pop(self, index: SupportsIndex = -1) -> _T:
        self._check()
        return super().pop(index)

    def clear(self) -> None:
        self._check()
        super().clear()

    @overload
    def __setitem__(self, index: SupportsIndex, value: _T) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[_T]) -> None: ...
    def __setitem__(self, index: Any, value: Any) -> None:
        self._check()
        super().__setitem__(index, value)

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        self._check()
        super().__delitem__(index)

    def __iadd__(self, items: Iterable[_T]) -> FrozenList[_T]:  # type: ignore[override,misc]
        self._check()
        super().extend(items)
        return self


class Signal(FrozenList[Callable[..., Any]]):
    """Async callbacks called in the order they were added, with the same arguments.

    Raises:
        TypeError: a callback that is not an ``async def`` function is added.
    """

    def __init__(self, owner: object) -> None:
        super().__init__()
        self._owner = owner

    def __repr__(self) -> str:
        return f"<Signal owner={self._owner!r}, frozen={self.frozen}, {list(self)!r}>"

    def _validate(self, callback: Callable[..., Any]) -> None:
        target = getattr(callback, "func", callback)  # functools.partial
        if not (
            inspect.iscoroutinefunction(target)
            or inspect.iscoroutinefunction(
                getattr(target, "__call__", None)  # noqa: B004
            )
        ):
            raise TypeError(
                f"signal handler {callback!r} must be an async function (async def); "
                "signals await every handler"
            )

    def append(self, item: Callable[..., Any]) -> None:
        self._validate(item)
        super().append(item)

    def extend(self, items: Iterable[Callable[..., Any]]) -> None:
        items = list(items)
        for item in items:
            self._validate(item)
        super().extend(items)

    def insert(self, index: SupportsIndex, item: Callable[..., Any]) -> None:
        self._validate(item)
        super().insert(index, item)

    async def send(self, *args: Any, **kwargs: Any) -> None:
        """Await each callback in order."""
        if not self.frozen:
            raise RuntimeError("signals are sent only once frozen (after the application starts)")
        for callback in self:
            await callback(*args, **kwargs)
