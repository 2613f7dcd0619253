"""The decision-rule engine: quorum, the owners' rule of Civil Code art. 278 and the count, decided exactly.

Plain functions over numbers: no database.
"""

import json
from dataclasses import FrozenInstanceError
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import translation
from django.utils.functional import Promise

from gongzhi.consultations.rules import (
    Count,
    DecisionRule,
    Electorate,
    Outcome,
    QuorumBasis,
    Turnout,
    decide,
    quorum_met,
)

ORDINARY_RULES = [DecisionRule.MAJORITY_OF_CAST, DecisionRule.MAJORITY_OF_PRESENT, DecisionRule.TWO_THIRDS]
D = Decimal


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):
        yield


def owners_vote(
    *,
    eligible=(300, "30000"),
    present=(300, "30000"),
    yes=(0, "0"),
    no=(0, "0"),
    abstain=(0, "0"),
    major=False,
) -> Outcome:
    """An owners' vote under art. 278; each argument is (heads, floor area in m²)."""
    return decide(
        rule=DecisionRule.CIVIL_CODE_278,
        electorate=Electorate(eligible[0], D(eligible[1])),
        present=Turnout(present[0], D(present[1])),
        count=Count(yes[0], no[0], abstain[0], D(yes[1]), D(no[1]), D(abstain[1])),
        major=major,
    )


def residents_vote(rule, *, eligible=100, present=100, yes=0, no=0, abstain=0) -> Outcome:
    return decide(
        rule=rule, electorate=Electorate(eligible), present=Turnout(present), count=Count(yes, no, abstain)
    )


def reasons(outcome: Outcome) -> list[str]:
    return [str(reason) for reason in outcome.reasons]


# The choices


def test_it_offers_three_quorum_bases():
    assert QuorumBasis.values == ["persons", "households", "owners"]


def test_it_offers_four_decision_rules():
    assert DecisionRule.values == ["majority_of_cast", "majority_of_present", "two_thirds", "civil_code_278"]


# The figures going in


def test_it_takes_an_int_area_as_a_decimal():
    assert Electorate(3, 250).area == D(250)
    assert isinstance(Turnout(1, 80).area, Decimal)
    assert isinstance(Count(1, 0, yes_area=80).yes_area, Decimal)


def test_it_defaults_areas_to_zero():
    assert Electorate(10).area == 0
    assert Count(1, 2) == Count(1, 2, 0, D(0), D(0), D(0))


def test_it_freezes_the_figures():
    electorate = Electorate(10)
    with pytest.raises(FrozenInstanceError):
        electorate.heads = 11


@pytest.mark.parametrize(
    "build",
    [
        lambda: Electorate(-1),
        lambda: Turnout(-1),
        lambda: Count(-1, 0),
        lambda: Count(0, -1),
        lambda: Count(0, 0, -1),
    ],
    ids=["electorate", "turnout", "yes", "no", "abstain"],
)
def test_it_refuses_a_negative_number_of_people(build):
    with pytest.raises(ValueError, match="cannot be negative"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: Electorate(1, D("-0.01")),
        lambda: Turnout(1, D(-5)),
        lambda: Count(1, 0, yes_area=D(-1)),
        lambda: Count(0, 1, no_area=D(-1)),
        lambda: Count(0, 0, 1, abstain_area=D(-1)),
    ],
    ids=["electorate", "turnout", "yes", "no", "abstain"],
)
def test_it_refuses_a_negative_floor_area(build):
    with pytest.raises(ValueError, match="floor area cannot be negative"):
        build()


@pytest.mark.parametrize("area", [D("NaN"), D("Infinity"), D("-Infinity")])
def test_it_refuses_a_floor_area_that_is_not_a_number(area):
    with pytest.raises(ValueError, match="finite"):
        Electorate(1, area)


@pytest.mark.parametrize(
    "build",
    [lambda: Electorate(0, D(10)), lambda: Turnout(0, D(10)), lambda: Count(0, 1, yes_area=D(10))],
    ids=["electorate", "turnout", "count"],
)
def test_it_refuses_a_floor_area_held_by_nobody(build):
    with pytest.raises(ValueError, match="with nobody holding it"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: Electorate(1.0),
        lambda: Electorate(True),
        lambda: Electorate("3"),
        lambda: Electorate(3, 80.5),
        lambda: Turnout(3, "80"),
        lambda: Count(1, 0, yes_area=0.5),
    ],
)
def test_it_refuses_floats_and_other_types_as_a_programming_error(build):
    with pytest.raises(TypeError):
        build()


# Quorum


@pytest.mark.parametrize("basis", [QuorumBasis.PERSONS, QuorumBasis.HOUSEHOLDS])
def test_it_meets_a_quorum_at_exactly_the_share(basis):
    assert quorum_met(basis=basis, share="1/2", electorate=Electorate(200), present=Turnout(100))


@pytest.mark.parametrize("basis", [QuorumBasis.PERSONS, QuorumBasis.HOUSEHOLDS])
def test_it_misses_a_quorum_one_short(basis):
    assert not quorum_met(basis=basis, share="1/2", electorate=Electorate(200), present=Turnout(99))


def test_it_counts_a_quorum_by_households():
    # 1,200 households on the roll, a two-thirds quorum: 800 households must be represented.
    electorate = Electorate(1200)
    assert quorum_met(basis=QuorumBasis.HOUSEHOLDS, share="2/3", electorate=electorate, present=Turnout(800))
    assert not quorum_met(
        basis=QuorumBasis.HOUSEHOLDS, share="2/3", electorate=electorate, present=Turnout(799)
    )


def test_it_loses_the_quorum_when_people_leave_before_the_vote():
    electorate = Electorate(60)
    signed_in = Turnout(32)
    still_in_the_hall = Turnout(32 - 3)
    assert quorum_met(basis="persons", share=Decimal("0.5"), electorate=electorate, present=signed_in)
    assert not quorum_met(
        basis="persons", share=Decimal("0.5"), electorate=electorate, present=still_in_the_hall
    )


def test_it_needs_an_owners_quorum_by_head_and_by_floor_area():
    electorate = Electorate(300, D(30000))

    def met(heads, area):
        return quorum_met(basis="owners", share="2/3", electorate=electorate, present=Turnout(heads, D(area)))

    assert met(200, "20000")
    assert not met(200, "19999.99")
    assert not met(199, "25000")
    assert met(300, "30000")


def test_it_never_meets_an_owners_quorum_without_recorded_floor_area():
    assert not quorum_met(basis="owners", share="1/2", electorate=Electorate(10), present=Turnout(10))


@pytest.mark.parametrize("basis", QuorumBasis.values)
@pytest.mark.parametrize("share", ["0", "1/2", "1"])
def test_it_never_meets_a_quorum_with_an_empty_electorate(basis, share):
    assert not quorum_met(basis=basis, share=share, electorate=Electorate(0), present=Turnout(0))


@pytest.mark.parametrize(
    "share", [Fraction(1, 2), Decimal("0.5"), Decimal("0.5000"), "1/2", "0.5", " 1/2 "], ids=repr
)
def test_it_reads_the_quorum_share_in_several_forms(share):
    electorate = Electorate(4)
    assert quorum_met(basis="persons", share=share, electorate=electorate, present=Turnout(2))
    assert not quorum_met(basis="persons", share=share, electorate=electorate, present=Turnout(1))


def test_it_needs_everyone_for_a_quorum_of_one():
    assert quorum_met(basis="persons", share=1, electorate=Electorate(4), present=Turnout(4))
    assert not quorum_met(basis="persons", share=1, electorate=Electorate(4), present=Turnout(3))


def test_it_compares_a_two_thirds_quorum_exactly_not_as_0_6667():
    # 0.6667 is not two-thirds: 2 of 3 meets "2/3" but not "0.6667".
    electorate, present = Electorate(3), Turnout(2)
    assert quorum_met(basis="persons", share="2/3", electorate=electorate, present=present)
    assert not quorum_met(basis="persons", share=Decimal("0.6667"), electorate=electorate, present=present)


@pytest.mark.parametrize("share", ["abc", "1/0", "", Decimal("NaN"), Decimal("Infinity")], ids=repr)
def test_it_refuses_a_quorum_share_it_cannot_read(share):
    with pytest.raises(ValueError, match="a share such as 1/2"):
        quorum_met(basis="persons", share=share, electorate=Electorate(2), present=Turnout(1))


@pytest.mark.parametrize("share", ["3/2", "1.01", "-0.1", Decimal(2)], ids=repr)
def test_it_refuses_a_quorum_share_outside_zero_to_one(share):
    with pytest.raises(ValueError, match="between 0 and 1"):
        quorum_met(basis="persons", share=share, electorate=Electorate(2), present=Turnout(1))


@pytest.mark.parametrize("share", [0.5, True, None])
def test_it_refuses_a_float_quorum_share_as_a_programming_error(share):
    with pytest.raises(TypeError):
        quorum_met(basis="persons", share=share, electorate=Electorate(2), present=Turnout(1))


def test_it_refuses_an_unknown_quorum_basis():
    with pytest.raises(ValueError, match="Unknown quorum basis: buildings"):
        quorum_met(basis="buildings", share="1/2", electorate=Electorate(2), present=Turnout(1))


def test_it_refuses_a_quorum_with_more_present_than_eligible():
    with pytest.raises(ValueError, match=r"More are taking part \(11\) than are eligible \(10\)"):
        quorum_met(basis="persons", share="1/2", electorate=Electorate(10), present=Turnout(11))


def test_it_refuses_a_quorum_with_more_floor_area_present_than_eligible():
    with pytest.raises(ValueError, match="exceeds the eligible area"):
        quorum_met(basis="owners", share="1/2", electorate=Electorate(10, D(900)), present=Turnout(5, D(901)))


# Residents' rules: majority of votes cast, majority of those present, two-thirds


def test_it_passes_a_majority_of_cast_with_one_more_than_half():
    outcome = residents_vote(DecisionRule.MAJORITY_OF_CAST, yes=51, no=49)
    assert outcome.passed


def test_it_does_not_count_exactly_half_as_more_than_half():
    assert not residents_vote(DecisionRule.MAJORITY_OF_CAST, yes=50, no=50).passed
    assert not residents_vote(DecisionRule.MAJORITY_OF_PRESENT, present=100, yes=50, no=30, abstain=20).passed


def test_it_passes_a_majority_of_present_with_one_more_than_half():
    assert residents_vote(DecisionRule.MAJORITY_OF_PRESENT, present=100, yes=51, no=30, abstain=19).passed


@pytest.mark.parametrize("rule", ORDINARY_RULES)
def test_it_fails_a_tie_under_every_residents_rule(rule):
    assert not residents_vote(rule, present=80, yes=40, no=40).passed


@pytest.mark.parametrize("major", [False, True])
def test_it_fails_a_tie_under_the_owners_rule(major):
    outcome = owners_vote(present=(300, "30000"), yes=(150, "15000"), no=(150, "15000"), major=major)
    assert outcome.participation_met
    assert not outcome.passed


@pytest.mark.parametrize("rule", [DecisionRule.MAJORITY_OF_CAST, DecisionRule.TWO_THIRDS])
def test_it_does_not_pass_when_no_votes_are_cast(rule):
    outcome = residents_vote(rule, present=30, abstain=30)
    assert not outcome.passed
    assert reasons(outcome) == ["No votes were cast for or against, so the motion is not passed."]
    assert outcome.figures["consent_by_head"] is None


def test_it_does_not_pass_when_nobody_takes_part():
    outcome = residents_vote(DecisionRule.MAJORITY_OF_PRESENT, present=0)
    assert not outcome.passed
    assert reasons(outcome) == ["Nobody took part in the vote, so the motion is not passed."]


def test_it_leaves_abstentions_out_of_a_majority_of_cast():
    outcome = residents_vote(DecisionRule.MAJORITY_OF_CAST, present=13, yes=6, no=4, abstain=3)
    assert outcome.passed
    assert outcome.figures["consent_by_head"] == Fraction(6, 10)
    assert reasons(outcome) == [
        "Votes in favour were 60.0% of the votes cast (6 of 10), more than the half required.",
        "Abstentions (3) do not count as votes cast.",
    ]


def test_it_counts_abstentions_against_under_majority_of_present():
    outcome = residents_vote(DecisionRule.MAJORITY_OF_PRESENT, present=13, yes=6, no=4, abstain=3)
    assert not outcome.passed
    assert outcome.figures["consent_by_head"] == Fraction(6, 13)
    assert reasons(outcome) == [
        "Votes in favour were 46.2% of those taking part (6 of 13), not more than the half required.",
        "Of those taking part, 3 abstained or did not vote; they count as not in favour.",
    ]


def test_it_counts_those_present_who_did_not_vote_against_under_majority_of_present():
    # 6 for and 4 against: with one more person present who did not vote, 6 of 11 is still more than half;
    # with two, 6 of 12 is not.
    assert residents_vote(DecisionRule.MAJORITY_OF_PRESENT, present=11, yes=6, no=4).passed
    assert not residents_vote(DecisionRule.MAJORITY_OF_PRESENT, present=12, yes=6, no=4).passed


def test_it_passes_two_thirds_at_exactly_two_thirds():
    outcome = residents_vote(DecisionRule.TWO_THIRDS, yes=60, no=30, abstain=10)
    assert outcome.passed
    assert outcome.figures["consent_by_head"] == Fraction(2, 3)
    assert reasons(outcome)[0] == (
        "Votes in favour were 66.7% of the votes cast (60 of 90), at least the two-thirds required."
    )


def test_it_fails_two_thirds_just_under_two_thirds():
    outcome = residents_vote(DecisionRule.TWO_THIRDS, eligible=400, present=300, yes=199, no=101)
    assert not outcome.passed
    assert reasons(outcome)[0] == (
        "Votes in favour were 66.3% of the votes cast (199 of 300), below the two-thirds required."
    )


@pytest.mark.parametrize("rule", ORDINARY_RULES)
def test_it_leaves_participation_to_the_quorum_under_residents_rules(rule):
    outcome = residents_vote(rule, eligible=1000, present=3, yes=3)
    assert outcome.participation_met
    assert outcome.passed


@pytest.mark.parametrize("rule", ORDINARY_RULES)
def test_it_records_but_does_not_apply_the_major_flag_under_residents_rules(rule):
    outcome = decide(rule=rule, electorate=Electorate(10), present=Turnout(10), count=Count(7, 3), major=True)
    assert outcome.passed
    assert outcome.figures["major"] is True


def test_it_decides_an_empty_residents_vote_without_failing():
    outcome = residents_vote(DecisionRule.MAJORITY_OF_CAST, eligible=0, present=0)
    assert not outcome.passed
    assert outcome.figures["turnout_by_head"] is None


# Owners: Civil Code art. 278, participation


def test_it_fails_278_participation_with_two_thirds_by_head_but_not_by_area():
    outcome = owners_vote(eligible=(300, "10000"), present=(200, "6420"), yes=(200, "6420"))
    assert not outcome.participation_met
    assert not outcome.passed
    assert reasons(outcome) == [
        "Turnout by head was 66.7% (200 of 300 owners), at least the two-thirds required.",
        "Turnout by floor area was 64.2% (6420 of 10000 m²), below the two-thirds required.",
        "Too few owners took part for the vote to decide the matter (Civil Code art. 278).",
    ]


def test_it_fails_278_participation_with_two_thirds_by_area_but_not_by_head():
    outcome = owners_vote(eligible=(300, "30000"), present=(199, "25000"), yes=(199, "25000"))
    assert not outcome.participation_met
    assert not outcome.passed
    assert "below the two-thirds required" in reasons(outcome)[0]


def test_it_meets_278_participation_at_exactly_two_thirds_by_head_and_area():
    outcome = owners_vote(eligible=(300, "9000.00"), present=(200, "6000.00"), yes=(200, "6000.00"))
    assert outcome.participation_met
    assert outcome.passed
    assert outcome.figures["turnout_by_head"] == Fraction(2, 3)
    assert outcome.figures["turnout_by_area"] == Fraction(2, 3)


def test_it_fails_278_participation_one_hundredth_of_a_square_metre_short():
    outcome = owners_vote(eligible=(300, "9000.00"), present=(200, "5999.99"), yes=(200, "5999.99"))
    assert not outcome.participation_met
    # 66.6666% would round to 66.7%, which reads as "two-thirds": it is shown as 66.6%.
    assert outcome.figures["turnout_by_area_percent"] == "66.6%"


def test_it_does_not_report_consent_when_too_few_owners_took_part():
    outcome = owners_vote(present=(100, "10000"), yes=(100, "10000"))
    assert not any("Consent" in reason for reason in reasons(outcome))
    assert outcome.figures["consent_by_head"] == 1


def test_it_never_meets_278_participation_with_no_owners_on_the_roll():
    outcome = owners_vote(eligible=(0, "0"), present=(0, "0"))
    assert not outcome.participation_met
    assert not outcome.passed
    assert reasons(outcome)[:2] == [
        "No owners are on the roll, so turnout cannot reach the two-thirds required.",
        "No floor area is recorded for the owners, so turnout cannot reach the two-thirds required.",
    ]


def test_it_never_meets_278_participation_without_recorded_floor_area():
    outcome = owners_vote(eligible=(300, "0"), present=(300, "0"), yes=(300, "0"))
    assert not outcome.participation_met
    assert not outcome.passed


# Owners: Civil Code art. 278, an ordinary matter (more than half of those taking part, by head and area)


def test_it_does_not_count_exactly_half_of_the_participating_owners_as_more_than_half():
    outcome = owners_vote(present=(240, "24000"), yes=(120, "12001"), no=(120, "11999"))
    assert outcome.participation_met
    assert not outcome.passed
    assert reasons(outcome)[2] == (
        "Consent by head was 50.0% of the owners taking part (120 of 240), not more than the half required."
    )


def test_it_does_not_count_exactly_half_of_the_participating_area_as_more_than_half():
    outcome = owners_vote(present=(240, "24000"), yes=(121, "12000"), no=(119, "12000"))
    assert not outcome.passed


def test_it_passes_an_ordinary_matter_with_one_owner_and_one_hundredth_of_a_metre_more_than_half():
    outcome = owners_vote(present=(240, "24000.00"), yes=(121, "12000.01"), no=(119, "11999.99"))
    assert outcome.passed
    assert reasons(outcome)[2:] == [
        "Consent by head was 50.4% of the owners taking part (121 of 240), more than the half required.",
        # 50.00004% is more than half: shown as 50.1%, not as a 50.0% that reads as exactly half.
        "Consent by floor area was 50.1% of the area taking part (12000.01 of 24000.00 m²), "
        "more than the half required.",
    ]


def test_it_fails_an_ordinary_matter_passing_by_head_but_not_by_area():
    outcome = owners_vote(present=(240, "24000"), yes=(200, "10000"), no=(40, "14000"))
    assert outcome.participation_met
    assert not outcome.passed


def test_it_counts_abstaining_owners_against_under_278():
    # 130 for and 100 against is a majority of the votes cast, but 130 of the 260 owners taking part is half.
    outcome = owners_vote(present=(260, "26000"), yes=(130, "20000"), no=(100, "5000"), abstain=(30, "1000"))
    assert outcome.participation_met
    assert not outcome.passed
    assert outcome.figures["consent_by_head"] == Fraction(1, 2)
    assert (
        reasons(outcome)[-1]
        == "Of those taking part, 30 abstained or did not vote; they count as not in favour."
    )


# Owners: Civil Code art. 278, a major matter (items 6-8: three-quarters or more of those taking part)


def test_it_passes_a_major_matter_at_exactly_three_quarters():
    outcome = owners_vote(present=(240, "24000"), yes=(180, "18000"), no=(60, "6000"), major=True)
    assert outcome.passed
    assert outcome.figures["consent_by_head"] == Fraction(3, 4)
    assert outcome.figures["consent_by_area"] == Fraction(3, 4)
    assert reasons(outcome)[2:] == [
        "Consent by head was 75.0% of the owners taking part (180 of 240), "
        "at least the three-quarters required for a major matter.",
        "Consent by floor area was 75.0% of the area taking part (18000 of 24000 m²), "
        "at least the three-quarters required for a major matter.",
    ]


def test_it_fails_a_major_matter_one_owner_under_three_quarters():
    outcome = owners_vote(present=(240, "24000"), yes=(179, "18000"), no=(61, "6000"), major=True)
    assert not outcome.passed


def test_it_fails_a_major_matter_just_under_three_quarters_by_area():
    outcome = owners_vote(present=(240, "24000"), yes=(180, "17999.99"), no=(60, "6000.01"), major=True)
    assert not outcome.passed
    # 74.99996% shows as 74.9%, never as a 75.0% that reads as enough.
    assert outcome.figures["consent_by_area_percent"] == "74.9%"


def test_it_fails_a_major_matter_passing_by_head_but_failing_by_area():
    outcome = owners_vote(present=(240, "24000"), yes=(200, "12000"), no=(40, "12000"), major=True)
    assert outcome.participation_met
    assert not outcome.passed
    assert reasons(outcome)[2:] == [
        "Consent by head was 83.3% of the owners taking part (200 of 240), "
        "at least the three-quarters required for a major matter.",
        "Consent by floor area was 50.0% of the area taking part (12000 of 24000 m²), "
        "below the three-quarters required for a major matter.",
    ]


def test_it_fails_as_a_major_matter_what_passes_as_an_ordinary_one():
    votes = {"present": (240, "24000"), "yes": (168, "16800"), "no": (72, "7200")}
    assert owners_vote(**votes).passed
    assert not owners_vote(**votes, major=True).passed


def test_it_still_needs_two_thirds_participation_for_a_major_matter():
    outcome = owners_vote(present=(190, "19000"), yes=(190, "19000"), major=True)
    assert not outcome.participation_met
    assert not outcome.passed


# Impossible counts


@pytest.mark.parametrize("rule", DecisionRule.values)
def test_it_refuses_more_votes_than_people_taking_part(rule):
    with pytest.raises(
        ValueError, match=r"More votes were counted \(11\) than there are people taking part \(10\)"
    ):
        decide(rule=rule, electorate=Electorate(20), present=Turnout(10), count=Count(5, 5, 1))


@pytest.mark.parametrize("rule", DecisionRule.values)
def test_it_refuses_more_taking_part_than_eligible(rule):
    with pytest.raises(ValueError, match="More are taking part"):
        decide(rule=rule, electorate=Electorate(9), present=Turnout(10), count=Count(5, 5))


def test_it_refuses_more_floor_area_taking_part_than_eligible():
    with pytest.raises(ValueError, match="exceeds the eligible area"):
        owners_vote(eligible=(300, "30000"), present=(250, "30000.01"))


def test_it_refuses_more_floor_area_voting_than_taking_part():
    with pytest.raises(ValueError, match="floor area voting .* exceeds the floor area taking part"):
        owners_vote(present=(250, "25000"), yes=(200, "20000"), no=(50, "5000.01"))


def test_it_refuses_floor_area_in_a_residents_vote_without_eligible_area():
    with pytest.raises(ValueError, match="exceeds the floor area taking part"):
        decide(
            rule=DecisionRule.MAJORITY_OF_CAST,
            electorate=Electorate(10),
            present=Turnout(10),
            count=Count(6, 4, yes_area=D(80)),
        )


def test_it_refuses_an_unknown_rule():
    with pytest.raises(ValueError, match="Unknown decision rule: unanimity"):
        residents_vote("unanimity", yes=1)


def test_it_accepts_a_rule_given_as_its_stored_value():
    assert residents_vote("two_thirds", yes=2, no=1).passed


# The working shown on the publication


def test_it_shows_the_exact_shares_and_their_display():
    outcome = owners_vote(eligible=(300, "9000"), present=(200, "6000"), yes=(120, "3100"), no=(80, "2900"))
    figures = outcome.figures
    assert figures["turnout_by_head"] == Fraction(2, 3)
    assert figures["turnout_by_head_percent"] == "66.7%"
    assert figures["turnout_by_area"] == Fraction(2, 3)
    assert figures["consent_by_head"] == Fraction(3, 5)
    assert figures["consent_by_head_percent"] == "60.0%"
    assert figures["consent_by_area"] == Fraction(31, 60)
    assert figures["consent_by_area_percent"] == "51.7%"
    assert figures["required_turnout"] == Fraction(2, 3)
    assert figures["required_consent"] == Fraction(1, 2)
    assert figures["required_consent_percent"] == "50.0%"
    assert figures["consent_strict"] is True
    assert figures["consent_base"] == "present"
    assert (figures["present_area"], figures["yes_area"]) == (D(6000), D(3100))


def test_it_shows_the_residents_working():
    outcome = residents_vote(DecisionRule.TWO_THIRDS, eligible=120, present=90, yes=50, no=30, abstain=10)
    assert outcome.figures == {
        "rule": "two_thirds",
        "major": False,
        "electorate_heads": 120,
        "present_heads": 90,
        "yes_heads": 50,
        "no_heads": 30,
        "abstain_heads": 10,
        "votes_cast": 80,
        "turnout_by_head": Fraction(3, 4),
        "turnout_by_head_percent": "75.0%",
        "consent_base": "votes_cast",
        "consent_by_head": Fraction(5, 8),
        "consent_by_head_percent": "62.5%",
        "required_consent": Fraction(2, 3),
        "required_consent_percent": "66.7%",
        "consent_strict": False,
    }


def test_it_never_uses_floats():
    outcome = owners_vote(present=(250, "25000.55"), yes=(130, "13000.27"), no=(120, "12000.28"))
    assert not any(isinstance(value, float) for value in outcome.figures.values())


@pytest.mark.parametrize(
    ("yes", "no", "shown"),
    [
        (1, 2, "33.3%"),
        (2, 1, "66.7%"),
        (1, 1999, "0.1%"),
        (1, 2001, "0.0%"),
        (1, 0, "100.0%"),
        (0, 1, "0.0%"),
    ],
)
def test_it_rounds_a_share_to_the_nearest_tenth_of_a_percent(yes, no, shown):
    outcome = residents_vote(DecisionRule.MAJORITY_OF_CAST, eligible=3000, present=3000, yes=yes, no=no)
    assert outcome.figures["consent_by_head_percent"] == shown


def test_it_gives_the_figures_as_json_with_exact_fractions():
    outcome = owners_vote(eligible=(300, "9000.50"), present=(200, "6000.50"), yes=(150, "4500.25"))
    stored = outcome.figures_as_json()
    assert stored["turnout_by_head"] == "2/3"
    assert stored["present_area"] == "6000.50"
    assert stored["consent_by_head"] == "3/4"
    assert Fraction(stored["consent_by_area"]) == Fraction(D("4500.25")) / Fraction(D("6000.50"))
    assert json.loads(json.dumps(stored)) == stored


def test_it_keeps_the_reasons_in_each_readers_language():
    outcome = residents_vote(DecisionRule.MAJORITY_OF_CAST, yes=6, no=4)
    assert all(isinstance(reason, Promise) for reason in outcome.reasons)


def test_it_explains_a_passed_owners_vote_in_full():
    outcome = owners_vote(
        eligible=(300, "30000"), present=(250, "26000"), yes=(200, "20000"), no=(50, "6000")
    )
    assert (outcome.passed, outcome.participation_met) == (True, True)
    assert reasons(outcome) == [
        "Turnout by head was 83.3% (250 of 300 owners), at least the two-thirds required.",
        "Turnout by floor area was 86.7% (26000 of 30000 m²), at least the two-thirds required.",
        "Consent by head was 80.0% of the owners taking part (200 of 250), more than the half required.",
        "Consent by floor area was 76.9% of the area taking part (20000 of 26000 m²), "
        "more than the half required.",
    ]
