"""Runtime validation of one job result: (value, expected device id) -> every violation, with paths.

The typed part of the contract is checked with typeguard's ``check_type``, key by key against
:data:`netraven_contracts.contract.RESULT_TYPES`, so every bad key is reported and not only the
first. What typeguard does not catch is checked here: ``True``/``False`` pass as ``int`` for
typeguard but are no ``device_id``; an object whose ``__class__`` lies passes ``isinstance`` but is
not what the database driver will see. The JSONB safety of what goes into ``details`` is
:mod:`netraven_contracts.runtime.jsonb`'s.

Only real storage is read (``dict.items(result)``): a dict subclass cannot hide keys, and no method
of the job's objects (``__eq__``, ``__hash__``, ``__repr__``) is called, so a hostile result is
reported, never raised from.
"""

from __future__ import annotations

from typing import Final

from typeguard import TypeCheckError, check_type

from .. import contract
from ..findings import Violation
from ..rules import RULES
from .describe import describe, render_path, scalar_repr
from .jsonb import JsonbWalker

_SUCCESS: Final = contract.SUCCESS_KEY
_DEVICE_ID: Final = contract.DEVICE_ID_KEY
_DETAILS: Final = contract.DETAILS_KEY
#: How the examples in messages name the job's device parameter.
_DEVICE: Final = contract.RUN_PARAMETERS[0]

# What each top-level key is, looked up with exact str keys only (never the job's objects).
_KNOWN, _RESERVED = "known", "reserved"
_EXACT: Final = {key: getattr(kind, "__origin__", kind) for key, kind in contract.RESULT_TYPES.items()}
_KEY_KIND: Final = {**{key: _KNOWN for key in contract.KNOWN_KEYS},
                    **{key: _RESERVED for key in contract.RESERVED_KEYS}}


def _conforms(value: object, key: str) -> bool:
    """typeguard's verdict on ``value`` against the contract's type for ``key``."""
    if type(value) is _EXACT[key]:
        # An exact instance of the contract's class: typeguard's answer is known (dict[str, Any]
        # is refined by the JSONB walk anyway), and asking costs ~5 µs a key.
        return True
    try:
        check_type(value, contract.RESULT_TYPES[key])
    except TypeCheckError:
        return False
    except Exception:  # typeguard's message calls repr() of the value, which the job may break
        return False
    return True


def check_arguments(device_id: object, max_details_bytes: object, max_depth: object) -> None:
    if device_id is not None and (type(device_id) is bool or not isinstance(device_id, int)):
        raise TypeError(f"device_id must be an int or None, not {describe(device_id)}")
    for name, limit in (("max_details_bytes", max_details_bytes), ("max_depth", max_depth)):
        if type(limit) is not int or limit < 1:
            raise ValueError(f"{name} must be a positive int, not {describe(limit)}")


def validate_result(
    result: object,
    *,
    device_id: int | None = None,
    max_details_bytes: int = contract.DEFAULT_MAX_DETAILS_BYTES,
    max_depth: int = contract.DEFAULT_MAX_DETAILS_DEPTH,
) -> list[Violation]:
    """Every violation of the contract by one value that ``run()`` returned; ``[]`` when it conforms.

    ``device_id`` is the id of the device the job ran for: a valid int ``device_id`` in the result
    that differs is NRJ032. ``max_details_bytes`` bounds the compact UTF-8 JSON text of what goes
    into ``job_results.details`` (``details`` plus the ad-hoc top-level keys), ``max_depth`` its
    nesting (the details dict itself is level 1).

    Pure and total: never raises for any ``result``, whatever its type or behaviour; raises
    ``TypeError``/``ValueError`` only for bad arguments of its own.
    """
    check_arguments(device_id, max_details_bytes, max_depth)
    return check_result(result, device_id=device_id, max_details_bytes=max_details_bytes,
                        max_depth=max_depth)


def check_result(
    result: object,
    *,
    device_id: int | None,
    max_details_bytes: int,
    max_depth: int,
    where: str = "",
) -> list[Violation]:
    """:func:`validate_result` without the argument checks; ``where`` is woven into the messages
    of the codes whose template has it (the dry run passes `` (returned at line 12)``)."""
    out: list[Violation] = []
    if result is None:
        out.append(Violation("NRJ003", RULES["NRJ003"].format(
            what="run() returned None", where=where, device=_DEVICE)))
        return out
    if not issubclass(type(result), dict):  # type(): a lying __class__ fools isinstance()
        out.append(Violation("NRJ004", RULES["NRJ004"].format(
            kind=describe(result), where=where, device=_DEVICE)))
        return out

    entries = list(dict.items(result))  # type: ignore[arg-type]
    by_name: dict[str, object] = {}
    for key, value in entries:
        if type(key) is str and key in _KEY_KIND:
            by_name.setdefault(key, value)
    if _SUCCESS not in by_name:
        out.append(Violation("NRJ005", RULES["NRJ005"].format(where=where), path=_SUCCESS))
    if _DEVICE_ID not in by_name:
        out.append(Violation("NRJ006", RULES["NRJ006"].format(where=where, device=_DEVICE),
                             path=_DEVICE_ID))

    details = by_name.get(_DETAILS)
    details_keys: frozenset[str] | None = None  # built on the first ad-hoc key only

    walker = JsonbWalker(out, max_depth=max_depth)
    details_size = details_count = adhoc_size = adhoc_count = 0
    for key, value in entries:
        kind = _KEY_KIND.get(key) if type(key) is str else None  # type: ignore[call-overload]
        if kind == _KNOWN and key == _SUCCESS:
            # typeguard decides; type() catches what isinstance() lets through (a lying __class__)
            if not _conforms(value, _SUCCESS) or type(value) is not bool:
                out.append(Violation("NRJ007", RULES["NRJ007"].format(
                    kind=describe(value), where=where), path=_SUCCESS))
        elif kind == _KNOWN and key == _DEVICE_ID:
            _check_device_id(value, device_id, where, out)
        elif kind == _KNOWN:  # details
            real_dict = issubclass(type(value), dict)
            if not _conforms(value, _DETAILS) or not real_dict:
                if not real_dict:
                    out.append(Violation("NRJ011", RULES["NRJ011"].format(
                        kind=describe(value), where=where), path=_DETAILS))
                    continue
                # A real dict that typeguard refuses has a non-str key: the walk names each one.
            details_size = walker.walk(value, _DETAILS, (), 1)
            details_count = len(dict.keys(value))  # type: ignore[arg-type]
        elif kind == _RESERVED:
            out.append(Violation("NRJ013", RULES["NRJ013"].format(key=key), path=key))
        else:
            # An ad-hoc key: the worker folds it into details, unless details has the key.
            shown = "".join((key,)) if isinstance(key, str) else (scalar_repr(key) or describe(key))
            if details_keys is None:
                # exact str keys only: hashing a foreign key object could call its __hash__
                details_keys = frozenset(
                    name for name in (dict.keys(details) if issubclass(type(details), dict) else ())  # type: ignore[arg-type]
                    if type(name) is str)
            collides = type(key) is str and key in details_keys
            note = (f' and collides with details["{shown}"]: the details value is stored, this one is dropped'
                    if collides else "")
            out.append(Violation("NRJ012", RULES["NRJ012"].format(key=shown, note=note),
                                 path=render_path("", (key,))))
            if collides:
                continue  # dropped: the details value wins
            adhoc_size += walker.key(key, "", (key,)) + 1 + walker.walk(value, "", (key,), 2)
            adhoc_count += 1
    walker.finish()

    # Size of the details JSON the worker stores: details' own entries plus the ad-hoc ones.
    size = (details_size or 2) + adhoc_size
    if adhoc_count:
        size += adhoc_count if details_count else adhoc_count - 1  # the commas between entries
    if size > max_details_bytes:
        out.append(Violation("NRJ014", RULES["NRJ014"].format(
            at="", kind=f"{_format_bytes(size)} of JSON",
            why=f"exceeds the limit of {_format_bytes(max_details_bytes, 'max_details_bytes')}",
            fix="store less (a summary, not raw output), or keep bulky text in its own table"),
            path=_DETAILS))
    return out


def _check_device_id(value: object, expected: int | None, where: str, out: list[Violation]) -> None:
    if value is None or type(value) is bool or not issubclass(type(value), int) or not _conforms(
            value, _DEVICE_ID):
        out.append(Violation("NRJ009", RULES["NRJ009"].format(
            kind=describe(value), where=where, device=_DEVICE), path=_DEVICE_ID))
        return
    if expected is not None and not int.__eq__(value, expected):  # type: ignore[arg-type]
        out.append(Violation("NRJ032", RULES["NRJ032"].format(
            got=int.__repr__(value), expected=expected), path=_DEVICE_ID))  # type: ignore[arg-type]


def _format_bytes(size: int, note: str = "") -> str:
    exact = f"{size:,} bytes" + (f", {note}" if note else "")
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.4g} MiB ({exact})"
    if size >= 1024:
        return f"{size / 1024:.4g} KiB ({exact})"
    return f"{size:,} bytes" + (f" ({note})" if note else "")
