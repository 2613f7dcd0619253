"""Excel downloads shared by every app: a report's tables as workbook sheets, and the response that sends a
workbook."""

import io
from dataclasses import dataclass

import openpyxl
from django.http import HttpResponse
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Table:
    """A report table as plain cells, the same for every reader: a workbook sheet."""

    title: str
    columns: list[str]
    rows: list[list]
    note: str = ""


def _sheet_title(text: str) -> str:
    # Excel refuses these characters in a sheet name and anything past 31 characters.
    return "".join(" " if character in "[]:*?/\\" else character for character in text)[:31]


def tables_workbook(tables: list[Table]) -> bytes:
    """One sheet per table: a bold header row, then the cells as numbers Excel can compute with."""
    workbook = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(_sheet_title(table.title))
        header = []
        for value in table.columns:
            cell = openpyxl.cell.WriteOnlyCell(sheet, value=value)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append(row)
        if table.note:
            sheet.append([])
            sheet.append([table.note])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
