"""QR codes, drawn by segno. Always a full QR code (`make_qr`): for short text segno would pick a Micro QR
code, which many phone scanners cannot read."""

import io

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(text: str, *, scale: int = 6) -> SafeString:
    # segno's drawing of the text: the SVG markup is segno's own, and the text only sets the modules.
    return mark_safe(segno.make_qr(text, error="m").svg_inline(scale=scale, border=2, svgclass="qr-code"))


def qr_png(text: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
