"""The volunteer service certificate (志愿服务记录证明) as a PDF.

It carries exactly the fields the 志愿服务记录与证明出具办法 asks for: the volunteer's name, the type
and (masked) number of their ID, their volunteer number, the hours and content of their service, the issuing
organisation, its person in charge, the handler and a contact, the certificate's number and date. A QR code
leads to the public verification page, where anyone can check what the number certifies."""

from html import escape
from io import BytesIO

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, Spacer, Table, TableStyle

from gongzhi.core.pdf import CJK_FONT, a4_pdf, register_cjk_font, ruled_table
from gongzhi.core.qr import qr_png
from gongzhi.volunteering.models import Certificate

# The number is printed in a standard Latin font too, so that it is plain text in the file (searchable,
# copyable and read by screen readers whatever the reader's CJK support).
NUMBER_FONT = "Helvetica-Bold"


def content_lines(certificate: Certificate) -> list[tuple[str, str, str]]:
    """The service content as (date, activity and organiser, hours), from the snapshot written at issue:
    one line per activity, "2025-03-01 清理楼道 (清波社区) 2.00"."""
    rows = []
    for line in certificate.content.splitlines():
        line = line.strip()
        if not line:
            continue
        date, _space, rest = line.partition(" ")
        activity, _space, hours = rest.rpartition(" ")
        rows.append((date, activity, hours) if activity else ("", line, ""))
    return rows


def _qr_image(url: str, size: float) -> Image:
    return Image(BytesIO(qr_png(url)), width=size, height=size)


def certificate_pdf(certificate: Certificate, *, verify_url: str) -> bytes:
    """The certificate on one A4 page (more when the content is long), in the active language."""
    register_cjk_font()
    styles = {
        "title": ParagraphStyle("title", fontName=CJK_FONT, fontSize=22, leading=30, alignment=TA_CENTER),
        "number": ParagraphStyle(
            "number", fontName=NUMBER_FONT, fontSize=10, leading=14, alignment=TA_CENTER
        ),
        "body": ParagraphStyle("body", fontName=CJK_FONT, fontSize=11, leading=18),
        "cell": ParagraphStyle("cell", fontName=CJK_FONT, fontSize=10, leading=14),
        "small": ParagraphStyle("small", fontName=CJK_FONT, fontSize=8, leading=11, textColor=colors.grey),
    }

    def para(text, style="cell") -> Paragraph:
        return Paragraph(escape(str(text)), styles[style])

    issued_on = timezone.localtime(certificate.issued_at).date()
    hours = f"{certificate.hours.normalize():f}"
    story = [
        para(_("Volunteer service record certificate"), "title"),
        Paragraph(escape(certificate.number), styles["number"]),
        Spacer(1, 6 * mm),
        para(
            _(
                "This certifies that %(name)s, volunteer number %(number)s, served as a volunteer with "
                "%(issuer)s from %(start)s to %(end)s: %(activities)s activities, %(hours)s hours in all."
            )
            % {
                "name": certificate.name,
                "number": certificate.volunteer_number,
                "issuer": certificate.issuer,
                "start": certificate.period_start.isoformat(),
                "end": certificate.period_end.isoformat(),
                "activities": certificate.activities,
                "hours": hours,
            },
            "body",
        ),
        Spacer(1, 5 * mm),
    ]
    facts = [
        (_("Name"), certificate.name),
        (_("ID type"), _(certificate.id_type)),
        (_("ID number"), certificate.id_number_masked or "—"),
        (_("Volunteer number"), certificate.volunteer_number),
        (_("Volunteer service hours"), hours),
        (_("Period"), f"{certificate.period_start.isoformat()} – {certificate.period_end.isoformat()}"),
    ]
    story.append(
        ruled_table(
            [[para(label), para(value)] for label, value in facts], [40 * mm, 130 * mm], valign="MIDDLE"
        )
    )
    story += [Spacer(1, 5 * mm), para(_("Volunteer service content"), "body"), Spacer(1, 2 * mm)]
    lines = [[para(_("Date")), para(_("Activity")), para(_("Hours"))]]
    lines += [
        [para(date), para(activity), para(hours)] for date, activity, hours in content_lines(certificate)
    ]
    story.append(ruled_table(lines, [28 * mm, 122 * mm, 20 * mm], header=True, valign="MIDDLE"))
    story.append(Spacer(1, 6 * mm))
    signers = [
        (_("Issuing organisation"), certificate.issuer),
        (_("Person in charge"), certificate.person_in_charge),
        (_("Handler"), certificate.handler_name),
        (_("Contact"), certificate.handler_contact),
        (_("Certificate number"), certificate.number),
        (_("Date of issue"), issued_on.isoformat()),
    ]
    signer_table = ruled_table(
        [[para(label), para(value)] for label, value in signers], [30 * mm, 86 * mm], valign="MIDDLE"
    )
    qr = Table(
        [[_qr_image(verify_url, 36 * mm)], [para(_("Scan to verify this certificate"), "small")]],
        colWidths=[42 * mm],
        style=TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]),
    )
    story.append(
        Table(
            [[signer_table, qr]],
            colWidths=[122 * mm, 48 * mm],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]),
        )
    )
    story += [
        Spacer(1, 4 * mm),
        para(_("(Seal of the issuing organisation)"), "body"),
        Spacer(1, 4 * mm),
        para(_("Verify at %(url)s") % {"url": verify_url}, "small"),
    ]

    return a4_pdf(
        story,
        title=f"{_('Volunteer service record certificate')} {certificate.number}",
        author=certificate.issuer,
        subject=certificate.number,
    )
