"""Options declared once, on the config dataclasses.

``option(default, help)`` is a dataclass field whose metadata carries the command-line help (and,
where the name does not say it, the flag, choices, type); :func:`add_options` makes the argparse
options from a dataclass's fields and :func:`from_options` builds the dataclass back from parsed
arguments. So a default lives in one place: the dataclass, which Python users and the CLI share.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, field, fields
from typing import Any


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    flag: str | None = None,
    choices: tuple | list | None = None,
    type: Any = None,
    metavar: str | None = None,
    required: bool = False,
) -> Any:
    """A dataclass field that is also a command-line option (``--field-name`` unless ``flag``)."""
    meta = {"help": help, "flag": flag, "choices": choices, "type": type, "metavar": metavar, "required": required}
    return field(default=default, metadata=meta)


def _options(cls) -> list[Field]:
    return [f for f in fields(cls) if "help" in f.metadata]


def flag_of(f: Field) -> str:
    """The option's flag: its metadata's, else ``--`` and the field name with dashes."""
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, cls, *, skip: tuple[str, ...] = ()) -> None:
    """One option per field of ``cls`` declared with :func:`option` (except ``skip``), its dataclass
    default as its default; a bool field with default False is a switch."""
    for f in _options(cls):
        if f.name in skip:
            continue
        meta, default = f.metadata, (None if f.default is MISSING else f.default)
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta["help"]}
        if default is False and meta["type"] is None:
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = meta["type"] or (type(default) if default is not None else str)
            kwargs["default"] = default
            for key in ("choices", "metavar"):
                if meta[key] is not None:
                    kwargs[key] = meta[key]
            if meta["flag"] and "metavar" not in kwargs and "choices" not in kwargs:
                kwargs["metavar"] = meta["flag"].lstrip("-").upper().replace("-", "_")
            if meta["required"]:
                kwargs["required"] = True
        parser.add_argument(flag_of(f), **kwargs)


def from_options(cls, args: argparse.Namespace, **values: Any):
    """``cls`` from the parsed options of its :func:`option` fields, plus ``values``."""
    given = {f.name: getattr(args, f.name) for f in _options(cls) if hasattr(args, f.name) and f.name not in values}
    return cls(**given, **values)


def option_values(cls, args: argparse.Namespace) -> dict[str, Any]:
    """The parsed values of ``cls``'s :func:`option` fields (for a nested settings dict)."""
    return {f.name: getattr(args, f.name) for f in _options(cls) if hasattr(args, f.name)}


def positive_int(value: str) -> int:
    """argparse type of a count or size that must be at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def unit_fraction(value: str) -> float:
    """argparse type of a threshold in [0, 1]."""
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return number
