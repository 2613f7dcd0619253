"""The needs dashboard as an Excel workbook, and the printable report (PDF) of a region's needs and profile.

Both are of a region the caller has checked the user oversees, and hold what the dashboard and the profile
show: counts of people with any count under SMALL_COUNT suppressed, and the register's needs, no person's name
or answer. Like the sharing and volunteering reports they are aggregates, so downloading them is not an
audited export of personal data."""

from html import escape

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from gongzhi.analysis import selectors
from gongzhi.analysis.models import Group, NeedCategory, NeedStatus
from gongzhi.analysis.profile import CommunityProfile, community_profile
from gongzhi.core.excel import Table, tables_workbook
from gongzhi.core.models import Region, RegionLevel
from gongzhi.core.pdf import CJK_FONT, a4_pdf, register_cjk_font, ruled_table

# A district's register runs to thousands of needs; the printed report lists those counting most people.
REGISTER_ROWS = 100
SUPPRESSED = "<5"


def _shown(count: int | None):
    return SUPPRESSED if count is None else count


def _change_text(change: int | None) -> str:
    if change is None:
        return "—"
    return f"+{change}" if change > 0 else str(change)


def suppression_note() -> str:
    return _("Counts under 5 are not shown, so no one can be singled out.")


# ----------------------------------------------------------------------------------------------- the workbook


def ranking_table(region: Region, *, year: int, group: str, title: str) -> Table:
    """The needs residents of a group chose in the region's surveys of a year, against the year before."""
    ranking = selectors.needs_ranking(region, year=year, group="" if group == Group.ALL else group)
    return Table(
        title=title,
        columns=[_("Category"), str(year), str(year - 1), _("Change")],
        rows=[[rank.label, _shown(rank.count), _shown(rank.last_year), rank.change] for rank in ranking],
        note=suppression_note(),
    )


def register_counts(user, region: Region) -> dict[tuple[str, str], int]:
    """The needs of the register in the region, by category and status, in one query."""
    return {
        (category, status): n
        for category, status, n in selectors.needs_visible_to(user)
        .filter(community__path__startswith=region.path)
        .values_list("category", "status")
        .annotate(n=Count("pk"))
        .order_by()
    }


def register_table(user, region: Region) -> Table:
    """Needs by category (rows) and status (columns), with totals both ways."""
    counts = register_counts(user, region)
    statuses = NeedStatus.values
    rows = []
    for category, label in NeedCategory.choices:
        line = [counts.get((category, status), 0) for status in statuses]
        rows.append([str(label), *line, sum(line)])
    by_status = [
        sum(counts.get((category, status), 0) for category in NeedCategory.values) for status in statuses
    ]
    rows.append([_("Total"), *by_status, sum(by_status)])
    return Table(
        title=_("Needs register"),
        columns=[_("Category"), *(str(label) for label in NeedStatus.labels), _("Total")],
        rows=rows,
    )


def dashboard_workbook(user, region: Region, *, year: int, group: str = "") -> bytes:
    """A sheet of the needs ranking for each group, the one asked for first (the sheet the workbook opens
    on), then the register by category and status."""
    groups = sorted(Group.choices, key=lambda choice: choice[0] != (group or Group.ALL))
    tables = [ranking_table(region, year=year, group=value, title=str(label)) for value, label in groups]
    return tables_workbook([*tables, register_table(user, region)])


# --------------------------------------------------------------------------------------------- the report


def _styles() -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=CJK_FONT, fontSize=20, leading=28, alignment=TA_CENTER),
        "subtitle": ParagraphStyle(
            "subtitle", fontName=CJK_FONT, fontSize=14, leading=20, alignment=TA_CENTER
        ),
        "heading": ParagraphStyle("heading", fontName=CJK_FONT, fontSize=12, leading=18),
        "body": ParagraphStyle("body", fontName=CJK_FONT, fontSize=11, leading=17),
        "cell": ParagraphStyle("cell", fontName=CJK_FONT, fontSize=10, leading=14),
        "small": ParagraphStyle("small", fontName=CJK_FONT, fontSize=8, leading=11, textColor=colors.grey),
    }


def community_report_pdf(user, region: Region, *, year: int) -> bytes:
    """The region's needs (the ranking against last year and the register) and its profile, on A4."""
    register_cjk_font()
    styles = _styles()

    def para(text, style="cell") -> Paragraph:
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), styles[style])

    def section(title: str) -> list:
        return [Spacer(1, 6 * mm), para(title, "heading"), Spacer(1, 2 * mm)]

    def table(header: list, rows: list, widths: list):
        return ruled_table(
            [[para(cell) for cell in header]] + [[para(cell) for cell in row] for row in rows],
            widths,
            header=True,
        )

    title = _("Community needs and profile")
    today = timezone.localdate()
    story = [
        para(title, "title"),
        para(f"{region.name} ({region.get_level_display()})", "subtitle"),
        Spacer(1, 4 * mm),
        para(
            _("Needs surveyed in %(year)s · printed %(date)s") % {"year": year, "date": today.isoformat()},
            "body",
        ),
    ]

    story += section(_("Needs residents chose"))
    ranking = selectors.needs_ranking(region, year=year)
    if ranking:
        story.append(
            table(
                [_("Category"), str(year), str(year - 1), _("Change")],
                [
                    [rank.label, _shown(rank.count), _shown(rank.last_year), _change_text(rank.change)]
                    for rank in ranking
                ],
                [80 * mm, 30 * mm, 30 * mm, 30 * mm],
            )
        )
    else:
        story.append(para(_("No needs survey was answered here this year."), "body"))

    story += section(_("The needs register"))
    register = selectors.needs_visible_to(user).filter(community__path__startswith=region.path)
    needs = list(
        register.select_related("community").order_by("-people_count", "title", "pk")[:REGISTER_ROWS]
    )
    if needs:
        below_community = region.level != RegionLevel.COMMUNITY
        story.append(
            table(
                [_("Need"), _("Category"), _("Status"), _("People")],
                [
                    [
                        f"{need.title}\n{need.community.name}" if below_community else need.title,
                        need.get_category_display(),
                        need.get_status_display(),
                        need.people_count,
                    ]
                    for need in needs
                ],
                [80 * mm, 40 * mm, 30 * mm, 20 * mm],
            )
        )
        total = register.count() if len(needs) == REGISTER_ROWS else len(needs)
        if total > len(needs):
            story.append(
                para(
                    _("The %(shown)s needs counting most people of %(total)s in the register.")
                    % {"shown": len(needs), "total": total},
                    "small",
                )
            )
    else:
        story.append(para(_("No need is recorded in the register here."), "body"))

    story += _profile_story(community_profile(region, today=today), para, section, table)
    story += [Spacer(1, 6 * mm), para(suppression_note(), "small")]
    return a4_pdf(story, title=f"{title}: {region.name}", author=region.name)


def _profile_story(profile: CommunityProfile, para, section, table) -> list:
    story = section(_("Community profile"))
    facts = [
        (_("Residents on the roster"), profile.population),
        (_("Households"), profile.household_total),
        (_("Elderly living alone"), _shown(profile.elderly_living_alone)),
    ]
    story.append(ruled_table([[para(label), para(value)] for label, value in facts], [80 * mm, 90 * mm]))

    story += section(_("Population by age and sex"))
    story.append(
        table(
            [_("Age"), _("Male"), _("Female")],
            [[band.label, _shown(band.male), _shown(band.female)] for band in profile.pyramid],
            [60 * mm, 55 * mm, 55 * mm],
        )
    )
    if profile.age_or_sex_unknown:
        story.append(
            para(
                _("%(count)s residents have no date of birth or sex on the roster.")
                % {"count": profile.age_or_sex_unknown},
                "small",
            )
        )

    story += section(_("Households by size"))
    story.append(
        table(
            [_("Household"), _("Households")],
            [[tally.label, _shown(tally.count)] for tally in profile.households],
            [85 * mm, 85 * mm],
        )
    )

    story += section(_("Groups on the roster"))
    story.append(
        table(
            [_("Group"), _("Residents")],
            [[tally.label, _shown(tally.count)] for tally in profile.groups],
            [85 * mm, 85 * mm],
        )
    )
    return story
