"""Linear's CSV export (`format: linear-csv`) as work items.

Both header shapes seen in real exports are read (the older 21 columns and the newer 34; the id
column is spelled `ID` or `Id`). `Started`, `Completed` and `Canceled` give the flow timeline
directly; `Estimate` is the size. Linear has no issue type: the first label that `types:` knows
gives it (`Bug` -> defect), else `options.default_type` (default `feature`). The value stream comes
from the team (match `projects`, or a value stream whose id is the team's name), the project and
the labels. Cells that could start a formula carry a leading `'`, which is removed.
"""
from __future__ import annotations

import re
from typing import Any

from ...config import Config, SourceSpec
from ...errors import Problem, SourceError
from .._model import FILE, ROW, RawFrame
from . import register
from ._common import ValueStreams, build_frame, read_csv_rows, split_list, wrong_dataset

FORMULA = re.compile(r"^'([+\-=@])")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = FORMULA.sub(r"\1", value.strip())
    return value or None


@register("linear-csv")
def linear_csv(config: Config, spec: SourceSpec) -> RawFrame:
    if spec.dataset != "work_items":
        raise wrong_dataset(spec, "linear-csv", ("work_items",))
    default_type = spec.options.get("default_type", "feature")
    vs = ValueStreams(config, spec)
    rows = []
    for shown, header, body in read_csv_rows(config, spec):
        index = {h.lower(): i for i, h in enumerate(header)}
        if "id" not in index or "title" not in index:
            raise SourceError(problems=[Problem(f"expected a Linear export with ID and Title columns, got {', '.join(header[:8])}…", file=shown, hint="export from Linear: Settings → Import / Export → Export CSV")])
        for row_no, cells in body:
            def col(name: str) -> str | None:
                i = index.get(name.lower())
                return _clean(cells[i]) if i is not None and i < len(cells) else None

            labels = split_list(col("Labels"), ", ")
            itype = next((lab for lab in labels if lab.lower() in config.types), default_type)
            row: dict[str, Any] = {
                FILE: shown, ROW: row_no, "id": col("ID"), "type": itype, "title": col("Title"),
                "value_stream": vs(projects=[col("Team"), col("Project")], labels=labels),
                "created_at": col("Created"), "started_at": col("Started"), "completed_at": col("Completed"),
                "canceled_at": col("Canceled"), "points": col("Estimate"),
            }
            rows.append(row)
    return build_frame(spec, rows, spec.path or "")
