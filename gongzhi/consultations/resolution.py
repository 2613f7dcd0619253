"""The printable resolution (协商议事决议) of a decided consultation, as a PDF for the notice board.

It carries what the published resolution must tell a resident: the topic and its community, the rules it was
decided by, each motion with its result and the reasons in words, the votes counted (heads, and floor area
when owners voted), the publication period and the last day for objections, and the date. A secret ballot's
counts are totals only; nothing on the page (or in the database) says who voted what."""

from html import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from gongzhi.consultations.models import Consultation, Motion, VoteUnit
from gongzhi.consultations.selectors import motion_reasons
from gongzhi.core.pdf import CJK_FONT, a4_pdf, register_cjk_font, ruled_table


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def motion_result(motion: Motion) -> str:
    if motion.passed is None:
        return _("Not decided")
    return _("Passed") if motion.passed else _("Not passed")


def vote_counts(motion: Motion, *, by_area: bool) -> str:
    """The votes kept when voting closed, in words."""
    return counts_text((motion.figures or {}).get("count") or {}, by_area=by_area)


def counts_text(count: dict, *, by_area: bool) -> str:
    """“For 12 · Against 3 · Abstain 1” (with m² when owners vote) from a count's fields: yes_heads,
    no_heads, abstain_heads, yes_area ..."""
    parts = []
    for key, label in (("yes", _("For")), ("no", _("Against")), ("abstain", _("Abstain"))):
        heads = count.get(f"{key}_heads", 0)
        if by_area:
            parts.append(
                _("%(label)s %(heads)s (%(area)s m²)")
                % {"label": label, "heads": heads, "area": count.get(f"{key}_area", 0)}
            )
        else:
            parts.append(f"{label} {heads}")
    return " · ".join(parts)


def resolution_pdf(consultation: Consultation, motions: list[Motion]) -> bytes:
    """The resolution on A4 (more pages when the motions are long), in the active language."""
    register_cjk_font()
    styles = {
        "title": ParagraphStyle("title", fontName=CJK_FONT, fontSize=20, leading=28, alignment=TA_CENTER),
        "subtitle": ParagraphStyle(
            "subtitle", fontName=CJK_FONT, fontSize=14, leading=20, alignment=TA_CENTER
        ),
        "heading": ParagraphStyle("heading", fontName=CJK_FONT, fontSize=12, leading=18),
        "body": ParagraphStyle("body", fontName=CJK_FONT, fontSize=11, leading=17),
        "cell": ParagraphStyle("cell", fontName=CJK_FONT, fontSize=10, leading=14),
        "small": ParagraphStyle("small", fontName=CJK_FONT, fontSize=8, leading=11, textColor=colors.grey),
    }

    def para(text, style="cell") -> Paragraph:
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), styles[style])

    rule_set = consultation.rule_set
    community = consultation.community
    by_area = rule_set.vote_unit == VoteUnit.OWNER
    story = [
        para(_("Resolution of the community consultation"), "title"),
        para(consultation.title, "subtitle"),
        Spacer(1, 6 * mm),
    ]
    facts = [
        (_("Community"), community.name),
        (_("Origin"), consultation.get_origin_display()),
        (_("Rules"), rule_set.name),
        (_("Decision rule"), rule_set.get_decision_rule_display()),
        (
            _("Quorum"),
            _("%(basis)s: %(share)s%%")
            % {"basis": rule_set.get_quorum_basis_display(), "share": f"{rule_set.quorum_share * 100:.0f}"},
        ),
        (_("Ballot"), _("Secret ballot") if rule_set.secret_ballot else _("Open ballot")),
        (_("Meeting"), f"{_when(consultation.meeting_at)} {consultation.meeting_place}".strip()),
        (_("Voting closed"), _when(consultation.voting_closed_at)),
    ]
    if consultation.is_major:
        facts.append((_("Major matter"), _("Yes (Civil Code art. 278)")))
    story.append(ruled_table([[para(label), para(value)] for label, value in facts], [40 * mm, 130 * mm]))
    story += [Spacer(1, 6 * mm), para(_("Motions and results"), "heading"), Spacer(1, 2 * mm)]
    rows = [[para(_("No.")), para(_("Motion")), para(_("Result")), para(_("Votes"))]]
    for motion in motions:
        reasons = "\n".join(motion_reasons(motion))
        rows.append(
            [
                para(motion.number),
                para(f"{motion.text}\n{reasons}" if reasons else motion.text),
                para(motion_result(motion)),
                para(vote_counts(motion, by_area=by_area)),
            ]
        )
    story.append(ruled_table(rows, [12 * mm, 92 * mm, 22 * mm, 44 * mm], header=True))
    story += [Spacer(1, 6 * mm), para(_("Publication and objections"), "heading"), Spacer(1, 2 * mm)]
    if consultation.published_at:
        publication = [
            (
                _("Published"),
                f"{_when(consultation.published_at)} – {_when(consultation.publication_ends_at)}",
            ),
            (_("Objections until"), _when(consultation.objections_end_at)),
        ]
        story.append(
            ruled_table([[para(label), para(value)] for label, value in publication], [40 * mm, 130 * mm])
        )
        story += [
            Spacer(1, 2 * mm),
            para(
                _(
                    "Residents and participants may object to this resolution until %(date)s on the "
                    "consultation's page or at the community office; every objection is answered publicly."
                )
                % {"date": _when(consultation.objections_end_at)},
                "body",
            ),
        ]
    else:
        story.append(
            para(
                _(
                    "Publication for %(days)s days follows, with %(objection_days)s days for objections, "
                    "from the day it is published."
                )
                % {"days": rule_set.publication_days, "objection_days": rule_set.objection_days},
                "body",
            )
        )
    story += [
        Spacer(1, 10 * mm),
        para(_("%(community)s residents' committee") % {"community": community.name}, "body"),
        para(
            _("Date: %(date)s")
            % {
                "date": timezone.localtime(
                    consultation.published_at or consultation.voting_closed_at or timezone.now()
                )
                .date()
                .isoformat()
            },
            "body",
        ),
        Spacer(1, 4 * mm),
        para(_("(Seal of the residents' committee)"), "body"),
    ]

    return a4_pdf(
        story,
        title=f"{_('Resolution of the community consultation')}: {consultation.title}",
        author=community.name,
    )
