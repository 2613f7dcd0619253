"""The volunteer record: profiles, notes (training, honours, evaluations) and certificates (志愿服务记录证明),
which are snapshots the database refuses to change."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from gongzhi.core.exceptions import ServiceError
from gongzhi.volunteering import services
from gongzhi.volunteering.models import Certificate, RecordNote, VolunteerProfile
from gongzhi.volunteering.selectors import certificate_by_number, service_record

pytestmark = pytest.mark.usefixtures("english_messages")

HOUR = datetime.timedelta(hours=1)


def served(people, activity, resident, *, decision="approve", **fields):
    """Signs up, attends the whole activity and has the hours verified."""
    signup = services.signup_create(
        activity=activity, resident=resident, now=activity.starts_at - datetime.timedelta(days=1)
    )
    signup = services.attendance_mark(
        signup=signup, by=people.community_worker, action="check_in", now=activity.starts_at
    )
    signup = services.attendance_mark(
        signup=signup, by=people.community_worker, action="check_out", now=activity.ends_at
    )
    return services.hours_verify(
        signup=signup, by=people.community_worker, decision=decision, now=activity.ends_at, **fields
    )


@pytest.fixture
def signers(people):
    return services.settings_update(
        community=people.community,
        by=people.community_secretary,
        points_expire_after_years=None,
        person_in_charge="王书记",
        handler_name="刘干事",
        handler_contact="028-87654321",
    )


# Profiles -----------------------------------------------------------------------------------------------


def test_a_volunteer_profile_is_made_once_with_a_number_and_a_personal_token(people):
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    assert volunteer.number == f"ZY{people.community.pk:05d}{people.resident_record.pk:08d}"
    assert len(volunteer.qr_token) >= 32
    assert services.volunteer_profile_for(resident=people.resident_record) == volunteer
    assert VolunteerProfile.objects.count() == 1
    other = services.volunteer_profile_for(resident=people.neighbour_record)
    assert other.qr_token != volunteer.qr_token


def test_a_volunteer_updates_skills_and_the_honour_roll_choice(people):
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    services.volunteer_profile_update(volunteer=volunteer, skills="  理发、维修 ", on_honour_roll=True)
    volunteer.refresh_from_db()
    assert (volunteer.skills, volunteer.on_honour_roll) == ("理发、维修", True)
    with pytest.raises(ServiceError, match="At most 200 characters") as refused:
        services.volunteer_profile_update(volunteer=volunteer, skills="修" * 201, on_honour_roll=False)
    assert refused.value.field == "skills"
    volunteer.refresh_from_db()
    assert (volunteer.skills, volunteer.on_honour_roll) == ("理发、维修", True)


# Record notes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["training", "honour", "evaluation"])
def test_community_staff_add_notes_to_a_record(people, kind):
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    note = services.record_note_add(
        volunteer=volunteer,
        by=people.community_worker,
        kind=kind,
        title=" 急救培训 ",
        detail="红十字会",
        on_date=datetime.date(2025, 5, 1),
    )
    assert (note.kind, note.title, note.community, note.recorded_by) == (
        kind,
        "急救培训",
        people.community,
        people.community_worker,
    )


@pytest.mark.parametrize("who", ["resident", "outsider", "street_officer", "provider_staff", "grid_worker"])
def test_only_staff_of_the_volunteers_community_add_notes(people, who):
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    with pytest.raises(
        ServiceError, match="Only staff of the volunteer's community can add to their record."
    ):
        services.record_note_add(
            volunteer=volunteer,
            by=getattr(people, who),
            kind="honour",
            title="优秀志愿者",
            on_date=datetime.date.today(),
        )
    assert not RecordNote.objects.exists()


def test_it_refuses_a_note_of_an_unknown_kind_or_without_a_title(people):
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    for kind, title in (("gossip", "传言"), ("training", "  ")):
        with pytest.raises(ServiceError):
            services.record_note_add(
                volunteer=volunteer,
                by=people.community_worker,
                kind=kind,
                title=title,
                on_date=datetime.date.today(),
            )
    assert not RecordNote.objects.exists()


# Settings -----------------------------------------------------------------------------------------------


def test_only_the_secretary_changes_the_certificate_signers_and_expiry(people):
    with pytest.raises(ServiceError, match="Only the community secretary can change these settings."):
        services.settings_update(
            community=people.community,
            by=people.community_worker,
            points_expire_after_years=2,
            person_in_charge="王书记",
            handler_name="刘干事",
            handler_contact="028-87654321",
        )
    assert services.settings_for(people.community).points_expire_after_years is None


# Certificates -------------------------------------------------------------------------------------------


def test_it_needs_verified_hours_to_certify(people, activity, signers):
    services.volunteer_profile_for(resident=people.resident_record)
    # Read back, as a page would: the fixture's record does not know its account.
    volunteer = VolunteerProfile.objects.get(resident=people.resident_record)
    with pytest.raises(ServiceError, match="There are no verified hours to certify yet."):
        services.certificate_issue(volunteer=volunteer, by=people.resident)
    # Rejected hours and hours still pending do not count.
    served(people, activity, people.resident_record, decision="reject", reason="代签")
    with pytest.raises(ServiceError, match="There are no verified hours to certify yet."):
        services.certificate_issue(volunteer=volunteer, by=people.resident)
    assert not Certificate.objects.exists()


def test_it_needs_the_community_to_name_who_signs(people, activity):
    served(people, activity, people.resident_record)
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    with pytest.raises(ServiceError, match="The community has not yet named who signs its certificates"):
        services.certificate_issue(volunteer=volunteer, by=people.community_worker)
    assert not Certificate.objects.exists()


def test_a_certificate_is_a_snapshot_of_the_record_with_the_id_masked(
    people, activity, make_activity, signers
):
    served(people, activity, people.resident_record)
    later = make_activity(points=1, title="关爱老人")
    served(people, later, people.resident_record, decision="adjust", hours="1.5", reason="提前离开")
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    issued_at = later.ends_at + datetime.timedelta(days=1)

    certificate = services.certificate_issue(volunteer=volunteer, by=people.resident, now=issued_at)

    assert re.fullmatch(r"ZYZM-\d{4}-[A-HJ-NP-Z2-9]{8}", certificate.number)
    assert (certificate.name, certificate.id_type, certificate.id_number_masked) == (
        "张居民",
        "Resident identity card",
        "110***********4477",
    )
    assert "199003" not in certificate.id_number_masked
    assert (certificate.volunteer_number, certificate.hours, certificate.activities) == (
        volunteer.number,
        Decimal("3.5"),
        2,
    )
    assert certificate.content.splitlines()[0].endswith("清理楼道 (清波社区) 2.00")
    assert certificate.content.splitlines()[1].endswith("关爱老人 (清波社区) 1.50")
    assert (certificate.period_start, certificate.period_end) == (
        timezone.localtime(activity.starts_at).date(),
        timezone.localtime(later.starts_at).date(),
    )
    assert (
        certificate.issuer,
        certificate.person_in_charge,
        certificate.handler_name,
        certificate.handler_contact,
    ) == (
        "清波社区",
        "王书记",
        "刘干事",
        "028-87654321",
    )
    assert (certificate.issued_at, certificate.issued_by) == (issued_at, people.resident)
    assert certificate_by_number(f" {certificate.number.lower()} ") == certificate
    assert certificate_by_number("ZYZM-2025-XXXXXXXX") is None


def test_a_certificate_names_the_organisation_that_ran_the_activity(people, make_activity, signers):
    run_by_agency = make_activity(by=people.provider_staff, organisation=people.agency, title="长者探访")
    signup = services.signup_create(
        activity=run_by_agency,
        resident=people.resident_record,
        now=run_by_agency.starts_at - datetime.timedelta(days=1),
    )
    services.attendance_mark(
        signup=signup, by=people.provider_staff, action="check_in", now=run_by_agency.starts_at
    )
    services.hours_verify(
        signup=signup, by=people.provider_staff, decision="approve", now=run_by_agency.ends_at
    )
    certificate = services.certificate_issue(
        volunteer=services.volunteer_profile_for(resident=people.resident_record), by=people.community_worker
    )
    assert "长者探访 (青羊社工中心) 2.00" in certificate.content


def test_a_certificate_keeps_what_it_certified_after_the_record_changes(
    people, activity, make_activity, signers
):
    served(people, activity, people.resident_record)
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    certificate = services.certificate_issue(volunteer=volunteer, by=people.community_worker)
    services.settings_update(
        community=people.community,
        by=people.community_secretary,
        points_expire_after_years=None,
        person_in_charge="新书记",
        handler_name="新干事",
        handler_contact="028-11111111",
    )
    served(people, make_activity(points=1), people.resident_record)

    kept = Certificate.objects.get(pk=certificate.pk)
    assert (kept.hours, kept.activities, kept.person_in_charge) == (Decimal(2), 1, "王书记")
    reissued = services.certificate_issue(volunteer=volunteer, by=people.community_worker)
    assert (reissued.hours, reissued.activities, reissued.person_in_charge) == (Decimal(4), 2, "新书记")
    assert reissued.number != certificate.number


@pytest.mark.parametrize("who", ["outsider", "street_officer", "provider_staff"])
def test_only_the_volunteer_or_their_communitys_staff_issue_a_certificate(people, activity, signers, who):
    served(people, activity, people.resident_record)
    with pytest.raises(
        ServiceError, match="Only the volunteer or their community's staff can issue a certificate."
    ):
        services.certificate_issue(
            volunteer=services.volunteer_profile_for(resident=people.resident_record), by=getattr(people, who)
        )
    assert not Certificate.objects.exists()


def test_another_resident_cannot_issue_someone_elses_certificate(people, activity, signers, make_resident):
    served(people, activity, people.neighbour_record)
    with pytest.raises(ServiceError, match="Only the volunteer or their community's staff"):
        services.certificate_issue(
            volunteer=services.volunteer_profile_for(resident=people.neighbour_record), by=people.resident
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE volunteering_certificate SET hours = 999 WHERE id = %s",
        "UPDATE volunteering_certificate SET name = 'someone else' WHERE id = %s",
        "DELETE FROM volunteering_certificate WHERE id = %s",
    ],
    ids=["update-hours", "update-name", "delete"],
)
def test_the_database_refuses_to_change_or_delete_a_certificate(people, activity, signers, statement):
    served(people, activity, people.resident_record)
    certificate = services.certificate_issue(
        volunteer=services.volunteer_profile_for(resident=people.resident_record), by=people.community_worker
    )
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [certificate.pk])
    kept = Certificate.objects.get(pk=certificate.pk)
    assert (kept.hours, kept.name) == (Decimal(2), "张居民")


# The service record -------------------------------------------------------------------------------------


def test_the_service_record_lists_verified_sign_ups_oldest_first(people, activity, make_activity):
    later = make_activity(points=1, title="关爱老人")
    served(people, later, people.resident_record)
    served(people, activity, people.resident_record, decision="reject", reason="代签")
    pending = make_activity(points=1, title="未核")
    services.signup_create(
        activity=pending, resident=people.resident_record, now=pending.starts_at - datetime.timedelta(days=1)
    )
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    assert [(signup.activity.title, signup.verification) for signup in service_record(volunteer)] == [
        ("清理楼道", "rejected"),
        ("关爱老人", "approved"),
    ]
