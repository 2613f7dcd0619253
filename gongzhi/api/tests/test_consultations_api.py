"""The consultations API at /api/v1/consultations/: a whole procedure from the committee's topic to an
answered objection, scoping (404 outside, a clear refusal inside), refusals that change nothing, and a list
whose cost does not grow with its length."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from gongzhi.consultations import services
from gongzhi.consultations.models import (
    Ballot,
    Consultation,
    Event,
    HallTally,
    Origin,
    Participant,
    Stage,
)
from gongzhi.consultations.rules import DecisionRule
from gongzhi.consultations.tests import conftest as consultation_fixtures

# The consultations app's own fixtures (gongzhi/consultations/tests/conftest.py), shared rather than copied.
rule_set = consultation_fixtures.rule_set
committee_topic = consultation_fixtures.committee_topic
make_resident = consultation_fixtures.make_resident
topic_with_voters = consultation_fixtures.topic_with_voters
start_voting = consultation_fixtures.start_voting

API = "/api/v1/consultations"
EN = {"Accept-Language": "en"}


def get(client, url, **params):
    return client.get(f"{API}{url}", params, headers=EN)


def post(client, url, payload=None):
    return client.post(f"{API}{url}", payload or {}, content_type="application/json", headers=EN)


def signed_in(user) -> Client:
    """A client of its own, so that a test can have several people acting side by side."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def clock(monkeypatch):
    """Moves the services' clock: `clock.advance(days=4)`. The API cannot take `now`, and the procedure's
    deadlines (days of notice, the voting close, the publication period) need time to pass."""
    real_now = timezone.now

    class Clock:
        offset = datetime.timedelta(0)

        def advance(self, **delta):
            self.offset += datetime.timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + clock.offset)
    return clock


@pytest.fixture
def voting(people, committee_topic, start_voting):
    """The committee's topic (张居民 and 李奶奶 on the roll) with one motion, voting open for two hours; the
    meeting began an hour ago."""
    [motion] = start_voting(committee_topic, "同意划定车位。")
    return committee_topic, motion


def when(moment: datetime.datetime) -> str:
    return moment.isoformat()


def test_it_runs_a_whole_procedure_from_topic_to_an_answered_objection(people, rule_set, clock):
    worker = signed_in(people.community_worker)
    secretary = signed_in(people.community_secretary)
    resident = signed_in(people.resident)

    proposed = post(
        worker,
        "/",
        {
            "community_id": people.community.pk,
            "rule_set_id": rule_set.pk,
            "title": "院落停车位划线",
            "description": "清波院落停车混乱，拟划定车位。",
            "origin": "committee",
        },
    )
    assert proposed.status_code == 201, proposed.json()
    topic = proposed.json()
    assert topic["stage"] == "preparing"
    assert topic["rule_set"]["name"] == "日常议事规则"
    assert topic["caller"]["may_manage"] is True
    url = f"/{topic['id']}"

    added = post(
        worker, f"{url}/participants", {"kind": "resident", "resident_id": people.resident_record.pk}
    )
    assert added.status_code == 201, added.json()
    assert added.json()["name"] == "张居民" and added.json()["votes"] is True
    region = post(worker, f"{url}/participants/region", {"region_id": people.building_2.pk})
    assert region.json() == {"added": 1}  # 李奶奶 of 2栋
    expert = post(worker, f"{url}/participants", {"kind": "expert", "name": "交通规划师"})
    assert expert.json()["votes"] is False
    assert get(worker, f"{url}/participants").json()["count"] == 3

    motion = post(worker, f"{url}/motions", {"text": "同意按方案划定车位。"})
    assert motion.status_code == 201 and motion.json()["number"] == 1
    motion_id = motion.json()["id"]

    meeting_at = timezone.now() + datetime.timedelta(days=3, hours=2)
    noticed = post(
        worker,
        f"{url}/notice",
        {"meeting_at": when(meeting_at), "place": "社区议事厅", "materials": "车位划线方案与费用测算。"},
    )
    assert noticed.status_code == 200, noticed.json()
    assert noticed.json()["meeting_place"] == "社区议事厅"

    clock.advance(days=3, hours=1)  # the notice period has passed; the meeting begins within the hour
    code = get(worker, url).json()["meeting_code"]
    signed = post(resident, f"{url}/sign-in", {"code": code})
    assert signed.status_code == 200, signed.json()
    neighbour = Participant.objects.get(consultation_id=topic["id"], resident=people.neighbour_record)
    by_staff = post(worker, f"{url}/attendance", {"participant_id": neighbour.pk, "action": "sign_in"})
    assert by_staff.status_code == 200, by_staff.json()

    opened = post(
        worker, f"{url}/voting/open", {"closes_at": when(timezone.now() + datetime.timedelta(hours=2))}
    )
    assert opened.status_code == 200, opened.json()
    assert opened.json()["stage"] == "voting"
    assert get(resident, url).json()["caller"]["may_vote"] is True

    voted = post(resident, f"/motions/{motion_id}/ballot", {"choice": "yes"})
    assert voted.status_code == 200, voted.json()
    assert voted.json()["caller"]["voted_motion_ids"] == [motion_id]
    assert voted.json()["motions"][0]["totals"] is None  # these rules show no results before the close

    # 李奶奶 has no phone: she raised her hand in the hall, counted by one worker and confirmed by another.
    tally = post(worker, f"/motions/{motion_id}/hall-tally", {"yes_heads": 1, "no_heads": 0})
    assert tally.status_code == 201, tally.json()
    assert tally.json()["confirmed"] is False
    refused = post(worker, f"/hall-tallies/{tally.json()['id']}/confirm")
    assert refused.json()["detail"] == "A second staff member must confirm the count."
    confirmed = post(secretary, f"/hall-tallies/{tally.json()['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True

    closed = post(worker, f"{url}/voting/close")
    assert closed.status_code == 200, closed.json()
    [result] = closed.json()["motions"]
    assert closed.json()["stage"] == "decided"
    assert result["passed"] is True
    assert result["result"]["quorum_met"] is True
    assert result["result"]["count"]["yes_heads"] == "2"

    published = post(worker, f"{url}/publish")
    assert published.json()["stage"] == "published"
    assert get(resident, url).json()["caller"]["may_object"] is True

    objection = post(resident, f"{url}/objections", {"text": "车位太少，外来车辆如何管理？"})
    assert objection.status_code == 201, objection.json()
    answered = post(
        worker, f"/objections/{objection.json()['id']}/answer", {"answer": "外来车辆由物业登记后临时停放。"}
    )
    assert answered.status_code == 200, answered.json()
    assert answered.json()["answer"] == "外来车辆由物业登记后临时停放。"
    assert get(resident, url).json()["objections"][0]["answered_at"] is not None

    record = get(resident, f"{url}/record").json()
    kinds = [event["kind"] for event in record["items"]]
    assert kinds[:2] == ["proposed", "accepted"]
    assert {"notice", "signed_in", "voting_opened", "hall_confirmed", "voting_closed", "published"} <= set(
        kinds
    )
    assert kinds[-2:] == ["objection", "answered"]
    assert record["items"][0]["actor"] == "社区工作者"


def test_it_carries_a_residents_topic_through_co_signing_to_review(people, rule_set, make_resident):
    proposed = post(
        signed_in(people.resident),
        "/",
        {
            "community_id": people.community.pk,
            "rule_set_id": rule_set.pk,
            "title": "楼道堆物清理",
            "description": "1栋楼道堆放杂物，存在消防隐患。",
            "origin": "resident",
        },
    )
    assert proposed.status_code == 201, proposed.json()
    assert proposed.json()["stage"] == "cosigning"
    assert proposed.json()["caller"]["may_cosign"] is False  # the proposer
    url = f"/{proposed.json()['id']}"
    first, second = signed_in(make_resident()), signed_in(make_resident())
    assert get(first, url).json()["caller"]["may_cosign"] is True
    assert post(first, f"{url}/cosign").json()["cosigns"] == 1
    again = post(first, f"{url}/cosign")
    assert again.status_code == 400 and again.json()["detail"] == "You have already co-signed this topic."
    assert post(second, f"{url}/cosign").json()["stage"] == "review"

    staff_only = post(first, f"{url}/review", {"accept": True, "reason": "同意"})
    assert staff_only.json()["detail"] == "Only the community's staff can do that."
    reviewed = post(
        signed_in(people.community_worker), f"{url}/review", {"accept": True, "reason": "消防隐患"}
    )
    assert reviewed.json()["stage"] == "preparing" and reviewed.json()["review_reason"] == "消防隐患"


# Scoping ----------------------------------------------------------------------------------------------------


def test_outsiders_get_404_for_a_consultation_that_is_not_public(people, voting):
    consultation, motion = voting
    Consultation.objects.filter(pk=consultation.pk).update(is_public=False)
    outsider = signed_in(people.outsider)
    assert get(outsider, f"/{consultation.pk}").status_code == 404
    assert get(outsider, f"/{consultation.pk}/record").status_code == 404
    refused = post(outsider, f"/motions/{motion.pk}/ballot", {"choice": "yes"})
    assert refused.status_code == 404 and refused.json() == {"detail": "Not found."}
    assert post(outsider, f"/{consultation.pk}/voting/close").status_code == 404
    assert get(outsider, "/").json()["count"] == 0
    assert not Ballot.objects.exists()


def test_a_resident_who_can_see_but_is_not_on_the_roll_is_told_so(people, voting, make_resident):
    consultation, motion = voting
    neighbour = signed_in(make_resident("赵邻居"))  # of 清波社区, not a participant
    seen = get(neighbour, f"/{consultation.pk}")
    assert seen.status_code == 200
    assert seen.json()["caller"]["may_vote"] is False
    refused = post(neighbour, f"/motions/{motion.pk}/ballot", {"choice": "yes"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == "You are not on this consultation's roll of voters."
    assert not Ballot.objects.exists()


def test_staff_steps_are_refused_to_residents(people, voting):
    consultation, _motion = voting
    participant = Participant.objects.get(consultation=consultation, resident=people.resident_record)
    resident = signed_in(people.resident)
    for url, payload in (
        (f"/{consultation.pk}/voting/close", {}),
        (f"/{consultation.pk}/attendance", {"participant_id": participant.pk, "action": "sign_in"}),
    ):
        refused = post(resident, url, payload)
        assert refused.status_code == 400, url
        assert refused.json()["detail"] == "Only the community's staff can do that."
    assert Consultation.objects.get(pk=consultation.pk).stage == Stage.VOTING
    assert not consultation.attendance.exists()


# Bad input changes nothing ----------------------------------------------------------------------------------


def test_it_refuses_a_second_ballot_and_keeps_the_first(people, voting):
    _consultation, motion = voting
    resident = signed_in(people.resident)
    assert post(resident, f"/motions/{motion.pk}/ballot", {"choice": "yes"}).status_code == 200
    again = post(resident, f"/motions/{motion.pk}/ballot", {"choice": "no"})
    assert again.status_code == 400
    assert again.json()["detail"] == "You have already voted on this motion."
    assert list(Ballot.objects.values_list("choice", flat=True)) == ["yes"]


def test_it_refuses_a_ballot_after_the_close(people, voting):
    consultation, motion = voting
    services.voting_close(consultation=consultation, by=people.community_worker)
    refused = post(signed_in(people.resident), f"/motions/{motion.pk}/ballot", {"choice": "yes"})
    assert refused.status_code == 400 and refused.json()["detail"] == "Voting is closed."
    assert not Ballot.objects.exists()


def test_it_refuses_a_hall_count_of_more_votes_than_people_signed_in(people, voting):
    consultation, motion = voting
    participant = Participant.objects.get(consultation=consultation, resident=people.neighbour_record)
    services.attendance_sign_in(
        consultation=consultation, participant=participant, by=people.community_worker
    )
    events = Event.objects.count()
    refused = post(
        signed_in(people.community_worker),
        f"/motions/{motion.pk}/hall-tally",
        {"yes_heads": 2, "no_heads": 1},
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "3 votes counted, but only 1 voters not voting online are signed in."
    assert not HallTally.objects.exists()
    assert Event.objects.count() == events


def test_it_answers_422_for_a_choice_that_is_not_one(people, voting):
    _consultation, motion = voting
    refused = post(signed_in(people.resident), f"/motions/{motion.pk}/ballot", {"choice": "maybe"})
    assert refused.status_code == 422
    assert not Ballot.objects.exists()


def test_it_names_the_payload_field_of_a_refused_proposal(people, rule_set):
    refused = post(
        signed_in(people.community_worker),
        "/",
        {
            "community_id": people.street.pk,
            "rule_set_id": rule_set.pk,
            "title": "题目",
            "description": "说明",
            "origin": "committee",
        },
    )
    assert refused.status_code == 400
    assert refused.json()["field"] == "rule_set_id"
    assert not Consultation.objects.exists()


# Live totals only where the rules allow ---------------------------------------------------------------------


def test_it_shows_running_totals_only_when_the_rules_say_so(people, topic_with_voters, start_voting):
    early = services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="公开计票",
        results_before_close=True,
        secret_ballot=True,
        decision_rule=DecisionRule.MAJORITY_OF_CAST,
    )
    consultation, [voter, _other] = topic_with_voters(count=2, rules=early)
    [motion] = start_voting(consultation)
    client = signed_in(voter)
    voted = post(client, f"/motions/{motion.pk}/ballot", {"choice": "no"}).json()
    [shown] = voted["motions"]
    assert shown["totals"]["no_heads"] == 1 and shown["totals"]["yes_heads"] == 0
    assert shown["voted"] is True and shown["passed"] is None


# Rule sets --------------------------------------------------------------------------------------------------


def test_it_lists_and_keeps_rule_sets(people, rule_set):
    worker = signed_in(people.community_worker)
    made = post(
        signed_in(people.street_officer),
        "/rule-sets",
        {
            "region_id": people.street.pk,
            "name": "街道业主规则",
            "vote_unit": "owner",
            "decision_rule": "civil_code_278",
        },
    )
    assert made.status_code == 201, made.json()
    assert made.json()["decision_rule"] == "civil_code_278"
    listed = get(worker, "/rule-sets", community_id=people.community.pk).json()
    assert [item["name"] for item in listed] == ["日常议事规则", "街道业主规则"]
    refused = post(worker, "/rule-sets", {"region_id": people.street.pk, "name": "越权规则"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Only staff of this area can keep its rule sets."


# The list ---------------------------------------------------------------------------------------------------


def test_the_list_filters_by_stage_and_does_not_grow_in_queries(
    people, rule_set, committee_topic, django_assert_max_num_queries
):
    client = signed_in(people.resident)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/").json()["count"] == 1
    for number in range(6):
        services.consultation_propose(
            by=people.resident,
            community=people.community,
            rule_set=rule_set,
            title=f"议题{number}",
            description="说明",
            origin=Origin.RESIDENT,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = get(client, "/").json()
    assert page["count"] == 7
    assert page["items"][0]["title"] == "议题5"
    cosigning = get(client, "/", stage="cosigning").json()
    assert cosigning["count"] == 6 and all(item["stage"] == "cosigning" for item in cosigning["items"])
