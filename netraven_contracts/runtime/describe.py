"""Short, safe descriptions of arbitrary values and of where they sit, for violation messages.

A job's result may hold anything: objects whose ``__repr__``, ``__eq__`` or ``__hash__`` raise,
classes with lying metaclasses, strings of megabytes. Nothing here calls a method of such an
object: values are shown only for exact built-in scalar types, everything else by its type's
name, and every lookup on a foreign type is guarded.

Value paths (:func:`render_path`) read like Python: ``details.meta.when`` for identifier keys,
``details["a.b"]`` for other str keys (JSON string syntax, ASCII), ``details.ports[22]`` for a
non-str key or a list index (the key's ``repr`` for scalar keys, ``[<tuple key>]`` otherwise).
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii
from typing import Final

#: Longest excerpt of a value shown in a message.
_MAX_SHOWN: Final = 40

_SCALARS: Final = (bool, int, float, str, bytes, type(None))


class Index(int):
    """A list position inside a value path (rendered ``[3]``, never confused with a str key)."""

    __slots__ = ()


def type_name(value: object) -> str:
    """``datetime.datetime``, ``int``, ``mypkg.Thing``; never raises."""
    try:
        cls = type(value)
        module = type.__dict__["__module__"].__get__(cls)
        name = type.__dict__["__qualname__"].__get__(cls)
        if not isinstance(module, str) or not isinstance(name, str):
            raise TypeError
    except Exception:  # a metaclass that lies about its own names
        return "object of an unknown type"
    return name if module == "builtins" else f"{module}.{name}"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def shorten(text: str, limit: int = _MAX_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def scalar_repr(value: object) -> str | None:
    """The ``repr`` of an exact built-in scalar (shortened), else ``None``."""
    cls = type(value)
    if cls not in _SCALARS:
        return None
    if cls is int and value.bit_length() > 64:  # type: ignore[attr-defined]
        return f"an int of {value.bit_length()} bits"  # type: ignore[attr-defined]
    return shorten(repr(value))


def describe(value: object) -> str:
    """``an int (1)``, ``a str ('yes')``, ``None``, ``a datetime.datetime``; never raises."""
    if value is None:
        return "None"
    name = type_name(value)
    shown = scalar_repr(value)
    if shown is None:
        return f"{_article(name)} {name}"
    return f"{_article(name)} {name} ({shown})"


def describe_exception(exc: BaseException) -> str:
    """``RuntimeError: cannot handle X`` from an exception of the job; never raises."""
    try:
        name = type.__dict__["__qualname__"].__get__(type(exc))
    except Exception:
        name = "exception"
    try:
        text = str(exc)
    except Exception:  # __str__ of the job's own exception class raised
        text = ""
    if not isinstance(text, str):
        text = ""
    text = shorten(" ".join(text.split()), 200)
    return f"{name}: {text}" if text else name


def render_key(key: object) -> str:
    """One step of a value path: ``.name``, ``["a.b"]``, ``[22]``."""
    if type(key) is Index:
        return f"[{int(key)}]"
    if isinstance(key, str):
        key = "".join((key,))  # the real characters of a str subclass, no overridden methods
        if key.isidentifier() and key.isascii():
            return f".{key}"
        return f"[{shorten(encode_basestring_ascii(key), 60)}]"
    shown = scalar_repr(key)
    return f"[{shown}]" if shown is not None else f"[<{type_name(key)} key>]"


def render_path(root: str, keys: tuple[object, ...]) -> str:
    """``root`` followed by each key; a leading ``.`` is dropped when ``root`` is empty."""
    text = root + "".join(render_key(key) for key in keys)
    return text[1:] if not root and text.startswith(".") else text
