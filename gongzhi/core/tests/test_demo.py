import datetime
import random
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import gettext

from conftest import VALID_CREDIT_CODES
from gongzhi.core.demo import (
    CREDIT_CODE_PREFIXES,
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    fake_credit_code,
    fake_id_number,
    fake_mobile,
    fake_name,
    organisation_code_check_char,
    plan_district,
)
from gongzhi.core.models import (
    Household,
    Organisation,
    Region,
    Resident,
    ResidentClaim,
    ResidentInvitation,
    ResidentTag,
    RoleAssignment,
    User,
)
from gongzhi.core.roles import Role
from gongzhi.core.services import claim_approve
from gongzhi.core.validators import (
    id_number_birth_date,
    id_number_sex,
    validate_credit_code,
    validate_id_number,
    validate_mobile,
)

HOUSEHOLDS = 12
MOBILES = {person.key: person.mobile for person in DEMO_ACCOUNTS}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", households=HOUSEHOLDS, stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (Region, Household, Resident, ResidentTag, Organisation, User, RoleAssignment)}


def account(key: str) -> User:
    return User.objects.get_by_natural_key(MOBILES[key])


@pytest.mark.django_db
def test_it_builds_the_three_communities_of_the_report_with_households_and_residents():
    seed()
    paths = {
        "清波社区": ["成都市", "青羊区", "苏坡街道", "清波社区"],
        "吉福社区": ["成都市", "武侯区", "晋阳街道", "吉福社区"],
        "金鱼街社区": ["成都市", "金牛区", "抚琴街道", "金鱼街社区"],
    }
    for community in Region.objects.filter(level=Region.Level.COMMUNITY):
        ancestors = Region.objects.filter(pk__in=community.ancestor_ids()).order_by("depth")
        assert [region.name for region in ancestors] == paths.pop(community.name)
        subtree = Region.objects.filter(path__startswith=community.path)
        assert 2 <= subtree.filter(level=Region.Level.GRID).count() <= 3
        assert subtree.filter(level=Region.Level.COMPOUND).count() >= 4
        assert all(re.fullmatch(r"\d+栋", b.name) for b in subtree.filter(level=Region.Level.BUILDING))
        households = Household.objects.filter(community=community)
        assert households.count() == HOUSEHOLDS
        rooms = households.values_list("number", flat=True)
        assert all(re.fullmatch(r"\d-\d{3,4}", room) for room in rooms)
        assert Resident.objects.filter(community=community).count() > HOUSEHOLDS
    assert paths == {}
    assert not Resident.objects.filter(household=None).exists()


@pytest.mark.django_db
def test_every_id_number_passes_gb11643_and_agrees_with_birth_date_and_sex():
    seed()
    residents = list(Resident.objects.all())
    assert len({resident.id_number for resident in residents}) == len(residents)
    for resident in residents:
        validate_id_number(resident.id_number)
        assert resident.id_number.startswith("51")  # registered in Sichuan
        assert id_number_birth_date(resident.id_number) == resident.birth_date
        assert id_number_sex(resident.id_number) == resident.sex


@pytest.mark.django_db
def test_every_phone_is_a_valid_mobile_and_some_residents_have_none():
    seed()
    phones = [resident.phone for resident in Resident.objects.all()]
    for phone in filter(None, phones):
        validate_mobile(phone)
    assert "" in phones


@pytest.mark.django_db
def test_every_credit_code_passes_gb32100_and_every_kind_of_organisation_is_there():
    seed()
    organisations = list(Organisation.objects.all())
    for organisation in organisations:
        validate_credit_code(organisation.credit_code)
    kinds = [organisation.kind for organisation in organisations]
    assert kinds.count("residents_committee") == 3
    assert kinds.count("work_unit") == 2
    assert {"street_office", "social_work_agency", "social_enterprise", "property_company"} <= set(kinds)
    committees = Organisation.objects.filter(kind="residents_committee")
    assert {committee.region.level for committee in committees} == {"community"}


@pytest.mark.django_db
def test_each_demo_account_signs_in_with_the_demo_password_and_holds_its_role(client):
    seed()
    qingbo = Region.objects.get(name="清波社区")
    expected = {
        "building_leader": (Role.BUILDING_LEADER, "building"),
        "compound_leader": (Role.COMPOUND_LEADER, "compound"),
        "grid_worker": (Role.GRID_WORKER, "grid"),
        "community_worker": (Role.COMMUNITY_WORKER, "清波社区"),
        "community_secretary": (Role.COMMUNITY_SECRETARY, "清波社区"),
        "street_officer": (Role.STREET_OFFICER, "苏坡街道"),
        "district_officer": (Role.DISTRICT_OFFICER, "青羊区"),
        "provider_staff": (Role.PROVIDER_STAFF, "social_work_agency"),
        "work_unit_staff": (Role.WORK_UNIT_STAFF, "work_unit"),
    }
    for person in DEMO_ACCOUNTS:
        assert client.login(username=person.mobile, password=DEMO_PASSWORD), person.key
        client.logout()
        user = account(person.key)
        assert user.name == person.name
        assignments = list(user.role_assignments.select_related("region", "organisation"))
        if person.key not in expected:
            assert assignments == []
            continue
        role, scope = expected[person.key]
        [assignment] = assignments
        assert assignment.role == role
        if assignment.organisation:
            assert assignment.organisation.kind == scope
        else:
            assert scope in (assignment.region.name, assignment.region.level)
            assert assignment.region.is_within(qingbo) or qingbo.is_within(assignment.region)
    admin = account("admin")
    assert admin.is_superuser and admin.is_staff
    assert not client.login(username=MOBILES["resident"], password="wrong-password")


@pytest.mark.django_db
def test_the_resident_account_is_linked_to_its_verified_record_in_qingbo():
    seed()
    record = account("resident").resident
    assert record.community.name == "清波社区"
    assert record.phone == MOBILES["resident"]
    assert record.verified_at is not None
    assert record.household.members.count() > 1
    assert record.household.number == "2-401"


@pytest.mark.django_db
def test_most_residents_have_no_account_among_them_elderly_living_alone():
    seed()
    without_account = Resident.objects.filter(user=None)
    assert without_account.count() > Resident.objects.exclude(user=None).count()
    assert without_account.filter(tags__tag="living_alone").filter(tags__tag="elderly").exists()
    assert {"elderly", "living_alone", "child"} <= set(ResidentTag.objects.values_list("tag", flat=True))


@pytest.mark.django_db
def test_the_pending_claim_approves_onto_the_existing_roster_record():
    seed()
    claim = ResidentClaim.objects.get(status=ResidentClaim.Status.PENDING)
    assert claim.community.name == "清波社区"
    residents_before = Resident.objects.count()

    resident = claim_approve(decided_by=account("community_secretary"), claim=claim)

    resident.refresh_from_db()
    assert resident.user == account("claimant")
    assert resident.name == "李晓燕" and resident.household.number == "2-602"
    assert Resident.objects.count() == residents_before


@pytest.mark.django_db
def test_it_prints_the_accounts_and_an_unused_invitation_for_an_elderly_resident_without_account():
    output = seed()
    for person in DEMO_ACCOUNTS:
        assert re.search(rf"{person.name}\s+{person.mobile}\s+{DEMO_PASSWORD}", output)
    invitation = ResidentInvitation.objects.get()
    assert invitation.code in output
    assert invitation.used_at is None and invitation.resident.user is None
    assert set(invitation.resident.tags.values_list("tag", flat=True)) >= {"elderly", "living_alone"}


@pytest.mark.django_db
def test_its_notifications_lead_their_readers_to_pages_they_may_open(login):
    seed()
    for key in ("resident", "community_worker", "building_leader"):
        [notification] = account(key).notifications.all()
        assert login(account(key)).get(notification.url).status_code == 200, key


@pytest.mark.django_db
def test_it_does_nothing_the_second_time_with_if_empty():
    seed(if_empty=True)
    before = counts()

    output = seed(if_empty=True)

    assert counts() == before
    assert gettext("The database already holds regions; the demo district was not loaded.") in output


@pytest.mark.django_db
def test_it_refuses_to_load_into_a_database_that_has_regions(people):
    before = counts()
    with pytest.raises(CommandError):
        seed()
    assert counts() == before


@pytest.mark.django_db
def test_it_refuses_too_few_households():
    with pytest.raises(CommandError):
        call_command("seed_demo", households=3, stdout=StringIO())
    assert not Region.objects.exists()


def test_the_same_seed_plans_the_same_district_whatever_the_date():
    def people(seed, today):
        plans = plan_district(households=10, seed=seed, today=today)
        households = [household for plan in plans for household in plan.households]
        return [(h.room, [(p.name, p.phone, p.id_number[:6]) for p in h.members]) for h in households]

    this_year = people(7, datetime.date(2026, 3, 1))
    assert people(7, datetime.date(2026, 3, 1)) == this_year
    assert people(7, datetime.date(2031, 9, 30)) == this_year  # only birth years move on
    assert people(8, datetime.date(2026, 3, 1)) != this_year


def test_fake_id_numbers_pass_gb11643_and_carry_the_sex():
    rng = random.Random(1)
    for n in range(500):
        born = datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(35000))
        sex = "MF"[n % 2]
        number = fake_id_number(rng, "510105", born, sex)
        validate_id_number(number)
        assert number[:6] == "510105"
        assert id_number_birth_date(number) == born
        assert id_number_sex(number) == sex


@pytest.mark.parametrize("kind", list(CREDIT_CODE_PREFIXES))
def test_fake_credit_codes_pass_gb32100_for_every_kind(kind):
    rng = random.Random(kind)
    for _n in range(50):
        code = fake_credit_code(rng, kind, "510106")
        validate_credit_code(code)
        assert code[:2] == CREDIT_CODE_PREFIXES[kind] and code[2:8] == "510106"
        assert organisation_code_check_char(code[8:16]) == code[16]


def test_it_computes_the_gb11714_organisation_code_check_character():
    # The organisation codes inside two known-good credit codes.
    assert [organisation_code_check_char(code[8:16]) for code in VALID_CREDIT_CODES[:2]] == ["4", "2"]


def test_fake_mobiles_and_names_look_real():
    rng = random.Random(2)
    for _n in range(200):
        validate_mobile(fake_mobile(rng))
        name = fake_name(rng, "F", 1950)
        assert 2 <= len(name) <= 3
    assert fake_name(rng, "M", 2010, surname="周").startswith("周")
