"""The benchmarks' Markdown tables, as the README shows them."""

from __future__ import annotations


def print_table(rows: list[dict], columns: list[str], general: tuple[str, ...] = ()) -> None:
    """One Markdown row per dict; floats with 3 significant digits in `general` columns, 5 decimals
    in other loss columns, 2 elsewhere; booleans as yes / no; a missing value left empty."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, float):
                digits = ".3g" if column in general else ".5f" if "loss" in column else ".2f"
                value = f"{value:{digits}}"
            cells.append(str(value))
        print("| " + " | ".join(cells) + " |")
