"""What an evaluation prints and writes: the screen table, ``--json``, per-query JSON lines, ``--plot``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoseek.errors import PhotoseekError
from photoseek.evaluation.runner import SettingResult, Skipped, differences


@dataclass
class EvalReport:
    """One evaluation run.

    Attributes:
        kind: ``unsplash`` or ``captions``.
        collection: the collection searched.
        columns: the metric names shown in the table, in order.
        results: one per setting (text model x HNSW/exact).
        info: how the queries were made (counts, files, seed...).
        notes: lines printed under the table.
        skipped: settings the collection could not run, with the reason.
    """

    kind: str
    collection: str
    columns: list[str]
    results: list[SettingResult]
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The whole report (without per-query rows) as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "collection": self.collection,
            "info": self.info,
            "settings": [result.to_json() for result in self.results],
            "differences": differences(self.results),
            "skipped": [skip.to_json() for skip in self.skipped],
            "notes": self.notes,
        }


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def format_table(report: EvalReport) -> str:
    """The report as a fixed-width table: one line per setting, then one per frequency band."""
    several_models = len({r.text_model for r in report.results}) > 1
    header = ["setting", "queries", *report.columns, "seconds"]
    rows: list[list[str]] = []
    for result in report.results:
        name = result.label if several_models else result.name
        rows.append([name, str(len(result.per_query)), *(_cell(result.overall.get(c)) for c in report.columns),
                     f"{result.seconds:.2f}"])
        for band, values in result.bands.items():
            rows.append([f"  band {band}", str(int(values["queries"])),
                         *(_cell(values.get(c)) for c in report.columns), ""])
    for diff in differences(report.results):
        name = "exact - hnsw" + (f" · {diff['text_model']}" if several_models else "")
        rows.append([name, "", *(f"{diff['exact_minus_hnsw'].get(c, 0.0):+.4f}" for c in report.columns), ""])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"{report.kind} evaluation of collection {report.collection!r}"]
    for row in [header, *rows]:
        cells = enumerate(zip(row, widths, strict=True))
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in cells))
    lines.extend(f"skipped {skip.name}: {skip.reason}" for skip in report.skipped)
    lines.extend(report.notes)
    return "\n".join(lines)


def write_json(report: EvalReport, path: Path) -> None:
    """Write ``report.to_json()`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_query_lines(results: Sequence[SettingResult], path: Path) -> int:
    """Write one JSON line per query and setting; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for result in results:
            for row in result.per_query:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    return count


def write_plot(report: EvalReport, path: Path, *, title: str | None = None) -> None:
    """Draw the mean recall@k curve of each setting into a PNG (matplotlib, imported here).

    Raises:
        PhotoseekError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; must precede pyplot
        import matplotlib.pyplot as plt
    except ImportError:
        raise PhotoseekError(
            "--plot needs matplotlib: pip install 'photoseek[plot]' (or pip install matplotlib)"
        ) from None
    several_models = len({r.text_model for r in report.results}) > 1
    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    for result in report.results:
        ks = list(range(1, len(result.curve) + 1))
        axes.plot(ks, result.curve, label=result.label if several_models else result.name,
                  linestyle="--" if result.exact else "-")
    top = max((len(r.curve) for r in report.results), default=1)
    if top > 20:
        axes.set_xscale("log")
    axes.set_xlim(1, max(top, 2))
    axes.set_ylim(0, 1)
    axes.set_xlabel("k")
    axes.set_ylabel("mean recall@k")
    axes.set_title(title or f"{report.kind}: recall@k, collection {report.collection}")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
