"""The volunteer's own pages, the passbook, the volunteer record for staff, points awards and settings."""

import datetime
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from conftest import make_user
from gongzhi.core.models import Resident
from gongzhi.volunteering import services
from gongzhi.volunteering.models import (
    AccountKind,
    Activity,
    Certificate,
    LedgerTransaction,
    RecordNote,
    SignUp,
    Verification,
    VolunteeringSettings,
    VolunteerProfile,
)

ME = reverse("volunteering:me")
PASSBOOK = reverse("volunteering:passbook")


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English msgids, whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def serve(people, activity, *, resident=None):
    """Signs the resident up for the activity, checks them in and out on time and approves the hours."""
    signup = services.signup_create(activity=activity, resident=resident or people.resident_record)
    worker = people.community_worker
    services.attendance_mark(signup=signup, by=worker, action="check_in", now=activity.starts_at)
    services.attendance_mark(signup=signup, by=worker, action="check_out", now=activity.ends_at)
    return services.hours_verify(
        signup=signup, by=worker, decision="approve", now=activity.ends_at + datetime.timedelta(hours=1)
    )


def name_signers(people):
    services.settings_update(
        community=people.community,
        by=people.community_secretary,
        points_expire_after_years=None,
        person_in_charge="王主任",
        handler_name="李干事",
        handler_contact="028-87654321",
    )


def link_account(record: Resident, mobile: str):
    user = make_user(mobile, record.name)
    Resident.objects.filter(pk=record.pk).update(user=user)
    return user


def award(people, amount: int, key: str, reason: str = "Swept the courtyard"):
    return services.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=amount,
        reason=reason,
        awarded_by=people.community_worker,
        idempotency_key=key,
    )


def add_history(people, volunteer: VolunteerProfile, count: int, *, start: int = 0) -> None:
    """`count` past activities, each with a verified hour on the volunteer's record and a training note."""
    base = timezone.now() - datetime.timedelta(days=400)
    activities = Activity.objects.bulk_create(
        Activity(
            community=people.community,
            region=people.community,
            title=f"活动{number:03d}",
            place="活动室",
            starts_at=base + datetime.timedelta(days=number),
            ends_at=base + datetime.timedelta(days=number, hours=1),
            cancel_deadline=base + datetime.timedelta(days=number),
            capacity=5,
            status=Activity.Status.OPEN,
            code_secret=f"secret{number}",
            created_by=people.community_worker,
            organisation=people.agency if number % 2 else None,
        )
        for number in range(start, start + count)
    )
    SignUp.objects.bulk_create(
        SignUp(
            activity=activity,
            volunteer=volunteer,
            status=SignUp.Status.CONFIRMED,
            verification=Verification.APPROVED,
            hours=Decimal(1),
            verified_at=activity.ends_at,
            verified_by=people.community_worker,
        )
        for activity in activities
    )
    RecordNote.objects.bulk_create(
        RecordNote(
            volunteer=volunteer,
            kind=RecordNote.Kind.TRAINING,
            title=f"培训{number}",
            on_date=datetime.date(2024, 1, 1),
            community=people.community,
            recorded_by=people.community_worker,
        )
        for number in range(start, start + count)
    )


def rows(response, testid: str) -> int:
    table = re.search(rf'data-testid="{testid}".*?<tbody>(.*?)</tbody>', response.text, re.S)
    return table.group(1).count("<tr>") if table else 0


# My volunteering ---------------------------------------------------------------------------------------


def test_it_makes_a_volunteer_profile_on_the_first_visit_and_shows_the_code(people, login):
    response = login(people.resident).get(ME)
    volunteer = VolunteerProfile.objects.get(resident=people.resident_record)
    assert response.status_code == 200
    assert volunteer.number in response.text
    assert 'data-testid="personal-qr"' in response.text and "<svg" in response.text
    assert volunteer.qr_token not in response.text.replace("<svg", "")  # drawn, not printed
    login(people.resident).get(ME)
    assert VolunteerProfile.objects.filter(resident=people.resident_record).count() == 1


def test_a_user_without_a_resident_record_is_told_how_to_claim_it(people, login):
    for url in (ME, PASSBOOK):
        response = login(people.community_worker).get(url)
        assert response.status_code == 200
        assert 'data-testid="needs-record"' in response.text
        assert f'href="{reverse("claim")}"' in response.text
    assert not VolunteerProfile.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    for url in (ME, PASSBOOK):
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_it_saves_my_skills_and_honour_roll_choice(people, login):
    client = login(people.resident)
    response = client.post(ME, {"action": "profile", "skills": "急救, 修水管", "on_honour_roll": "on"})
    assert response.status_code == 302
    volunteer = VolunteerProfile.objects.get(resident=people.resident_record)
    assert (volunteer.skills, volunteer.on_honour_roll) == ("急救, 修水管", True)
    assert "Your volunteer profile is saved." in client.get(ME).text


def test_it_refuses_skills_that_are_too_long_and_changes_nothing(people, login):
    client = login(people.resident)
    client.post(ME, {"action": "profile", "skills": "急救", "on_honour_roll": "on"})
    response = client.post(ME, {"action": "profile", "skills": "长" * 201})
    assert response.status_code == 400
    assert "at most 200 characters" in response.text
    volunteer = VolunteerProfile.objects.get(resident=people.resident_record)
    assert (volunteer.skills, volunteer.on_honour_roll) == ("急救", True)


def test_an_unknown_action_is_404(people, login):
    assert login(people.resident).post(ME, {"action": "delete"}).status_code == 404


def test_it_shows_my_sign_ups_record_of_service_and_notes(people, login, activity):
    serve(people, activity)
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    services.record_note_add(
        volunteer=volunteer,
        by=people.community_worker,
        kind=RecordNote.Kind.HONOUR,
        title="优秀志愿者",
        on_date=datetime.date(2025, 3, 5),
    )
    response = login(people.resident).get(ME)
    page = response.text
    assert reverse("volunteering:activity", args=[activity.pk]) in page
    assert rows(response, "service-record") == 1 and "清理楼道" in page
    assert '<dd data-testid="hours">2</dd>' in page
    assert "优秀志愿者" in page and "Honour" in page


def test_my_page_costs_the_same_queries_however_long_my_record(people, login, django_assert_max_num_queries):
    client = login(people.resident)
    client.get(ME)
    volunteer = VolunteerProfile.objects.get(resident=people.resident_record)
    add_history(people, volunteer, 2)
    with CaptureQueriesContext(connection) as few:
        client.get(ME)
    add_history(people, volunteer, 40, start=2)
    with django_assert_max_num_queries(len(few)):
        response = client.get(ME)
    assert rows(response, "service-record") == 42
    assert response.text.count("培训") == 42


def test_download_my_certificate_issues_one_and_opens_the_pdf(people, login, activity):
    serve(people, activity)
    name_signers(people)
    client = login(people.resident)
    response = client.post(ME, {"action": "certificate"})
    certificate = Certificate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("volunteering:certificate_pdf", args=[certificate.number])
    assert (certificate.hours, certificate.activities, certificate.issued_by) == (
        Decimal("2.00"),
        1,
        people.resident,
    )
    assert client.get(response["Location"]).content.startswith(b"%PDF-")
    assert certificate.number in client.get(ME).text


def test_a_certificate_with_no_hours_is_refused_and_nothing_is_issued(people, login):
    name_signers(people)
    response = login(people.resident).post(ME, {"action": "certificate"})
    assert response.status_code == 400
    assert "There are no verified hours to certify yet." in response.text
    assert not Certificate.objects.exists()


# The passbook -------------------------------------------------------------------------------------------


def test_the_passbook_reads_like_the_paper_one(people, login, funded):
    _budget, issued, _redeemed = funded
    award(people, 30, "award:a", reason="Swept the courtyard")
    mistaken = award(people, 5, "award:b", reason="Carried the shopping")
    services.ledger_reverse(
        transaction=mistaken, idempotency_key="award-cancel:b", memo=mistaken.memo, created_by=people.admin
    )
    passbook_account = services.points_account_for(resident=people.resident_record)
    services.ledger_post(
        idempotency_key="expiry:test",
        memo=gettext_noop("Points expired"),
        entries=[(passbook_account, -10), (issued, 10)],
    )
    response = login(people.resident).get(PASSBOOK)
    page = response.text
    assert response.status_code == 200
    assert '<strong class="lead" data-testid="balance">20 points</strong>' in page
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    cells = [re.sub(r"\s+", " ", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", body, re.S)]
    today = timezone.localdate().isoformat()
    assert cells == [
        *[today, "Points expired", "", "−10", "20"],
        *[today, "Cancelled: Carried the shopping", "", "−5", "30"],
        *[today, "Carried the shopping", "+5", "", "35"],
        *[today, "Swept the courtyard", "+30", "", "30"],
    ]


def test_the_passbook_translates_system_memos_and_keeps_peoples_words(people, login, funded):
    _budget, issued, _redeemed = funded
    award(people, 10, "award:a", reason="Swept the courtyard")
    passbook_account = services.points_account_for(resident=people.resident_record)
    services.ledger_post(
        idempotency_key="expiry:test",
        memo=gettext_noop("Points expired"),
        entries=[(passbook_account, -10), (issued, 10)],
    )
    client = login(people.resident)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(PASSBOOK).text
    with translation.override("zh-hans"):
        assert translation.gettext("Points expired") in page
    assert "Swept the courtyard" in page


def test_the_passbook_pages_with_constant_queries(people, login, funded, django_assert_max_num_queries):
    services.budget_fund(
        community=people.community, amount=1000, by=people.community_secretary, idempotency_key="fund:more"
    )
    for number in range(3):
        award(people, 1, f"award:{number}")
    client = login(people.resident)
    with CaptureQueriesContext(connection) as few:
        client.get(PASSBOOK)
    for number in range(3, 60):
        award(people, 1, f"award:{number}")
    with django_assert_max_num_queries(len(few)):
        first = client.get(PASSBOOK)
    with django_assert_max_num_queries(len(few) + 1):  # a later page reads the current balance once more
        last = client.get(PASSBOOK, {"page": 3})
    assert rows(first, "passbook") == 25 and rows(last, "passbook") == 10
    assert "60 points" in last.text
    assert re.search(r"<td>1</td>\s*</tr>\s*</tbody>", last.text)  # the oldest line: balance 1


# The volunteer record, for staff -----------------------------------------------------------------------


def record_url(volunteer) -> str:
    return reverse("volunteering:volunteer", args=[volunteer.pk])


@pytest.fixture
def volunteer(people):
    return services.volunteer_profile_for(resident=people.resident_record)


def test_staff_see_the_volunteer_record(people, login, activity, volunteer):
    serve(people, activity)
    for staff in (people.community_worker, people.street_officer):
        response = login(staff).get(record_url(volunteer))
        assert response.status_code == 200
        assert volunteer.number in response.text and rows(response, "service-record") == 1
    assert 'name="action" value="note"' not in login(people.street_officer).get(record_url(volunteer)).text


def test_a_community_worker_adds_training_to_the_record(people, login, volunteer):
    response = login(people.community_worker).post(
        record_url(volunteer),
        {
            "action": "note",
            "kind": "training",
            "title": "急救培训",
            "detail": "红十字会",
            "on_date": "2025-05-01",
        },
    )
    assert response.status_code == 302
    note = RecordNote.objects.get()
    assert (note.kind, note.title, note.on_date, note.recorded_by) == (
        "training",
        "急救培训",
        datetime.date(2025, 5, 1),
        people.community_worker,
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": "training", "title": "", "on_date": "2025-05-01"}, "This field is required."),
        ({"kind": "praise", "title": "好", "on_date": "2025-05-01"}, "Select a valid choice."),
        ({"kind": "honour", "title": "好", "on_date": "yesterday"}, "Enter a valid date."),
    ],
    ids=["no-title", "bad-kind", "bad-date"],
)
def test_a_bad_note_shows_the_error_and_adds_nothing(people, login, volunteer, data, error):
    response = login(people.community_worker).post(record_url(volunteer), {"action": "note", **data})
    assert response.status_code == 400 and error in response.text
    assert not RecordNote.objects.exists()


def test_staff_issue_a_certificate_for_the_volunteer(people, login, activity, volunteer):
    serve(people, activity)
    name_signers(people)
    response = login(people.community_worker).post(record_url(volunteer), {"action": "certificate"})
    certificate = Certificate.objects.get()
    assert response["Location"] == reverse("volunteering:certificate_pdf", args=[certificate.number])
    assert certificate.issued_by == people.community_worker


def test_an_officer_who_only_oversees_cannot_write_to_the_record(people, login, volunteer):
    response = login(people.street_officer).post(
        record_url(volunteer), {"action": "note", "kind": "training", "title": "x", "on_date": "2025-05-01"}
    )
    assert response.status_code == 404 and not RecordNote.objects.exists()


@pytest.mark.parametrize("who", ["outsider", "provider_staff", "building_leader"])
def test_the_volunteer_record_is_404_outside_scope(people, login, volunteer, who):
    client = login(getattr(people, who))
    assert client.get(record_url(volunteer)).status_code == 404
    assert client.post(record_url(volunteer), {"action": "certificate"}).status_code == 404
    assert not Certificate.objects.exists()


def test_the_volunteer_is_sent_to_their_own_page(people, login, volunteer):
    response = login(people.resident).get(record_url(volunteer))
    assert response.status_code == 302 and response["Location"] == ME


# Points awards ------------------------------------------------------------------------------------------


def award_url(community) -> str:
    return reverse("volunteering:award", args=[community.pk])


def post_award(client, people, **fields):
    data = {
        "action": "award",
        "resident": people.resident_record.pk,
        "amount": 10,
        "reason": "扫雪",
        "token": "t1",
    }
    return client.post(award_url(people.community), {**data, **fields})


def balances(people) -> tuple[int, int]:
    budget = services.community_account(community=people.community, kind=AccountKind.AWARD_BUDGET)
    return budget.balance, services.points_account_for(resident=people.resident_record).balance


def test_the_award_page_finds_residents_by_name(people, login, funded):
    client = login(people.community_worker)
    page = client.get(award_url(people.community)).text
    assert '<p class="lead" data-testid="budget">100 points left to award</p>' in page
    assert "Search for the resident by name first." in page
    page = client.get(award_url(people.community), {"q": "张"}).text
    assert f'value="{people.resident_record.pk}"' in page and "张居民 · 1栋 1-101 · 138****0001" in page
    assert f'value="{people.neighbour_record.pk}"' not in page
    assert "Nobody of that name" in client.get(award_url(people.community), {"q": "王吉福"}).text


def test_a_community_worker_awards_points_with_a_reason(people, login, funded):
    client = login(people.community_worker)
    response = post_award(client, people)
    assert response.status_code == 302
    assert balances(people) == (90, 10)
    page = client.get(award_url(people.community)).text
    assert "10 points awarded to 张居民." in page
    assert rows_text(page, "recent-awards") == [["张居民", "10", "扫雪", "社区工作者"]]


def rows_text(page: str, testid: str) -> list[list[str]]:
    body = re.search(rf'data-testid="{testid}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [re.findall(r"<td>(.*?)</td>", row)[1:] for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_a_doubled_submit_awards_once(people, login, funded):
    client = login(people.community_worker)
    post_award(client, people, token="same")
    post_award(client, people, token="same")
    assert balances(people) == (90, 10)
    assert LedgerTransaction.objects.filter(idempotency_key="award:same").count() == 1


def test_each_rendered_form_carries_a_fresh_token(people, login, funded):
    client = login(people.community_worker)
    tokens = {
        re.search(r'name="token" value="([^"]+)"', client.get(award_url(people.community)).text).group(1)
        for _ in range(2)
    }
    assert len(tokens) == 2


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": 101}, "The community&#x27;s award budget is not enough."),
        ({"amount": 0}, "Enter a whole number of points greater than zero."),
        ({"amount": -5}, "Enter a whole number of points greater than zero."),
        ({"amount": "lots"}, "Enter a whole number of points greater than zero."),
        ({"reason": ""}, "Give a reason for the award."),
        ({"reason": "   "}, "Give a reason for the award."),
        ({"resident": ""}, "Search for the resident and choose them."),
    ],
    ids=["over-budget", "zero", "negative", "not-a-number", "no-reason", "blank-reason", "no-resident"],
)
def test_a_bad_award_shows_the_error_and_changes_nothing(people, login, funded, fields, error):
    response = post_award(login(people.community_worker), people, **fields)
    assert response.status_code == 400 and error in response.text
    assert balances(people) == (100, 0)
    assert not LedgerTransaction.objects.filter(idempotency_key__startswith="award:").exists()


def test_only_residents_of_the_community_can_be_awarded(people, login, funded):
    client = login(people.community_worker)
    response = client.post(
        award_url(people.sibling_community),
        {"action": "award", "resident": people.resident_record.pk, "amount": 5, "reason": "x", "token": "t"},
    )
    assert response.status_code == 404
    assert "王吉福" not in client.get(award_url(people.community), {"q": "王"}).text
    response = post_award(client, people, resident=people.other_resident_record.pk)
    assert response.status_code == 400 and "Search for the resident and choose them." in response.text
    assert balances(people) == (100, 0)
    assert not LedgerTransaction.objects.filter(idempotency_key__startswith="award:").exists()


@pytest.mark.parametrize("who", ["outsider", "resident", "street_officer", "provider_staff", "grid_worker"])
def test_the_award_page_is_404_to_those_who_may_not_award_here(people, login, funded, who):
    client = login(getattr(people, who))
    assert client.get(award_url(people.community)).status_code == 404
    assert post_award(client, people).status_code == 404
    assert balances(people) == (100, 0)


def test_a_region_that_is_not_a_community_is_404(people, login):
    assert login(people.community_worker).get(award_url(people.building)).status_code == 404


def test_only_the_secretary_funds_the_budget(people, login, funded):
    worker = login(people.community_worker)
    assert 'data-testid="fund-form"' not in worker.get(award_url(people.community)).text
    response = worker.post(award_url(people.community), {"action": "fund", "amount": 50, "token": "f1"})
    assert response.status_code == 404 and balances(people) == (100, 0)

    secretary = login(people.community_secretary)
    assert 'data-testid="fund-form"' in secretary.get(award_url(people.community)).text
    for _ in range(2):
        response = secretary.post(
            award_url(people.community), {"action": "fund", "amount": 50, "token": "f1"}
        )
        assert response.status_code == 302
    assert balances(people) == (150, 0)


def test_a_bad_funding_amount_changes_nothing(people, login, funded):
    client = login(people.community_secretary)
    response = client.post(award_url(people.community), {"action": "fund", "amount": 0, "token": "f1"})
    assert response.status_code == 400
    assert "Enter a whole number of points greater than zero." in response.text
    assert balances(people) == (100, 0)


def test_the_award_page_queries_do_not_grow_with_awards(people, login, funded, django_assert_max_num_queries):
    client = login(people.community_worker)
    post_award(client, people, token="0", amount=1)
    with CaptureQueriesContext(connection) as few:
        client.get(award_url(people.community), {"q": "张"})
    for number in range(1, 30):
        award(people, 1, f"award:{number}")
    with django_assert_max_num_queries(len(few)):
        response = client.get(award_url(people.community), {"q": "张"})
    assert len(rows_text(response.text, "recent-awards")) == 20


# Settings -----------------------------------------------------------------------------------------------


def settings_url(community) -> str:
    return reverse("volunteering:settings", args=[community.pk])


def test_the_secretary_sets_expiry_and_the_certificate_signers(people, login):
    client = login(people.community_secretary)
    assert client.get(settings_url(people.community)).status_code == 200
    response = client.post(
        settings_url(people.community),
        {
            "points_expire_after_years": "2",
            "person_in_charge": "王主任",
            "handler_name": "李干事",
            "handler_contact": "028-87654321",
        },
    )
    assert response.status_code == 302
    row = VolunteeringSettings.objects.get(community=people.community)
    assert (row.points_expire_after_years, row.person_in_charge, row.handler_name, row.handler_contact) == (
        2,
        "王主任",
        "李干事",
        "028-87654321",
    )
    page = client.get(settings_url(people.community)).text
    assert 'value="王主任"' in page and "The settings are saved." in page


@pytest.mark.parametrize("years", ["0", "-1", "abc", "51"])
def test_a_bad_expiry_shows_the_error_and_changes_nothing(people, login, years):
    name_signers(people)
    response = login(people.community_secretary).post(
        settings_url(people.community),
        {
            "points_expire_after_years": years,
            "person_in_charge": "新主任",
            "handler_name": "x",
            "handler_contact": "y",
        },
    )
    assert response.status_code == 400 and 'class="field-error"' in response.text
    row = VolunteeringSettings.objects.get(community=people.community)
    assert (row.points_expire_after_years, row.person_in_charge) == (None, "王主任")


@pytest.mark.parametrize("who", ["community_worker", "outsider", "street_officer", "resident"])
def test_the_settings_are_404_to_all_but_the_secretary(people, login, who):
    client = login(getattr(people, who))
    assert client.get(settings_url(people.community)).status_code == 404
    response = client.post(settings_url(people.community), {"person_in_charge": "冒名"})
    assert response.status_code == 404
    assert not VolunteeringSettings.objects.filter(person_in_charge="冒名").exists()
