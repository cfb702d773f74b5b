"""Name → factory registries, so config picks encoders and backends by name; and a
module imported on first use. Both import by name what a process may never need."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories by name. ``modules`` names, for each built-in entry, the module whose
    import registers it: that module is imported when the name is first created, so a
    process loads only the encoders it asks for (a text search never imports OpenCV,
    PyAV or Whisper)."""

    def __init__(self, kind: str, modules: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._modules = dict(modules or {})

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return add

    def create(self, name: str, *args: object, **kwargs: object) -> T:
        if name not in self._factories and name in self._modules:
            importlib.import_module(self._modules[name])
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {known}") from None
        return factory(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted({*self._factories, *self._modules})


class LazyModule:
    """Stands for the module ``name``, importing it when an attribute is first read: for
    a library only some paths through the code that names it need (faiss: only an index
    past its exact-search threshold)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)
