"""How a table's columns became a model's features, kept to encode new rows the same way.

A :class:`Codebook` records, per feature column in order, ``None`` (numeric: used as
it is) or the sorted levels of a categorical column (one-hot, the first level
dropped: :mod:`jaxlogloss.data.encoding`), with the target column and its two classes
``(negative, positive)``. ``read_table``, ``open_stream`` and :meth:`TableStream.read
<jaxlogloss.data.stream.TableStream.read>` attach theirs (``.encoding``);
:func:`codebook_of` turns one into a Codebook, and :func:`encode_rows` applies it to
new rows (:mod:`jaxlogloss.data.new_rows`): the features ``xt`` (d, n), never fitting
new levels. Plain Python (no pyarrow import): a fit records its codebook, and
``import jaxlogloss`` stays light.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: the encoding a reader attaches: per feature column (name, levels list or None)
Encoding = tuple[tuple[str, tuple | None], ...]


def plan_encoding(plan: Any) -> Encoding:
    """A reader's feature plan (name, pa.Array levels or None) as plain Python."""
    return tuple(
        (name, None if levels is None else tuple(levels.to_pylist()))
        for name, levels in plan
    )


@dataclasses.dataclass(frozen=True)
class Codebook:
    """Feature columns with their levels, the target and its (negative, positive), and
    the column added to the logits when the model has an offset."""

    columns: Encoding
    target: str | None = None
    classes: tuple = (0, 1)
    offset: str | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        """``col`` for a numeric column, ``col[level]`` per kept level of another."""
        names: list[str] = []
        for name, levels in self.columns:
            if levels is None:
                names.append(name)
            else:
                names += [f"{name}[{lv}]" for lv in levels[1:]]
        return tuple(names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "classes": list(self.classes),
            "positive": self.classes[1] if len(self.classes) == 2 else None,
            "offset": self.offset,
            "columns": [
                {"name": n, "kind": "numeric"}
                if lv is None
                else {
                    "name": n,
                    "kind": "categorical",
                    "levels": list(lv),
                    "dropped": lv[0],
                }  # fmt: skip
                for n, lv in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Codebook:
        columns = tuple(
            (c["name"], None if c["kind"] == "numeric" else tuple(c["levels"]))
            for c in data["columns"]
        )
        return cls(
            columns, data.get("target"), tuple(data["classes"]), data.get("offset")
        )


def codebook_of(data: Any, feature_names: Any = None) -> Codebook:
    """The codebook of a TabularData / TableStream (numeric columns named by its
    feature names when it has no ``encoding``), or of plain ``feature_names``."""
    names = tuple(getattr(data, "feature_names", None) or feature_names or ())
    encoding = getattr(data, "encoding", None)
    columns = encoding if encoding is not None else tuple((n, None) for n in names)
    target = getattr(data, "target", None)
    classes = tuple(getattr(data, "classes", (0, 1)))
    return Codebook(tuple(columns), target, classes)
