"""What every printable document (a certificate, a resolution) shares: the Chinese font, A4 with its
margins, and the ruled tables."""

from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

# Built into every PDF reader: no font file to ship, and it covers Chinese and Latin alike.
CJK_FONT = "STSong-Light"


def register_cjk_font() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def a4_pdf(story: list, *, title: str, author: str, subject: str = "") -> bytes:
    out = BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        subject=subject,
        author=author,
        creator="Gongzhi",
    )
    document.build(story)
    return out.getvalue()


def ruled_table(rows, widths, *, header: bool = False, valign: str = "TOP") -> Table:
    """A grid; the first row shaded when it is a header, else the first column (labels beside values)."""
    shaded = ((0, 0), (-1, 0)) if header else ((0, 0), (0, -1))
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), valign),
        ("BACKGROUND", *shaded, colors.whitesmoke),
    ]
    return Table(rows, colWidths=widths, style=TableStyle(style), repeatRows=1 if header else 0)
