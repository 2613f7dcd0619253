"""Voting under real parallel transactions on PostgreSQL: each thread has its own connection and transaction,
released together by a barrier. The roll entry's row lock lets one voter's simultaneous votes through once,
and the consultation's lock lets one of two staff enter or confirm a hall tally."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import translation

from gongzhi.consultations import services
from gongzhi.consultations.models import (
    Ballot,
    BallotReceipt,
    Choice,
    Consultation,
    Event,
    HallTally,
    SecretTally,
)
from gongzhi.core.exceptions import ServiceError

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks (SELECT ... FOR UPDATE) are tested on PostgreSQL"
    ),
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 30


def race(count: int, work) -> list[object]:
    """Runs work(index) in `count` threads released at once; returns each one's result or exception."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    outcomes: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            with translation.override("en"), transaction.atomic():
                # Touch the database first, so that every transaction has begun before any locks a row.
                Consultation.objects.exists()
                barrier.wait()
                outcomes[index] = work(index)
        except Exception as error:
            outcomes[index] = error
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def refusals(outcomes) -> list[str]:
    return [outcome.message for outcome in outcomes if isinstance(outcome, ServiceError)]


@pytest.fixture
def secret_rules(people):
    return services.rule_set_create(
        by=people.community_worker, region=people.community, name="无记名投票", secret_ballot=True
    )


def test_one_voter_firing_ten_open_votes_at_once_votes_once(people, committee_topic, start_voting):
    (motion,) = start_voting(committee_topic)
    choices = [Choice.YES, Choice.NO] * 5

    outcomes = race(
        10, lambda index: services.ballot_cast(motion=motion, by=people.resident, choice=choices[index])
    )
    assert outcomes.count(None) == 1, outcomes
    assert refusals(outcomes) == ["You have already voted on this motion."] * 9
    assert Ballot.objects.filter(motion=motion).count() == 1


def test_one_voter_firing_ten_secret_votes_at_once_votes_once(secret_rules, topic_with_voters, start_voting):
    consultation, (voter,) = topic_with_voters(count=1, rules=secret_rules)
    (motion,) = start_voting(consultation)
    choices = [Choice.YES, Choice.NO, Choice.ABSTAIN, Choice.YES, Choice.NO] * 2

    outcomes = race(10, lambda index: services.ballot_cast(motion=motion, by=voter, choice=choices[index]))
    assert outcomes.count(None) == 1, outcomes
    assert refusals(outcomes) == ["You have already voted on this motion."] * 9
    assert BallotReceipt.objects.filter(motion=motion).count() == 1
    assert sum(SecretTally.objects.filter(motion=motion).values_list("heads", flat=True)) == 1
    assert not Ballot.objects.exists()


def test_ten_voters_voting_secretly_at_once_lose_no_vote(secret_rules, topic_with_voters, start_voting):
    consultation, voters = topic_with_voters(count=10, rules=secret_rules)
    (motion,) = start_voting(consultation)
    choices = [Choice.YES] * 6 + [Choice.NO] * 3 + [Choice.ABSTAIN]

    outcomes = race(
        10, lambda index: services.ballot_cast(motion=motion, by=voters[index], choice=choices[index])
    )
    assert outcomes == [None] * 10
    assert BallotReceipt.objects.filter(motion=motion).count() == 10
    assert dict(SecretTally.objects.filter(motion=motion).values_list("choice", "heads")) == {
        Choice.YES: 6,
        Choice.NO: 3,
        Choice.ABSTAIN: 1,
    }


@pytest.fixture
def hall(people, committee_topic, start_voting):
    """Voting is open and both participants are signed in at the meeting."""
    (motion,) = start_voting(committee_topic)
    for participant in committee_topic.participants.all():
        services.attendance_sign_in(
            consultation=committee_topic, participant=participant, by=people.community_worker
        )
    return motion


def test_two_staff_entering_the_hall_tally_at_once_enter_it_once(people, hall):
    staff = [people.community_worker, people.community_secretary]

    def enter(index: int):
        return services.hall_tally_enter(motion=hall, by=staff[index], yes_heads=2 - index, no_heads=index)

    outcomes = race(2, enter)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["HallTally", "ServiceError"], outcomes
    assert refusals(outcomes) == ["The hall's count for this motion has already been entered."]
    assert HallTally.objects.filter(motion=hall).count() == 1


def test_two_staff_confirming_the_hall_tally_at_once_confirm_it_once(people, hall):
    tally = services.hall_tally_enter(motion=hall, by=people.community_worker, yes_heads=2, no_heads=0)
    staff = [people.community_secretary, people.street_officer]

    outcomes = race(2, lambda index: services.hall_tally_confirm(tally=tally, by=staff[index]))
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["HallTally", "ServiceError"], outcomes
    assert refusals(outcomes) == ["This count has already been confirmed."]
    confirmed = next(outcome for outcome in outcomes if isinstance(outcome, HallTally))
    tally.refresh_from_db()
    assert tally.confirmed_by == confirmed.confirmed_by
    assert Event.objects.filter(kind=Event.Kind.HALL_TALLY_CONFIRMED).count() == 1


def test_a_vote_in_flight_when_voting_closes_is_counted_or_refused(
    people, committee_topic, start_voting, monkeypatch
):
    (motion,) = start_voting(committee_topic)
    deciding, closed = threading.Event(), threading.Event()
    create = Ballot.objects.create

    def create_once_the_close_has_begun(**fields):
        deciding.set()  # the vote has passed its checks and holds its roll entry
        closed.wait(timeout=3)  # with the close waiting for that entry, this times out and the vote goes on
        return create(**fields)

    monkeypatch.setattr(Ballot.objects, "create", create_once_the_close_has_begun)
    outcomes = {}

    def cast():
        try:
            with translation.override("en"):
                outcomes["vote"] = services.ballot_cast(motion=motion, by=people.resident, choice=Choice.YES)
        except Exception as error:
            outcomes["vote"] = error
        finally:
            connections.close_all()

    def close():
        try:
            deciding.wait(timeout=TIMEOUT)
            outcomes["close"] = services.voting_close(
                consultation=committee_topic, by=people.community_worker
            )
        except Exception as error:
            outcomes["close"] = error
        finally:
            closed.set()
            connections.close_all()

    threads = [threading.Thread(target=cast), threading.Thread(target=close)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    assert isinstance(outcomes["close"], Consultation), outcomes

    motion.refresh_from_db()
    stored = Ballot.objects.filter(motion=motion).count()
    assert int(motion.figures["count"]["yes_heads"]) == stored, "a stored ballot is missing from the result"
