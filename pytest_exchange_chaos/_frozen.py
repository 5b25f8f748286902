"""A cheaper ``__init__`` for the frozen dataclasses built on every request.

A frozen dataclass's generated ``__init__`` assigns each field through ``object.__setattr__``
(frozen forbids ``setattr``, not the instance dict): for the request, its classification, the
venue's reply, the outcome and the journal record that is some 80 calls per request, a tenth of
the plugin's own cost on a fast client. This one stores into the instance dict directly. The class
stays a frozen dataclass in every other way: equality, hashing, ``repr``, ``replace()``, and
refusing assignment.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

_T = TypeVar("_T")


class _Factory:
    """Stands for "not given" where a field's default comes from a factory; shown as the
    dataclass's own ``__init__`` shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def fast_init(cls: type[_T]) -> type[_T]:
    """Replace a frozen dataclass's ``__init__`` by one with the same signature and defaults."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(f.kw_only for f in fields):
        raise TypeError(f"{cls.__name__}: __post_init__ and keyword-only fields are not supported")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    signature: list[str] = []
    factories: list[str] = []
    for field in fields:
        name = field.name
        if not field.init:
            raise TypeError(f"{cls.__name__}.{name}: init=False fields are not supported")
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            signature.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            signature.append(f"{name}=_FACTORY")
            factories.append(f"    if {name} is _FACTORY:\n        {name} = _factory_{name}()\n")
        else:
            signature.append(name)
    names = [field.name for field in fields]
    # One store per field, in field order, into the instance dict: the instances keep sharing
    # their keys (``__dict__.update(...)`` would give each its own table, three times the size).
    source = (
        f"def __init__(self, {', '.join(signature)}):\n"
        + "".join(factories)
        + "    values = self.__dict__\n"
        + "".join(f"    values[{n!r}] = {n}\n" for n in names)
    )
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
