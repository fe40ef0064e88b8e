"""``--set name=value`` of the bench scripts: a ``SegmentOptions`` field and its value, read by
the field's type (``True``/``False`` for flags, ``None`` where the field allows it)."""

from __future__ import annotations

from dataclasses import fields


def segment_overrides(items: list[str]) -> dict:
    """``{name: value}`` for ``name=value`` items; ValueError names an unknown field or a value
    its type cannot take."""
    from part3d.segment import SegmentOptions

    kinds = {f.name: str(f.type) for f in fields(SegmentOptions)}
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in kinds:
            raise ValueError(f"unknown option {name!r} (SegmentOptions has {', '.join(kinds)})")
        kind = kinds[name]
        if value == "None" and "None" in kind:
            out[name] = None
        elif kind.startswith("bool"):
            if value not in ("True", "False"):
                raise ValueError(f"{name} takes True or False, not {value!r}")
            out[name] = value == "True"
        elif kind.startswith("int"):
            out[name] = int(value)
        elif kind.startswith("float"):
            out[name] = float(value)
        else:
            out[name] = value
    return out
