"""Voting: the roll frozen when voting opens, one vote per voter, secret ballots that nothing joins to their
voter, hall tallies entered by one staff member and confirmed by a second, and results computed by the rule.
Bad input (a second vote, a vote after the close, an impossible tally) gets a clear error and changes
nothing."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from gongzhi.consultations import selectors, services
from gongzhi.consultations.models import (
    Ballot,
    BallotReceipt,
    Choice,
    Consultation,
    Event,
    HallTally,
    Participant,
    ParticipantKind,
    RollEntry,
    SecretTally,
    Stage,
    VoteUnit,
)
from gongzhi.consultations.rules import DecisionRule, QuorumBasis
from gongzhi.core.exceptions import ServiceError

pytestmark = pytest.mark.usefixtures("english_messages")

D = Decimal
HOUR = datetime.timedelta(hours=1)


def participant_of(consultation: Consultation, user) -> Participant:
    return Participant.objects.get(consultation=consultation, resident__user=user)


def vote(motion, user, choice: str, **kwargs) -> None:
    services.ballot_cast(motion=motion, by=user, choice=choice, **kwargs)


def kinds(consultation: Consultation) -> list[str]:
    return list(selectors.public_record(consultation).values_list("kind", flat=True))


@pytest.fixture
def sign_in(people):
    def sign(consultation, *users):
        for user in users:
            services.attendance_sign_in(
                consultation=consultation,
                participant=participant_of(consultation, user),
                by=people.community_worker,
            )

    return sign


@pytest.fixture
def leave(people):
    def go(consultation, *users):
        for user in users:
            services.attendance_leave(
                consultation=consultation,
                participant=participant_of(consultation, user),
                by=people.community_worker,
            )

    return go


@pytest.fixture
def secret_rules(people):
    return services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="无记名投票",
        notice_days=3,
        secret_ballot=True,
    )


@pytest.fixture
def owners_rules(people):
    """Civil Code art. 278: owners decide by head and by floor area; the meeting's quorum is half of them."""
    return services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="业主共同决定事项",
        notice_days=3,
        vote_unit=VoteUnit.OWNER,
        quorum_basis=QuorumBasis.PERSONS,
        quorum_share="0.5",
        decision_rule=DecisionRule.CIVIL_CODE_278,
    )


@pytest.fixture
def household_rules(people):
    return services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="一户一票",
        notice_days=3,
        vote_unit=VoteUnit.HOUSEHOLD,
        quorum_basis=QuorumBasis.HOUSEHOLDS,
    )


def close(people, consultation) -> Consultation:
    return services.voting_close(consultation=consultation, by=people.community_worker)


def result(motion) -> tuple[bool, dict]:
    motion.refresh_from_db()
    return motion.passed, motion.figures


# Opening the vote -------------------------------------------------------------------------------------------


def test_it_refuses_to_open_voting_before_the_notice(people, committee_topic):
    services.motion_add(consultation=committee_topic, by=people.community_worker, text="同意划线。")
    with pytest.raises(ServiceError, match="Send the notice and materials first"):
        services.voting_open(
            consultation=committee_topic, by=people.community_worker, closes_at=timezone.now() + HOUR
        )
    assert not RollEntry.objects.exists()


def test_it_refuses_to_open_voting_before_the_notice_period_has_passed(people, committee_topic):
    now = timezone.now()
    services.consultation_notice(
        consultation=committee_topic,
        by=people.community_worker,
        meeting_at=now + datetime.timedelta(days=1),
        materials="方案",
        now=now - datetime.timedelta(days=2),
    )
    services.motion_add(consultation=committee_topic, by=people.community_worker, text="同意划线。")
    with pytest.raises(ServiceError, match="The notice period has not passed yet"):
        services.voting_open(
            consultation=committee_topic, by=people.community_worker, closes_at=now + HOUR, now=now
        )
    committee_topic.refresh_from_db()
    assert (committee_topic.stage, committee_topic.voting_opened_at) == (Stage.PREPARING, None)
    assert not RollEntry.objects.exists()


def test_it_refuses_to_open_voting_without_a_motion(people, committee_topic):
    now = timezone.now()
    services.consultation_notice(
        consultation=committee_topic,
        by=people.community_worker,
        meeting_at=now - HOUR,
        materials="方案",
        now=now - datetime.timedelta(days=4),
    )
    with pytest.raises(ServiceError, match="Add at least one motion to vote on"):
        services.voting_open(consultation=committee_topic, by=people.community_worker, closes_at=now + HOUR)
    services.motion_add(consultation=committee_topic, by=people.community_worker, text="同意划线。")
    with pytest.raises(ServiceError, match="Voting must close in the future") as refused:
        services.voting_open(consultation=committee_topic, by=people.community_worker, closes_at=now - HOUR)
    assert refused.value.field == "closes_at"
    assert not RollEntry.objects.exists()


def test_only_the_communitys_staff_open_voting(people, committee_topic):
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.voting_open(
            consultation=committee_topic, by=people.resident, closes_at=timezone.now() + HOUR
        )


def test_the_roll_is_frozen_when_voting_opens(people, committee_topic, start_voting, make_resident):
    services.participant_add(
        consultation=committee_topic, by=people.community_worker, kind=ParticipantKind.EXPERT, name="王规划师"
    )
    start_voting(committee_topic)
    late = make_resident()
    with pytest.raises(ServiceError, match="cannot be done while the consultation is “Voting”"):
        services.participant_add(
            consultation=committee_topic,
            by=people.community_worker,
            kind=ParticipantKind.RESIDENT,
            resident=late.resident,
        )
    with pytest.raises(ServiceError, match="cannot be done while the consultation is “Voting”"):
        services.participants_add_region(
            consultation=committee_topic, by=people.community_worker, region=people.building
        )
    on_roll = set(committee_topic.roll.values_list("participant__name", flat=True))
    assert on_roll == {"张居民", "李奶奶"}  # the expert advises and does not vote
    with pytest.raises(ServiceError, match="not on this consultation's roll"):
        vote(committee_topic.motions.get(), late, Choice.YES)
    assert committee_topic.events.get(kind=Event.Kind.VOTING_OPENED).note == "2 on the roll"


def test_households_vote_through_their_head(
    people, household_rules, topic_with_voters, start_voting, make_resident
):
    consultation, _ = topic_with_voters(rules=household_rules)
    head = make_resident("张户主", room="1-101", is_household_head=True)  # 张居民's household
    other_head = make_resident("刘户主", room="1-102", is_household_head=True)
    services.participants_add_region(
        consultation=consultation, by=people.community_worker, region=people.building, households=True
    )
    services.participant_add(  # a resident participant holds no vote under one vote per household
        consultation=consultation,
        by=people.community_worker,
        kind=ParticipantKind.RESIDENT,
        resident=people.resident_record,
    )
    (motion,) = start_voting(consultation)
    assert sorted(consultation.roll.values_list("participant__name", flat=True)) == [
        "清波院落 1栋 1-101",
        "清波院落 1栋 1-102",
    ]

    vote(motion, head, Choice.YES)
    with pytest.raises(ServiceError) as refused:
        vote(motion, people.resident, Choice.NO)  # a member of the same household, not its head
    assert refused.value.message == "You are not on this consultation's roll of voters."
    vote(motion, other_head, Choice.NO)
    ballots = Ballot.objects.filter(motion=motion).values_list(
        "voter__participant__household__number", "choice"
    )
    assert sorted(ballots) == [("1-101", Choice.YES), ("1-102", Choice.NO)]


def test_owners_carry_their_floor_area_onto_the_roll(owners_rules, topic_with_voters, start_voting):
    consultation, _ = topic_with_voters(areas=[D("89.50"), D("120.25"), D("0")], rules=owners_rules)
    start_voting(consultation)
    assert sorted(consultation.roll.values_list("floor_area", flat=True)) == [D("0"), D("89.50"), D("120.25")]


def test_a_work_unit_owning_premises_votes_through_its_staff(
    people, owners_rules, topic_with_voters, start_voting
):
    consultation, (owner,) = topic_with_voters(areas=[D("100")], rules=owners_rules)
    services.participant_add(
        consultation=consultation,
        by=people.community_worker,
        kind=ParticipantKind.OWNER,
        organisation=people.work_unit,
        floor_area=D("300"),
    )
    (motion,) = start_voting(consultation)
    vote(motion, people.work_unit_staff, Choice.YES)
    with pytest.raises(ServiceError, match="not on this consultation's roll"):
        vote(motion, people.provider_staff, Choice.NO)
    ballot = Ballot.objects.get(motion=motion)
    assert (ballot.voter.participant.organisation, ballot.voter.floor_area) == (people.work_unit, D("300"))


@pytest.mark.parametrize("kind", [ParticipantKind.ORGANISATION, ParticipantKind.WORK_UNIT])
def test_an_organisation_taking_part_votes_through_its_staff(people, committee_topic, start_voting, kind):
    organisation = people.agency if kind == ParticipantKind.ORGANISATION else people.work_unit
    services.participant_add(
        consultation=committee_topic, by=people.community_worker, kind=kind, organisation=organisation
    )
    (motion,) = start_voting(committee_topic)
    staff = people.provider_staff if kind == ParticipantKind.ORGANISATION else people.work_unit_staff
    vote(motion, staff, Choice.YES)
    assert Ballot.objects.get(motion=motion).voter.participant.organisation == organisation


def test_a_person_is_on_the_roll_once_under_one_vote_per_person(people, committee_topic, start_voting):
    services.participant_add(
        consultation=committee_topic,
        by=people.community_worker,
        kind=ParticipantKind.REPRESENTATIVE,
        resident=people.resident_record,
    )
    start_voting(committee_topic)
    assert committee_topic.roll.count() == 2


# Casting ballots --------------------------------------------------------------------------------------------


def test_it_refuses_a_vote_from_someone_not_on_the_roll(people, committee_topic, start_voting, make_resident):
    (motion,) = start_voting(committee_topic)
    for user in (make_resident(), people.outsider, people.community_worker, people.provider_staff):
        with pytest.raises(ServiceError) as refused:
            vote(motion, user, Choice.YES)
        assert refused.value.message == "You are not on this consultation's roll of voters."
    assert not Ballot.objects.exists()


def test_an_open_ballot_is_cast_once(people, committee_topic, start_voting):
    (motion,) = start_voting(committee_topic)
    vote(motion, people.resident, Choice.YES)
    with pytest.raises(ServiceError) as refused:
        vote(motion, people.resident, Choice.NO)
    assert refused.value.message == "You have already voted on this motion."
    ballot = Ballot.objects.get()
    assert (ballot.motion, ballot.voter.participant.resident, ballot.choice) == (
        motion,
        people.resident_record,
        Choice.YES,
    )


def test_a_secret_ballot_is_cast_once(secret_rules, topic_with_voters, start_voting):
    consultation, (voter,) = topic_with_voters(count=1, rules=secret_rules)
    (motion,) = start_voting(consultation)
    vote(motion, voter, Choice.NO)
    with pytest.raises(ServiceError) as refused:
        vote(motion, voter, Choice.YES)
    assert refused.value.message == "You have already voted on this motion."
    assert BallotReceipt.objects.filter(motion=motion).count() == 1
    totals = dict(SecretTally.objects.filter(motion=motion).values_list("choice", "heads"))
    assert totals == {Choice.YES: 0, Choice.NO: 1, Choice.ABSTAIN: 0}
    assert not Ballot.objects.exists()


def test_each_motion_takes_its_own_vote(people, committee_topic, start_voting):
    parking, fee = start_voting(committee_topic, "同意划定车位。", "同意收取管理费。")
    vote(parking, people.resident, Choice.YES)
    vote(fee, people.resident, Choice.NO)
    assert sorted(Ballot.objects.values_list("motion__number", "choice")) == [(1, Choice.YES), (2, Choice.NO)]


def test_it_refuses_a_vote_after_the_close(people, committee_topic, start_voting):
    (motion,) = start_voting(committee_topic)
    close(people, committee_topic)
    with pytest.raises(ServiceError, match="Voting is closed"):
        vote(motion, people.resident, Choice.YES)
    assert not Ballot.objects.exists()


def test_it_refuses_a_vote_once_the_voting_time_is_over(people, committee_topic, start_voting):
    (motion,) = start_voting(committee_topic, closes_in=HOUR)
    committee_topic.refresh_from_db()
    with pytest.raises(ServiceError, match="Voting is closed"):
        vote(motion, people.resident, Choice.YES, now=committee_topic.voting_closes_at)
    vote(
        motion,
        people.resident,
        Choice.YES,
        now=committee_topic.voting_closes_at - datetime.timedelta(seconds=1),
    )
    assert Ballot.objects.count() == 1


def test_it_refuses_a_choice_it_does_not_know(people, committee_topic, start_voting):
    (motion,) = start_voting(committee_topic)
    with pytest.raises(ServiceError, match="Choose for, against or abstain") as refused:
        vote(motion, people.resident, "maybe")
    assert refused.value.field == "choice"
    assert not Ballot.objects.exists()


def test_a_voter_counted_in_the_hall_does_not_vote_again_online(
    people, topic_with_voters, start_voting, sign_in
):
    consultation, (in_hall, at_home) = topic_with_voters(count=2)
    (motion,) = start_voting(consultation)
    sign_in(consultation, in_hall)
    services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    with pytest.raises(ServiceError, match="The hall has already voted on this motion"):
        vote(motion, in_hall, Choice.NO)
    vote(motion, at_home, Choice.NO)
    assert Ballot.objects.count() == 1


def test_a_voter_counted_in_the_hall_who_then_leaves_does_not_vote_online(
    people, topic_with_voters, start_voting, sign_in, leave
):
    consultation, (voter,) = topic_with_voters(count=1)
    (motion,) = start_voting(consultation)
    sign_in(consultation, voter)
    services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    leave(consultation, voter)
    with pytest.raises(ServiceError, match="The hall has already voted on this motion"):
        vote(motion, voter, Choice.NO)
    assert not Ballot.objects.exists()


@pytest.mark.parametrize("when", ["left_before_the_count", "arrived_after_the_count"])
def test_a_voter_not_in_the_hall_at_its_count_votes_online(
    people, topic_with_voters, start_voting, sign_in, leave, when
):
    consultation, (counted, voter) = topic_with_voters(count=2)
    (motion,) = start_voting(consultation)
    sign_in(consultation, counted)
    if when == "left_before_the_count":
        sign_in(consultation, voter)
        leave(consultation, voter)
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    if when == "arrived_after_the_count":
        sign_in(consultation, voter)
    vote(motion, voter, Choice.NO)
    services.hall_tally_confirm(tally=tally, by=people.community_secretary)
    close(people, consultation)
    passed, figures = result(motion)
    assert (figures["count"]["yes_heads"], figures["count"]["no_heads"]) == ("1", "1")


# The secret ballot cannot be joined to its voter ------------------------------------------------------------


def table_rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # names from the schema
        return sorted(tuple(map(str, row)) for row in cursor.fetchall())


def database_snapshot() -> dict[str, list[tuple]]:
    return {table: table_rows(table) for table in connection.introspection.table_names()}


def columns(model) -> set[str]:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, model._meta.db_table)
    return {column.name for column in description}


def tables_referencing(model) -> set[str]:
    """Every table of the database with a foreign key to the model's table."""
    referencing = set()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            relations = connection.introspection.get_relations(cursor, table)
            if any(target == model._meta.db_table for _column, (_field, target) in relations.items()):
                referencing.add(table)
    return referencing


def test_a_secret_ballot_cannot_be_joined_to_its_voter_through_the_database(
    people, secret_rules, topic_with_voters, start_voting
):
    consultation, voters = topic_with_voters(count=9, rules=secret_rules)
    (motion,) = start_voting(consultation)
    events_before_votes = consultation.events.count()
    choices = [
        Choice.YES,
        Choice.NO,
        Choice.ABSTAIN,
        Choice.YES,
        Choice.NO,
        Choice.YES,
        Choice.ABSTAIN,
        Choice.NO,
    ]
    for user, choice in zip(voters, choices, strict=False):
        vote(motion, user, choice)

    # Every table the project's models know is in the database, and nothing else refers to a voter: the
    # roll entry is referenced by the receipt and by open ballots, of which a secret motion has none.
    known = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    assert {BallotReceipt._meta.db_table, SecretTally._meta.db_table} <= known
    assert tables_referencing(RollEntry) == {BallotReceipt._meta.db_table, Ballot._meta.db_table}
    assert not Ballot.objects.filter(motion__consultation=consultation).exists()
    model_references = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.get_fields()
        if field.concrete and field.is_relation and field.related_model is RollEntry
    }
    assert model_references == {BallotReceipt._meta.db_table, Ballot._meta.db_table}

    # The receipt says who voted and nothing else: no choice, no time, and a random key, not one that grows.
    assert columns(BallotReceipt) == {"id", "motion_id", "voter_id"}
    receipts = list(BallotReceipt.objects.filter(motion=motion))
    assert all(isinstance(receipt.pk, uuid.UUID) and receipt.pk.version == 4 for receipt in receipts)
    voter_order = [participant_of(consultation, user).pk for user in voters[:8]]
    key_order = [receipt.voter.participant_id for receipt in sorted(receipts, key=lambda receipt: receipt.pk)]
    assert sorted(key_order) == sorted(voter_order)
    assert key_order != voter_order  # eight random keys fall in voting order once in 40,320 runs

    # The tally says what was voted and nothing else: a running total per choice, no voter, time or order.
    assert columns(SecretTally) == {"id", "motion_id", "choice", "heads", "area"}
    assert dict(SecretTally.objects.filter(motion=motion).values_list("choice", "heads")) == {
        Choice.YES: 3,
        Choice.NO: 3,
        Choice.ABSTAIN: 2,
    }

    # One more secret vote adds one receipt and one to one total; no other row of any table changes, no row
    # appears anywhere else, and the public record is silent.
    before = database_snapshot()
    vote(motion, voters[8], Choice.NO)
    after = database_snapshot()
    changed = {table for table in before if before[table] != after[table]}
    assert changed == {BallotReceipt._meta.db_table, SecretTally._meta.db_table}
    assert {table: len(after[table]) - len(before[table]) for table in changed} == {
        BallotReceipt._meta.db_table: 1,
        SecretTally._meta.db_table: 0,
    }
    assert set(after) == set(before)
    assert consultation.events.count() == events_before_votes
    assert not {"vote", "ballot", "cast"} & {word for kind in Event.Kind.values for word in kind.split("_")}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="xmin and xmax are PostgreSQL's transaction ids"
)
@pytest.mark.django_db(transaction=True)
def test_no_transaction_id_joins_a_voter_to_a_choice_on_postgresql(
    secret_rules, topic_with_voters, start_voting
):
    consultation, voters = topic_with_voters(count=3, rules=secret_rules)
    (motion,) = start_voting(consultation)
    for user, choice in zip(voters, [Choice.YES, Choice.NO, Choice.ABSTAIN], strict=True):
        vote(motion, user, choice)  # each vote commits on its own, as in production
    with connection.cursor() as cursor:
        # The transaction ids left on rows that name a voter: the receipt's insert and the roll entry's lock.
        cursor.execute(
            """SELECT receipt.voter_id, receipt.xmin::text, entry.xmin::text, entry.xmax::text
               FROM consultations_ballotreceipt receipt
               JOIN consultations_rollentry entry ON entry.id = receipt.voter_id
               WHERE receipt.motion_id = %s""",
            [motion.pk],
        )
        voter_xids = {row[0]: set(row[1:]) - {"0"} for row in cursor.fetchall()}
        cursor.execute(
            "SELECT choice, xmin::text FROM consultations_secrettally WHERE motion_id = %s", [motion.pk]
        )
        tallies = cursor.fetchall()
    assert len(voter_xids) == 3
    for voter, xids in voter_xids.items():
        revealed = {choice for choice, tally_xid in tallies if tally_xid in xids}
        assert revealed in (set(), set(Choice.values)), f"roll entry {voter}'s transaction shows {revealed}"


# The hall tally ---------------------------------------------------------------------------------------------


@pytest.fixture
def hall_of_three(topic_with_voters, start_voting, sign_in):
    """Three voters: the first two in the hall, and the first of them has also voted online."""
    consultation, voters = topic_with_voters(count=3)
    (motion,) = start_voting(consultation)
    sign_in(consultation, voters[0], voters[1])
    vote(motion, voters[0], Choice.YES)
    return consultation, motion, voters


def test_it_refuses_an_impossible_tally_of_more_votes_than_voters_in_the_hall(people, hall_of_three):
    consultation, motion, _ = hall_of_three
    with pytest.raises(ServiceError) as refused:
        services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=1)
    assert refused.value.message == "2 votes counted, but only 1 voters not voting online are signed in."
    assert not HallTally.objects.exists()
    assert Event.Kind.HALL_TALLY not in kinds(consultation)


def test_a_voter_who_left_is_not_counted_in_the_hall(people, hall_of_three, leave):
    consultation, motion, voters = hall_of_three
    leave(consultation, voters[1])
    with pytest.raises(ServiceError, match="1 votes counted, but only 0 voters"):
        services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=0, no_heads=1)


def test_it_refuses_more_floor_area_than_the_hall_holds(
    people, owners_rules, topic_with_voters, start_voting, sign_in
):
    consultation, owners = topic_with_voters(areas=[D("50"), D("70"), D("200")], rules=owners_rules)
    (motion,) = start_voting(consultation)
    sign_in(consultation, owners[0], owners[1])
    with pytest.raises(ServiceError, match="More floor area was counted than the voters in the hall hold"):
        services.hall_tally_enter(
            motion=motion, by=people.community_worker, yes_heads=2, no_heads=0, yes_area=D("120.01")
        )
    assert not HallTally.objects.exists()
    tally = services.hall_tally_enter(
        motion=motion, by=people.community_worker, yes_heads=1, no_heads=1, yes_area=D("50"), no_area=D("70")
    )
    assert (tally.yes_area, tally.no_area) == (D("50"), D("70"))


@pytest.mark.parametrize(
    "counts",
    [
        {"yes_heads": -1, "no_heads": 0},
        {"yes_heads": 0, "no_heads": 0, "abstain_heads": -1},
        {"yes_heads": 1.0, "no_heads": 0},
        {"yes_heads": True, "no_heads": 0},
        {"yes_heads": 0, "no_heads": 0, "no_area": D("-1")},
    ],
)
def test_it_refuses_a_tally_that_is_not_whole_non_negative_numbers(people, hall_of_three, counts):
    _, motion, _ = hall_of_three
    with pytest.raises(ServiceError, match="Enter whole, non-negative numbers of votes"):
        services.hall_tally_enter(motion=motion, by=people.community_worker, **counts)
    assert not HallTally.objects.exists()


def test_the_hall_is_counted_once(people, hall_of_three):
    _, motion, _ = hall_of_three
    services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    with pytest.raises(ServiceError, match="The hall's count for this motion has already been entered"):
        services.hall_tally_enter(motion=motion, by=people.community_secretary, yes_heads=0, no_heads=1)
    assert HallTally.objects.get().yes_heads == 1


def test_only_the_communitys_staff_count_the_hall(people, hall_of_three):
    _, motion, voters = hall_of_three
    for user in (voters[1], people.outsider, people.district_officer):
        with pytest.raises(ServiceError, match="Only the community's staff can do that"):
            services.hall_tally_enter(motion=motion, by=user, yes_heads=1, no_heads=0)
    assert not HallTally.objects.exists()


def test_a_second_staff_member_confirms_the_hall_tally_once(people, hall_of_three):
    consultation, motion, _ = hall_of_three
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    with pytest.raises(ServiceError, match="A second staff member must confirm the count"):
        services.hall_tally_confirm(tally=tally, by=people.community_worker)
    tally.refresh_from_db()
    assert tally.confirmed_at is None

    services.hall_tally_confirm(tally=tally, by=people.community_secretary)
    tally.refresh_from_db()
    assert (tally.entered_by, tally.confirmed_by) == (people.community_worker, people.community_secretary)
    with pytest.raises(ServiceError, match="This count has already been confirmed"):
        services.hall_tally_confirm(tally=tally, by=people.street_officer)
    tally.refresh_from_db()
    assert tally.confirmed_by == people.community_secretary
    assert kinds(consultation)[-2:] == [Event.Kind.HALL_TALLY, Event.Kind.HALL_TALLY_CONFIRMED]


def test_a_resident_does_not_confirm_the_hall_tally(people, hall_of_three):
    _, motion, voters = hall_of_three
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.hall_tally_confirm(tally=tally, by=voters[1])


# Closing the vote and the result ----------------------------------------------------------------------------


def test_it_refuses_to_close_with_a_hall_tally_awaiting_confirmation(people, hall_of_three):
    consultation, motion, _ = hall_of_three
    services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    with pytest.raises(
        ServiceError, match="A hall count is waiting for a second staff member's confirmation"
    ):
        close(people, consultation)
    consultation.refresh_from_db()
    assert (consultation.stage, consultation.voting_closed_at) == (Stage.VOTING, None)
    assert result(motion) == (None, {})


def test_it_counts_online_and_hall_votes_and_stores_the_figures(
    people, topic_with_voters, start_voting, sign_in
):
    consultation, voters = topic_with_voters(count=6)
    (motion,) = start_voting(consultation)
    vote(motion, voters[0], Choice.YES)
    vote(motion, voters[1], Choice.ABSTAIN)
    sign_in(consultation, *voters[2:5])
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=2, no_heads=1)
    services.hall_tally_confirm(tally=tally, by=people.community_secretary)

    closed = close(people, consultation)
    assert (closed.stage, closed.voting_closed_at is not None) == (Stage.DECIDED, True)
    passed, figures = result(motion)
    assert passed is True
    assert figures["quorum_met"] is True
    assert {key: D(value) for key, value in figures["count"].items()} == {
        "yes_heads": 3,
        "no_heads": 1,
        "abstain_heads": 1,
        "yes_area": 0,
        "no_area": 0,
        "abstain_area": 0,
    }
    assert (figures["electorate"]["heads"], D(figures["electorate"]["area"])) == (6, 0)
    assert (figures["present"]["heads"], D(figures["present"]["area"])) == (5, 0)
    assert figures["figures"]["consent_by_head"] == "3/4"
    assert selectors.motion_reasons(motion) == [
        "Votes in favour were 75.0% of the votes cast (3 of 4), more than the half required.",
        "Abstentions (1) do not count as votes cast.",
    ]
    assert kinds(consultation)[-1] == Event.Kind.VOTING_CLOSED


def test_the_quorum_is_lost_when_people_leave_before_the_vote(
    people, topic_with_voters, start_voting, sign_in, leave
):
    consultation, voters = topic_with_voters(count=4)
    (motion,) = start_voting(consultation)
    sign_in(consultation, voters[0], voters[1])  # two of four: the half the rules ask for
    leave(consultation, voters[1])
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    services.hall_tally_confirm(tally=tally, by=people.community_secretary)

    close(people, consultation)
    passed, figures = result(motion)
    assert passed is False
    assert figures["quorum_met"] is False
    assert figures["present"]["heads"] == 1
    reasons = selectors.motion_reasons(motion)
    assert reasons[-1] == "The quorum was not met."
    assert reasons[0].startswith("Votes in favour were 100.0%")  # the votes alone would pass


def test_those_in_the_hall_at_the_close_make_the_quorum(people, topic_with_voters, start_voting, sign_in):
    consultation, voters = topic_with_voters(count=4)
    (motion,) = start_voting(consultation)
    sign_in(consultation, voters[0], voters[1])
    tally = services.hall_tally_enter(motion=motion, by=people.community_worker, yes_heads=1, no_heads=0)
    services.hall_tally_confirm(tally=tally, by=people.community_secretary)
    close(people, consultation)
    passed, figures = result(motion)
    assert (passed, figures["quorum_met"], figures["present"]["heads"]) == (True, True, 2)


def test_a_tie_fails(people, topic_with_voters, start_voting):
    consultation, voters = topic_with_voters(count=2)
    (motion,) = start_voting(consultation)
    vote(motion, voters[0], Choice.YES)
    vote(motion, voters[1], Choice.NO)
    close(people, consultation)
    passed, figures = result(motion)
    assert (passed, figures["quorum_met"]) == (False, True)
    assert selectors.motion_reasons(motion) == [
        "Votes in favour were 50.0% of the votes cast (1 of 2), not more than the half required."
    ]


def test_a_secret_ballot_is_counted_from_its_totals(people, secret_rules, topic_with_voters, start_voting):
    consultation, voters = topic_with_voters(count=3, rules=secret_rules)
    (motion,) = start_voting(consultation)
    for user, choice in zip(voters, [Choice.YES, Choice.YES, Choice.NO], strict=True):
        vote(motion, user, choice)
    close(people, consultation)
    passed, figures = result(motion)
    assert passed is True
    assert (figures["count"]["yes_heads"], figures["count"]["no_heads"]) == ("2", "1")
    assert figures["present"]["heads"] == 3


def test_owners_two_thirds_by_head_but_not_by_area_do_not_decide(
    people, owners_rules, topic_with_voters, start_voting
):
    consultation, owners = topic_with_voters(areas=[D("50"), D("50"), D("200")], rules=owners_rules)
    (motion,) = start_voting(consultation)
    vote(motion, owners[0], Choice.YES)
    vote(motion, owners[1], Choice.YES)

    close(people, consultation)
    passed, figures = result(motion)
    assert passed is False
    assert figures["quorum_met"] is True  # two of three owners: the meeting's own quorum is met
    assert (figures["figures"]["turnout_by_head"], figures["figures"]["turnout_by_area"]) == ("2/3", "1/3")
    head, area, verdict = selectors.motion_reasons(motion)
    assert head == "Turnout by head was 66.7% (2 of 3 owners), at least the two-thirds required."
    # SQLite sums the ballots' areas as "100", PostgreSQL as "100.00".
    assert re.fullmatch(
        r"Turnout by floor area was 33\.3% \(100(\.00)? of 300\.00 m²\), below the two-thirds required\.",
        area,
    )
    assert verdict == "Too few owners took part for the vote to decide the matter (Civil Code art. 278)."


def test_owners_decide_by_head_and_by_area(people, owners_rules, topic_with_voters, start_voting):
    consultation, owners = topic_with_voters(areas=[D("50"), D("50"), D("200")], rules=owners_rules)
    (motion,) = start_voting(consultation)
    vote(motion, owners[0], Choice.YES)
    vote(motion, owners[1], Choice.YES)
    vote(motion, owners[2], Choice.NO)  # most of the area is against

    close(people, consultation)
    passed, figures = result(motion)
    assert passed is False
    assert figures["figures"]["consent_by_head"] == "2/3"
    assert figures["figures"]["consent_by_area"] == "1/3"


@pytest.mark.parametrize(("is_major", "passes"), [(False, True), (True, False)])
def test_a_major_matter_needs_three_quarters_of_the_owners(
    people, owners_rules, topic_with_voters, start_voting, is_major, passes
):
    consultation, owners = topic_with_voters(areas=[D("100")] * 5, rules=owners_rules, is_major=is_major)
    (motion,) = start_voting(consultation)
    for owner, choice in zip(owners, [Choice.YES] * 3 + [Choice.NO] * 2, strict=True):
        vote(motion, owner, choice)

    close(people, consultation)
    passed, figures = result(motion)
    assert passed is passes
    assert figures["figures"]["required_consent"] == ("3/4" if is_major else "1/2")
    assert figures["figures"]["consent_by_head"] == figures["figures"]["consent_by_area"] == "3/5"


def test_a_major_matter_passes_with_exactly_three_quarters(
    people, owners_rules, topic_with_voters, start_voting
):
    consultation, owners = topic_with_voters(areas=[D("80")] * 4, rules=owners_rules, is_major=True)
    (motion,) = start_voting(consultation)
    for owner, choice in zip(owners, [Choice.YES] * 3 + [Choice.NO], strict=True):
        vote(motion, owner, choice)
    close(people, consultation)
    assert result(motion)[0] is True


def test_it_refuses_closing_twice_or_by_a_resident(people, committee_topic, start_voting):
    start_voting(committee_topic)
    with pytest.raises(ServiceError, match="Only the community's staff can do that"):
        services.voting_close(consultation=committee_topic, by=people.resident)
    close(people, committee_topic)
    with pytest.raises(ServiceError, match="cannot be done while the consultation is “Decided”"):
        close(people, committee_topic)
    assert committee_topic.events.filter(kind=Event.Kind.VOTING_CLOSED).count() == 1


# The public record ------------------------------------------------------------------------------------------


@pytest.fixture
def decided(people, rule_set, make_resident):
    """A resident's topic taken through co-signing, review, participants, notice, a meeting with sign-in, a
    hall tally and the close; steps after the notice happen at the meeting, three days on."""
    first, second = make_resident(), make_resident()
    topic = services.consultation_propose(
        by=people.resident,
        community=people.community,
        rule_set=rule_set,
        title="楼道堆物清理",
        description="1栋楼道堆放杂物，存在消防隐患。",
        origin="resident",
    )
    services.consultation_cosign(consultation=topic, by=first)
    services.consultation_cosign(consultation=topic, by=second)
    services.consultation_review(
        consultation=topic, by=people.community_secretary, accept=True, reason="同意受理"
    )
    services.participants_add_region(consultation=topic, by=people.community_worker, region=people.building)
    services.motion_add(consultation=topic, by=people.community_worker, text="同意统一清理。")
    meeting = timezone.now() + datetime.timedelta(days=3, minutes=1)
    services.consultation_notice(
        consultation=topic, by=people.community_worker, meeting_at=meeting, materials="方案"
    )
    services.voting_open(
        consultation=topic, by=people.community_worker, closes_at=meeting + 2 * HOUR, now=meeting
    )
    (motion,) = topic.motions.all()
    vote(motion, first, Choice.YES, now=meeting + datetime.timedelta(minutes=1))
    for user in (people.resident, second):
        services.attendance_sign_in(
            consultation=topic,
            participant=participant_of(topic, user),
            by=people.community_worker,
            now=meeting + datetime.timedelta(minutes=2),
        )
    tally = services.hall_tally_enter(
        motion=motion,
        by=people.community_worker,
        yes_heads=2,
        no_heads=0,
        now=meeting + datetime.timedelta(minutes=3),
    )
    services.hall_tally_confirm(
        tally=tally, by=people.community_secretary, now=meeting + datetime.timedelta(minutes=4)
    )
    services.voting_close(
        consultation=topic, by=people.community_worker, now=meeting + datetime.timedelta(minutes=5)
    )
    return topic


def test_every_step_leaves_a_public_record_in_order(people, decided):
    record = list(selectors.public_record(decided))
    assert [event.kind for event in record] == [
        Event.Kind.PROPOSED,
        Event.Kind.COSIGNED,
        Event.Kind.COSIGNED,
        Event.Kind.SUBMITTED_FOR_REVIEW,
        Event.Kind.ACCEPTED,
        Event.Kind.PARTICIPANTS,
        Event.Kind.NOTICE,
        Event.Kind.VOTING_OPENED,
        Event.Kind.SIGNED_IN,
        Event.Kind.SIGNED_IN,
        Event.Kind.HALL_TALLY,
        Event.Kind.HALL_TALLY_CONFIRMED,
        Event.Kind.VOTING_CLOSED,
    ]
    assert [event.at for event in record] == sorted(event.at for event in record)
    assert record[0].actor == people.resident
    assert record[4].actor == people.community_secretary
    assert (record[-2].actor, record[-1].actor) == (people.community_secretary, people.community_worker)
    assert decided.motions.get().passed is True


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consultations_event SET note = 'rewritten' WHERE consultation_id = %s",
        "UPDATE consultations_event SET at = '2000-01-01' WHERE consultation_id = %s",
        "DELETE FROM consultations_event WHERE consultation_id = %s",
    ],
)
def test_the_public_record_is_append_only_in_the_database(decided, statement):
    before = [(event.pk, event.kind, event.note, event.at) for event in selectors.public_record(decided)]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [decided.pk])
    after = [(event.pk, event.kind, event.note, event.at) for event in selectors.public_record(decided)]
    assert after == before


def test_the_record_is_not_deleted_with_its_consultation(committee_topic):
    with pytest.raises(DatabaseError), transaction.atomic():
        Consultation.objects.filter(pk=committee_topic.pk).delete()
    assert Consultation.objects.filter(pk=committee_topic.pk).exists()
    assert committee_topic.events.count() == 4
