"""The participation ladder: residents at each step over two years counted by hand (who moved up, by group and
by region), each app's `resident_ids_active`, periods, who may see it, and a query count that does not grow.

The roster, in 阶梯社区's 1栋 (30 residents) and 2栋 (5 children, who did nothing):

    residents  2024 (previous)        2025 (this period)                 moved up
    R0-R4      nothing                1 booked a space                   yes
    R5-R9      2 answered a survey    2 answered a survey                no
    R10-R14    1 booked a space       3 reported a matter                yes
    R15-R19    5 volunteered          4 co-signed or voted               no (down)
    R20-R24    3 reported a matter    5 volunteered (and booked)         yes   born 1950: elderly
    R25-R29    2 answered a survey    nothing that counts                no
"""

import datetime
import itertools
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from gongzhi.analysis.ladder import participation_ladder, period_parse
from gongzhi.analysis.models import SurveyParticipation
from gongzhi.consultations.models import (
    Ballot,
    BallotReceipt,
    Consultation,
    CoSign,
    Motion,
    Participant,
    RollEntry,
    RuleSet,
)
from gongzhi.consultations.selectors import resident_ids_active as consultation_ids
from gongzhi.core.models import Resident, User
from gongzhi.core.services import region_create
from gongzhi.matters import services as matter_services
from gongzhi.matters.models import Category
from gongzhi.matters.selectors import resident_ids_active as matter_ids
from gongzhi.sharing.models import Booking, Resource
from gongzhi.sharing.selectors import resident_ids_active as booking_ids
from gongzhi.volunteering.models import Activity, SignUp, VolunteerProfile
from gongzhi.volunteering.selectors import resident_ids_active as volunteer_ids

THIS, LAST = period_parse("2025"), period_parse("2024")
TODAY = datetime.date(2025, 12, 31)
numbers = itertools.count(1)


def at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


class Make:
    """Each step's record for a resident, made directly: the apps' own tests cover how they come about."""

    def __init__(self, people, community):
        self.people, self.community = people, community
        admin = people.admin
        self.resource = Resource.objects.create(
            community=community,
            region=community,
            kind="hall",
            name="阶梯议事厅",
            address="阶梯路1号",
            created_by=admin,
        )
        rules = RuleSet.objects.create(region=community, name="阶梯议事规则", created_by=admin)
        self.consultation = Consultation.objects.create(
            community=community,
            rule_set=rules,
            title="加装电梯",
            description="1栋加装电梯",
            origin="resident",
            proposed_by=admin,
            stage="decided",
            code_secret="secret",
        )
        self.motion = Motion.objects.create(consultation=self.consultation, number=1, text="同意加装")
        self.secret_motion = Motion.objects.create(consultation=self.consultation, number=2, text="分摊方案")
        matter_services.default_categories_install()
        self.category = Category.objects.get(community=None, code="repairs")

    def booking(self, resident, day, status="confirmed"):
        Booking.objects.create(
            resource=self.resource,
            booked_by=self.people.admin,
            resident=resident,
            starts_at=at(day),
            ends_at=at(day) + datetime.timedelta(hours=1),
            blocked_until=at(day) + datetime.timedelta(hours=1),
            release_at=at(day) + datetime.timedelta(minutes=15),
            exclusive=False,  # a shared hall: many bookings at once
            status=status,
            request_key=f"ladder-{next(numbers)}",
        )

    def survey(self, resident, day):
        SurveyParticipation.objects.create(resident=resident, month=day.replace(day=1))

    def matter(self, resident, day):
        """Half report themselves, half through a worker on their behalf."""
        if resident.pk % 2:
            user = User.objects.create_user(f"1370000{next(numbers):04d}", "x", name=resident.name)
            Resident.objects.filter(pk=resident.pk).update(user=user)
            matter_services.matter_report(
                entered_by=user,
                category=self.category,
                description="楼道灯坏了",
                region=resident.region,
                now=at(day),
            )
        else:
            matter_services.matter_report(
                entered_by=self.people.admin,
                category=self.category,
                description="楼道灯坏了",
                region=resident.region,
                on_behalf_of=resident,
                now=at(day),
            )

    def cosign(self, resident, day):
        CoSign.objects.create(
            consultation=self.consultation, user=self.people.admin, resident=resident, at=at(day)
        )

    def _voter(self, resident):
        participant = Participant.objects.create(
            consultation=self.consultation, kind="resident", resident=resident, name=resident.name
        )
        return RollEntry.objects.create(consultation=self.consultation, participant=participant)

    def ballot(self, resident, day):
        Ballot.objects.create(motion=self.motion, voter=self._voter(resident), choice="yes", cast_at=at(day))

    def secret_ballot(self, resident, day):
        """A secret ballot keeps no time: it counts when its consultation's voting opened."""
        Consultation.objects.filter(pk=self.consultation.pk).update(voting_opened_at=at(day))
        BallotReceipt.objects.create(id=uuid.uuid4(), motion=self.secret_motion, voter=self._voter(resident))

    def volunteered(self, resident, day, **signup):
        activity = Activity.objects.create(
            community=self.community,
            region=self.community,
            title=f"清扫{next(numbers)}",
            place="阶梯广场",
            starts_at=at(day),
            ends_at=at(day) + datetime.timedelta(hours=2),
            cancel_deadline=at(day),
            capacity=50,
            code_secret="secret",
            created_by=self.people.admin,
        )
        volunteer, _created = VolunteerProfile.objects.get_or_create(
            resident=resident, defaults={"number": f"V{resident.pk}", "qr_token": f"q{resident.pk}"}
        )
        fields = {"status": "confirmed", "checked_in_at": at(day)} | signup
        SignUp.objects.create(activity=activity, volunteer=volunteer, **fields)


@pytest.fixture
def town(people):
    community = region_create(parent=people.street, name="阶梯社区", level="community")
    building = region_create(parent=community, name="阶梯1栋", level="building")
    building_2 = region_create(parent=community, name="阶梯2栋", level="building")
    residents = [
        Resident.objects.create(
            community=community,
            region=building,
            name=f"R{number}",
            birth_date=datetime.date(1950, 1, 1) if 20 <= number < 25 else datetime.date(1990, 1, 1),
        )
        for number in range(30)
    ]
    children = [
        Resident.objects.create(
            community=community, region=building_2, name=f"C{number}", birth_date=datetime.date(2015, 1, 1)
        )
        for number in range(5)
    ]
    make = Make(people, community)
    spring, autumn = datetime.date(2025, 3, 10), datetime.date(2024, 10, 10)
    for resident in residents[0:5]:
        make.booking(resident, spring)
    for resident in residents[5:10]:
        make.survey(resident, spring)
        make.survey(resident, autumn)
    for resident in residents[10:15]:
        make.matter(resident, spring)
        make.booking(resident, autumn)
    for resident, record in zip(
        residents[15:20], ["cosign", "cosign", "cosign", "ballot", "secret_ballot"], strict=True
    ):
        getattr(make, record)(resident, spring)
        make.volunteered(resident, autumn)
    for resident in residents[20:25]:
        make.volunteered(resident, spring)
        make.booking(resident, spring)
        make.matter(resident, autumn)
    for resident in residents[25:30]:
        make.survey(resident, autumn)
    # What does not count: a cancelled booking, a rejected sign-up, a booking of someone living elsewhere.
    make.booking(residents[25], spring, status="cancelled")
    make.volunteered(
        residents[26],
        spring,
        verification="rejected",
        verified_at=at(spring),
        hours=0,
    )
    make.booking(people.other_resident_record, spring)
    return community, building, building_2, residents, children


def ladder_of(region, group=""):
    return participation_ladder(region, THIS.start, THIS.end, LAST.start, LAST.end, group, today=TODAY)


def figures(row):
    return [(rung.count, rung.at_or_above) for rung in row.rungs]


def test_it_puts_each_resident_at_their_highest_step(town):
    community, *_rest = town
    ladder = ladder_of(community)
    assert ladder.total.residents == 35
    assert figures(ladder.total) == [(5, 25), (5, 20), (5, 15), (5, 10), (5, 5)]
    assert ladder.total.active == 25
    assert ladder.total.rungs[4].share == Decimal("0.143")  # 5 of 35


def test_it_counts_who_moved_up_by_hand(town):
    community, *_rest = town
    assert ladder_of(community).total.moved_up == 15  # R0-R4, R10-R14, R20-R24


def test_it_breaks_down_by_region_below(town):
    community, building, building_2, *_rest = town
    by_region = {row.key: row for row in ladder_of(community).by_region}
    assert by_region[str(building.pk)].residents == 30
    assert figures(by_region[str(building.pk)])[0] == (5, 25)
    assert by_region[str(building_2.pk)].residents == 5
    assert by_region[str(building_2.pk)].active == 0


def test_it_breaks_down_by_group_and_suppresses_small_counts(town):
    community, *_rest = town
    by_group = {row.key: row for row in ladder_of(community).by_group}
    elderly = by_group["elderly"]
    assert elderly.residents == 5 and figures(elderly)[4] == (5, 5) and elderly.moved_up == 5
    children = by_group["children"]
    assert children.residents == 5 and children.active == 0
    assert by_group["disability"].residents == 0


def test_it_narrows_to_one_group(town):
    community, *_rest = town
    ladder = ladder_of(community, group="elderly")
    assert ladder.total.residents == 5
    assert figures(ladder.total) == [(0, 5), (0, 5), (0, 5), (0, 5), (5, 5)]


def test_it_suppresses_counts_under_five(town):
    community, building, building_2, residents, children = town
    SurveyParticipation.objects.filter(resident__in=residents[5:7], month__year=2025).delete()
    ladder = ladder_of(community)
    assert ladder.total.rungs[1].count is None and ladder.total.rungs[1].share is None  # 3 left at step 2
    assert ladder.total.rungs[1].at_or_above == 18


def test_it_reads_a_quarter_against_the_one_before(town):
    community, *_rest = town
    quarter = period_parse("2025-Q1")
    previous = quarter.previous
    assert (previous.code, previous.start, previous.end) == (
        "2024-Q4",
        datetime.date(2024, 10, 1),
        datetime.date(2025, 1, 1),
    )
    ladder = participation_ladder(community, quarter.start, quarter.end, previous.start, previous.end)
    assert figures(ladder.total)[0] == (5, 25)
    assert ladder.total.moved_up == 15


@pytest.mark.parametrize("code", ["2025-Q5", "25", "2025Q1", "1999", ""])
def test_it_refuses_a_period_it_cannot_read(code):
    with pytest.raises(ValueError):
        period_parse(code)


def test_it_computes_the_ladder_in_two_queries(town, django_assert_num_queries):
    community, *_rest = town
    with django_assert_num_queries(2):
        ladder_of(community)


# Each app's step ------------------------------------------------------------------------------------------


def ids(queryset) -> set[int]:
    return {next(iter(row.values())) for row in queryset}


def test_each_app_names_the_residents_active_in_the_period(town):
    community, building, building_2, residents, children = town
    begin, end = (
        timezone.make_aware(datetime.datetime.combine(day, datetime.time())) for day in (THIS.start, THIS.end)
    )
    pks = [resident.pk for resident in residents]
    assert ids(booking_ids(community, begin, end)) == set(pks[0:5] + pks[20:25])
    assert ids(matter_ids(community, begin, end)) == set(pks[10:15])
    assert ids(consultation_ids(community, begin, end)) == set(pks[15:20])
    assert ids(volunteer_ids(community, begin, end)) == set(pks[20:25])
    assert ids(volunteer_ids(building_2, begin, end)) == set()


# The page ------------------------------------------------------------------------------------------------


def test_street_officer_sees_the_ladder(people, login, town):
    community, *_rest = town
    page = login(people.street_officer).get(
        reverse("analysis:ladder"), {"region": community.pk, "period": "2025"}
    )
    assert page.status_code == 200
    assert page.context["ladder"].total.moved_up == 15
    text = page.content.decode()
    assert 'id="ladder-data"' in text and 'data-testid="ladder-by-region"' in text
    assert "Participation ladder" in text


def test_a_bad_period_is_refused_clearly(people, login, town):
    community, *_rest = town
    page = login(people.street_officer).get(
        reverse("analysis:ladder"), {"region": community.pk, "period": "2025-Q7"}
    )
    assert page.status_code == 400
    assert "a quarter such as 2025-Q2" in str(page.context["form"].errors["period"])


@pytest.mark.parametrize("persona", ["community_worker", "outsider", "resident"])
def test_a_region_outside_the_users_scope_is_404(people, login, town, persona):
    community, *_rest = town
    response = login(getattr(people, persona)).get(reverse("analysis:ladder"), {"region": community.pk})
    assert response.status_code == 404


def test_a_resident_gets_404_without_a_region(people, login):
    assert login(people.resident).get(reverse("analysis:ladder")).status_code == 404


def test_the_surveys_page_links_both_pages(people, login):
    text = login(people.community_worker).get(reverse("analysis:surveys")).content.decode()
    assert reverse("analysis:profile") in text and reverse("analysis:ladder") in text


def test_the_page_costs_the_same_queries_whatever_the_roster(
    people, login, town, django_assert_max_num_queries
):
    community, building, *_rest = town
    client = login(people.street_officer)
    url = reverse("analysis:ladder")
    with CaptureQueriesContext(connection) as small:
        client.get(url, {"region": people.street.pk, "period": "2025"})
    Resident.objects.bulk_create(
        Resident(community=community, region=building, name=f"新居民{number}") for number in range(50)
    )
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url, {"region": people.street.pk, "period": "2025"}).status_code == 200
    assert len(small.captured_queries) <= 12
