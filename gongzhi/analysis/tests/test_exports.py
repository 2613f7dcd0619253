"""The needs dashboard's Excel workbook and the printable report of a community's needs and profile: their
figures, and that they are of a region the user oversees (anyone else: 404)."""

import datetime
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation

from gongzhi.analysis import services
from gongzhi.analysis.tests import test_need_pages as need_pages
from gongzhi.analysis.tests.test_need_pages import THIS_YEAR, make_need
from gongzhi.core.models import AuditEvent, Resident
from gongzhi.volunteering.tests.test_certificates import pdf_text

# The dashboard's fixture (gongzhi/analysis/tests/test_need_pages.py), shared rather than copied.
two_years = need_pages.two_years


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def workbook_of(response) -> dict[str, list[tuple]]:
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets}


# The workbook --------------------------------------------------------------------------------------------


def test_the_workbook_holds_each_groups_ranking_and_the_register(people, login, two_years):
    make_need(people, "老人就医难")
    need = make_need(people, "楼道照明", category="safety")
    services.need_act(need=need, by=people.community_worker, text="装了声控灯", status="met")
    response = login(people.community_worker).get(
        reverse("analysis:dashboard_export"), {"year": THIS_YEAR, "group": "elderly"}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="needs-{people.community.pk}-{THIS_YEAR}.xlsx"'
    )
    sheets = workbook_of(response)
    # The group asked for first, then every other group, then the register.
    assert list(sheets) == [
        "Elderly (60+)",
        "All residents",
        "Children and youth",
        "People with disabilities",
        "Vulnerable families",
        "Needs register",
    ]
    header = ("Category", str(THIS_YEAR), str(THIS_YEAR - 1), "Change")
    assert sheets["Elderly (60+)"][0] == header
    # No elderly resident answered: no category, only the note.
    assert sheets["Elderly (60+)"][1:] == [
        (None, None, None, None),
        ("Counts under 5 are not shown, so no one can be singled out.", None, None, None),
    ]
    assert sheets["All residents"][:4] == [
        header,
        ("Health", 7, 6, 1),
        ("Safety", 5, "<5", None),
        ("Elderly care", "<5", 0, None),
    ]
    register = {row[0]: row[1:] for row in sheets["Needs register"]}
    assert register["Category"] == ("Identified", "Planned", "Being addressed", "Met", "Total")
    assert register["Health"] == (1, 0, 0, 0, 1)
    assert register["Safety"] == (0, 0, 0, 1, 1)
    assert register["Total"] == (1, 0, 0, 1, 2)


def test_a_street_officer_exports_the_street_with_every_community(people, login, two_years):
    make_need(people)
    response = login(people.street_officer).get(reverse("analysis:dashboard_export"))
    sheets = workbook_of(response)
    assert ("Housing and repairs", 6, 0, 6) in sheets["All residents"]
    assert response["Content-Disposition"].endswith(f'needs-{people.street.pk}-{THIS_YEAR}.xlsx"')


def test_the_dashboard_links_both_downloads(people, login):
    page = login(people.community_worker).get(reverse("analysis:dashboard"), {"group": "elderly"})
    content = page.content.decode()
    assert (
        f"{reverse('analysis:dashboard_export')}?region={people.community.pk}&amp;year={THIS_YEAR}"
        "&amp;group=elderly"
    ) in content
    assert f"{reverse('analysis:community_report_pdf')}?region={people.community.pk}" in content


@pytest.mark.parametrize("name", ["dashboard_export", "community_report_pdf"])
def test_another_streets_region_is_404(people, login, name):
    street = login(people.street_officer)
    assert street.get(reverse(f"analysis:{name}"), {"region": people.other_community.pk}).status_code == 404
    assert street.get(reverse(f"analysis:{name}"), {"region": "x"}).status_code == 404
    outsider = login(people.outsider)
    assert outsider.get(reverse(f"analysis:{name}"), {"region": people.community.pk}).status_code == 404
    assert login(people.resident).get(reverse(f"analysis:{name}")).status_code == 404


def test_the_export_is_not_an_audited_export_of_personal_data(people, login, two_years):
    """It holds counts only, like the sharing report (gongzhi/sharing/views/report.py)."""
    login(people.community_worker).get(reverse("analysis:dashboard_export"))
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# The printable report ------------------------------------------------------------------------------------


def test_the_report_of_a_community_with_a_need_is_a_pdf_with_its_needs_and_profile(people, login, two_years):
    make_need(people, "老人就医难")
    Resident.objects.bulk_create(
        Resident(
            community=people.community,
            region=people.building,
            name=f"老人{number}",
            sex=Resident.Sex.FEMALE,
            birth_date=datetime.date(THIS_YEAR - 72, 1, number + 1),
        )
        for number in range(5)
    )
    response = login(people.community_worker).get(reverse("analysis:community_report_pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'inline; filename="community-report-{people.community.pk}-{THIS_YEAR}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    shown = pdf_text(response.content)
    for text in (
        "Community needs and profile",
        "清波社区",
        "Needs residents chose",
        "Health",
        str(THIS_YEAR - 1),
        "老人就医难",
        "Identified",
        "Population by age and sex",
        "70-74",
        "Households by size",
        "Counts under 5 are not shown",
    ):
        assert text in shown, text


def test_a_street_report_names_each_needs_community(people, login):
    make_need(people, "老人就医难")
    response = login(people.street_officer).get(
        reverse("analysis:community_report_pdf"), {"region": people.street.pk}
    )
    shown = pdf_text(response.content)
    assert "苏坡街道" in shown and "老人就医难" in shown and "清波社区" in shown
    assert "No needs survey was answered here this year." in shown
