"""Decision rules for consultations (协商议事): quorum, participation and the count, decided exactly.

Pure functions over plain numbers, no database. Every comparison is made with fractions.Fraction, never a
float: two-thirds is exactly 2/3, and a Decimal floor area converts to a Fraction without loss.

Impossible input (a negative number, more votes than people taking part, an unknown rule ...) raises
ValueError with a translated message the services can show as it is. Passing the wrong type (a float, a
bool) is a programming error and raises TypeError.
"""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.db import models
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

HALF = Fraction(1, 2)
TWO_THIRDS = Fraction(2, 3)
THREE_QUARTERS = Fraction(3, 4)


class QuorumBasis(models.TextChoices):
    PERSONS = "persons", _("Share of eligible persons present")
    HOUSEHOLDS = "households", _("Share of eligible households present")
    OWNERS = "owners", _("Share of owners present, by head and by floor area")


class DecisionRule(models.TextChoices):
    MAJORITY_OF_CAST = "majority_of_cast", _("More than half of the votes cast")
    MAJORITY_OF_PRESENT = "majority_of_present", _("More than half of those taking part")
    TWO_THIRDS = "two_thirds", _("At least two-thirds of the votes cast")
    CIVIL_CODE_278 = "civil_code_278", _("Owners' decision under Civil Code art. 278")


def _heads(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}.")
    if value < 0:
        raise ValueError(gettext("A number of people cannot be negative (%(value)s).") % {"value": value})
    return value


def _area(name: str, value: Decimal | int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}.")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(gettext("A floor area must be a finite number."))
    if value < 0:
        raise ValueError(gettext("A floor area cannot be negative (%(value)s m²).") % {"value": value})
    return value


def _held(heads: int, area: Decimal) -> None:
    # Exclusive floor area always belongs to somebody: area with no owner is a miscount, not a vote.
    if area and not heads:
        raise ValueError(
            gettext("A floor area (%(area)s m²) was given with nobody holding it.") % {"area": area}
        )


@dataclass(frozen=True)
class Electorate:
    """Everyone eligible, frozen when voting opens. Areas only matter for owners (0 otherwise)."""

    heads: int
    area: Decimal = Decimal(0)

    def __post_init__(self):
        _heads("heads", self.heads)
        object.__setattr__(self, "area", _area("area", self.area))
        _held(self.heads, self.area)


@dataclass(frozen=True)
class Turnout:
    """Those taking part at the moment of the vote: the caller passes who signed in and has not left."""

    heads: int
    area: Decimal = Decimal(0)

    def __post_init__(self):
        _heads("heads", self.heads)
        object.__setattr__(self, "area", _area("area", self.area))
        _held(self.heads, self.area)


@dataclass(frozen=True)
class Count:
    """The ballots: yes, no and abstain, by head and (for owners) by floor area."""

    yes_heads: int
    no_heads: int
    abstain_heads: int = 0
    yes_area: Decimal = Decimal(0)
    no_area: Decimal = Decimal(0)
    abstain_area: Decimal = Decimal(0)

    def __post_init__(self):
        for choice in ("yes", "no", "abstain"):
            heads = _heads(f"{choice}_heads", getattr(self, f"{choice}_heads"))
            area = _area(f"{choice}_area", getattr(self, f"{choice}_area"))
            object.__setattr__(self, f"{choice}_area", area)
            _held(heads, area)

    @property
    def cast_heads(self) -> int:
        """Votes cast: for and against. An abstention is not a vote cast."""
        return self.yes_heads + self.no_heads

    @property
    def ballot_heads(self) -> int:
        return self.yes_heads + self.no_heads + self.abstain_heads

    @property
    def ballot_area(self) -> Decimal:
        return self.yes_area + self.no_area + self.abstain_area


@dataclass(frozen=True)
class Outcome:
    """The verdict, why (sentences a resident can read on the published resolution) and the working.

    figures holds the exact Fraction of every share used, its display string ("66.7%") and the counts
    behind it; figures_as_json() gives the same with Fractions as "2/3" strings, for a JSONField.
    """

    passed: bool
    participation_met: bool
    reasons: tuple[str, ...]
    figures: dict

    def figures_as_json(self) -> dict:
        def plain(value):
            if isinstance(value, Fraction):
                return f"{value.numerator}/{value.denominator}"
            if isinstance(value, Decimal):
                return format(value, "f")
            return value

        return {key: plain(value) for key, value in self.figures.items()}


def _rule(rule: str) -> DecisionRule:
    if rule not in DecisionRule.values:
        raise ValueError(gettext("Unknown decision rule: %(rule)s.") % {"rule": rule})
    return DecisionRule(rule)


def _basis(basis: str) -> QuorumBasis:
    if basis not in QuorumBasis.values:
        raise ValueError(gettext("Unknown quorum basis: %(basis)s.") % {"basis": basis})
    return QuorumBasis(basis)


def _required_share(share: Fraction | Decimal | str) -> Fraction:
    if isinstance(share, bool | float) or not isinstance(share, Fraction | Decimal | str | int):
        raise TypeError(f"share must be a Fraction, Decimal or str, not {type(share).__name__}.")
    try:
        share = Fraction(share)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise ValueError(gettext("The quorum must be a share such as 1/2 or 0.5.")) from None
    if not 0 <= share <= 1:
        raise ValueError(gettext("The quorum must be a share between 0 and 1."))
    return share


def _check_turnout(electorate: Electorate, present: Turnout) -> None:
    if present.heads > electorate.heads:
        raise ValueError(
            gettext("More are taking part (%(present)s) than are eligible (%(eligible)s).")
            % {"present": present.heads, "eligible": electorate.heads}
        )
    if present.area > electorate.area:
        raise ValueError(
            gettext(
                "The floor area taking part (%(present)s m²) exceeds the eligible area (%(eligible)s m²)."
            )
            % {"present": present.area, "eligible": electorate.area}
        )


def _check_count(present: Turnout, count: Count) -> None:
    if count.ballot_heads > present.heads:
        raise ValueError(
            gettext("More votes were counted (%(votes)s) than there are people taking part (%(present)s).")
            % {"votes": count.ballot_heads, "present": present.heads}
        )
    if count.ballot_area > present.area:
        raise ValueError(
            gettext(
                "The floor area voting (%(votes)s m²) exceeds the floor area taking part (%(present)s m²)."
            )
            % {"votes": count.ballot_area, "present": present.area}
        )


def _share(part: int | Decimal, whole: int | Decimal) -> Fraction | None:
    """part/whole exactly, or None when there is nothing to take a share of."""
    return Fraction(part) / Fraction(whole) if whole else None


def quorum_met(
    *, basis: str, share: Fraction | Decimal | str, electorate: Electorate, present: Turnout
) -> bool:
    """Whether those present reach the required share of the electorate (inclusive: 1/2 means half or more).

    PERSONS and HOUSEHOLDS count heads (the caller counts households as heads); OWNERS needs the share both
    by head and by floor area. An empty electorate never meets a quorum.
    """
    basis = _basis(basis)
    required = _required_share(share)
    _check_turnout(electorate, present)
    shares = [_share(present.heads, electorate.heads)]
    if basis == QuorumBasis.OWNERS:
        shares.append(_share(present.area, electorate.area))
    return all(value is not None and value >= required for value in shares)


def _tenths(value: Fraction, rounding: str) -> int:
    """value as a whole number of tenths of a percent, rounded "floor", "ceiling" or "half_up"."""
    scaled = value * 1000
    if rounding == "floor":
        return scaled.numerator // scaled.denominator
    if rounding == "ceiling":
        return -(-scaled.numerator // scaled.denominator)
    return (scaled + HALF).numerator // (scaled + HALF).denominator


def _format_tenths(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}%"


def _percent(
    value: Fraction | None, *, required: Fraction | None = None, strict=False, met=None
) -> str | None:
    """The share to one decimal, rounded to nearest, except next to the threshold.

    Rounding must never make the shown figure contradict the verdict: 66.66% fails "two-thirds or more"
    yet rounds to 66.7%, which is what two-thirds itself shows. A share that fails is then shown rounded
    down (66.6%) and one that passes rounded up (50.01% -> 50.1% for "more than half").
    """
    if value is None:
        return None
    shown = _tenths(value, "half_up")
    if required is not None:
        bound = _tenths(required, "half_up")
        if met and (shown < bound or (strict and shown == bound)):
            shown = _tenths(value, "ceiling")
        elif not met and (shown > bound or (not strict and shown == bound)):
            shown = _tenths(value, "floor")
    return _format_tenths(shown)


def _interpolate(message, values: dict) -> str:
    return str(message) % values


# Reasons stay lazy so a published resolution reads in each reader's language.
_reason = lazy(_interpolate, str)

_TURNOUT = {
    ("head", True): _(
        "Turnout by head was %(share)s (%(part)s of %(whole)s owners), at least the two-thirds required."
    ),
    ("head", False): _(
        "Turnout by head was %(share)s (%(part)s of %(whole)s owners), below the two-thirds required."
    ),
    ("area", True): _(
        "Turnout by floor area was %(share)s (%(part)s of %(whole)s m²), at least the two-thirds required."
    ),
    ("area", False): _(
        "Turnout by floor area was %(share)s (%(part)s of %(whole)s m²), below the two-thirds required."
    ),
}
_NO_ELECTORATE = {
    "head": _("No owners are on the roll, so turnout cannot reach the two-thirds required."),
    "area": _("No floor area is recorded for the owners, so turnout cannot reach the two-thirds required."),
}
_CONSENT = {
    ("head", HALF, True): _(
        "Consent by head was %(share)s of the owners taking part (%(part)s of %(whole)s), "
        "more than the half required."
    ),
    ("head", HALF, False): _(
        "Consent by head was %(share)s of the owners taking part (%(part)s of %(whole)s), "
        "not more than the half required."
    ),
    ("head", THREE_QUARTERS, True): _(
        "Consent by head was %(share)s of the owners taking part (%(part)s of %(whole)s), "
        "at least the three-quarters required for a major matter."
    ),
    ("head", THREE_QUARTERS, False): _(
        "Consent by head was %(share)s of the owners taking part (%(part)s of %(whole)s), "
        "below the three-quarters required for a major matter."
    ),
    ("area", HALF, True): _(
        "Consent by floor area was %(share)s of the area taking part (%(part)s of %(whole)s m²), "
        "more than the half required."
    ),
    ("area", HALF, False): _(
        "Consent by floor area was %(share)s of the area taking part (%(part)s of %(whole)s m²), "
        "not more than the half required."
    ),
    ("area", THREE_QUARTERS, True): _(
        "Consent by floor area was %(share)s of the area taking part (%(part)s of %(whole)s m²), "
        "at least the three-quarters required for a major matter."
    ),
    ("area", THREE_QUARTERS, False): _(
        "Consent by floor area was %(share)s of the area taking part (%(part)s of %(whole)s m²), "
        "below the three-quarters required for a major matter."
    ),
}
_IN_FAVOUR = {
    (DecisionRule.MAJORITY_OF_CAST, True): _(
        "Votes in favour were %(share)s of the votes cast (%(part)s of %(whole)s), "
        "more than the half required."
    ),
    (DecisionRule.MAJORITY_OF_CAST, False): _(
        "Votes in favour were %(share)s of the votes cast (%(part)s of %(whole)s), "
        "not more than the half required."
    ),
    (DecisionRule.TWO_THIRDS, True): _(
        "Votes in favour were %(share)s of the votes cast (%(part)s of %(whole)s), "
        "at least the two-thirds required."
    ),
    (DecisionRule.TWO_THIRDS, False): _(
        "Votes in favour were %(share)s of the votes cast (%(part)s of %(whole)s), "
        "below the two-thirds required."
    ),
    (DecisionRule.MAJORITY_OF_PRESENT, True): _(
        "Votes in favour were %(share)s of those taking part (%(part)s of %(whole)s), "
        "more than the half required."
    ),
    (DecisionRule.MAJORITY_OF_PRESENT, False): _(
        "Votes in favour were %(share)s of those taking part (%(part)s of %(whole)s), "
        "not more than the half required."
    ),
}
_NO_VOTES_CAST = _("No votes were cast for or against, so the motion is not passed.")
_NOBODY_TAKING_PART = _("Nobody took part in the vote, so the motion is not passed.")
_ABSTENTIONS_NOT_CAST = _("Abstentions (%(abstain)s) do not count as votes cast.")
_SILENCE_COUNTS_AGAINST = _(
    "Of those taking part, %(silent)s abstained or did not vote; they count as not in favour."
)
_TOO_FEW_OWNERS = _("Too few owners took part for the vote to decide the matter (Civil Code art. 278).")

# A rule's consent threshold and whether it is strict ("more than") or inclusive ("at least").
_THRESHOLDS = {
    DecisionRule.MAJORITY_OF_CAST: (HALF, True),
    DecisionRule.MAJORITY_OF_PRESENT: (HALF, True),
    DecisionRule.TWO_THIRDS: (TWO_THIRDS, False),
}


def _reaches(value: Fraction | None, required: Fraction, strict: bool) -> bool:
    if value is None:
        return False
    return value > required if strict else value >= required


def _amount(value: int | Decimal) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _sentence(message, *, share: str, part: int | Decimal, whole: int | Decimal):
    return _reason(message, {"share": share, "part": _amount(part), "whole": _amount(whole)})


def decide(
    *, rule: str, electorate: Electorate, present: Turnout, count: Count, major: bool = False
) -> Outcome:
    """Whether the motion passes under the rule, with the reasons and the working.

    Only CIVIL_CODE_278 has a participation threshold of its own; under the other rules participation_met
    is True and the consultation's quorum is quorum_met's business. `major` marks a matter of items 6-8 of
    art. 278 (three-quarters needed); the other rules have a single threshold and only record the flag.
    """
    rule = _rule(rule)
    _check_turnout(electorate, present)
    _check_count(present, count)
    figures = {
        "rule": rule.value,
        "major": bool(major),
        "electorate_heads": electorate.heads,
        "present_heads": present.heads,
        "yes_heads": count.yes_heads,
        "no_heads": count.no_heads,
        "abstain_heads": count.abstain_heads,
        "votes_cast": count.cast_heads,
        "turnout_by_head": _share(present.heads, electorate.heads),
    }
    figures["turnout_by_head_percent"] = _percent(figures["turnout_by_head"])
    if rule == DecisionRule.CIVIL_CODE_278:
        return _decide_owners(
            electorate=electorate, present=present, count=count, major=major, figures=figures
        )

    required, strict = _THRESHOLDS[rule]
    whole = present.heads if rule == DecisionRule.MAJORITY_OF_PRESENT else count.cast_heads
    consent = _share(count.yes_heads, whole)
    passed = _reaches(consent, required, strict)
    figures |= {
        "consent_base": "present" if rule == DecisionRule.MAJORITY_OF_PRESENT else "votes_cast",
        "consent_by_head": consent,
        "consent_by_head_percent": _percent(consent, required=required, strict=strict, met=passed),
        "required_consent": required,
        "required_consent_percent": _percent(required),
        "consent_strict": strict,
    }
    if consent is None:
        nobody = rule == DecisionRule.MAJORITY_OF_PRESENT
        return Outcome(False, True, (_NOBODY_TAKING_PART if nobody else _NO_VOTES_CAST,), figures)
    reasons = [
        _sentence(
            _IN_FAVOUR[rule, passed],
            share=figures["consent_by_head_percent"],
            part=count.yes_heads,
            whole=whole,
        )
    ]
    if rule == DecisionRule.MAJORITY_OF_PRESENT and present.heads > count.cast_heads:
        reasons.append(_reason(_SILENCE_COUNTS_AGAINST, {"silent": present.heads - count.cast_heads}))
    elif rule != DecisionRule.MAJORITY_OF_PRESENT and count.abstain_heads:
        reasons.append(_reason(_ABSTENTIONS_NOT_CAST, {"abstain": count.abstain_heads}))
    return Outcome(passed, True, tuple(reasons), figures)


def _decide_owners(
    *, electorate: Electorate, present: Turnout, count: Count, major: bool, figures: dict
) -> Outcome:
    # Civil Code art. 278: owners holding two-thirds or more (以上 includes the bound, art. 1259) of the
    # exclusive floor area and two-thirds or more of all owners by head must take part. Items 6-8 (raising
    # maintenance funds, rebuilding or renovating, changing the use of common parts or running a business
    # on them) then need three-quarters or more of the participating area and heads; every other matter
    # needs more than half (过半数, strictly) of both. Those taking part who abstain or do not vote are
    # participants who did not consent.
    turnout_by_area = _share(present.area, electorate.area)
    head_ok = _reaches(figures["turnout_by_head"], TWO_THIRDS, strict=False)
    area_ok = _reaches(turnout_by_area, TWO_THIRDS, strict=False)
    participation_met = head_ok and area_ok
    required, strict = (THREE_QUARTERS, False) if major else (HALF, True)
    consent_by_head = _share(count.yes_heads, present.heads)
    consent_by_area = _share(count.yes_area, present.area)
    head_consents = _reaches(consent_by_head, required, strict)
    area_consents = _reaches(consent_by_area, required, strict)
    figures |= {
        "electorate_area": electorate.area,
        "present_area": present.area,
        "yes_area": count.yes_area,
        "no_area": count.no_area,
        "abstain_area": count.abstain_area,
        "turnout_by_head_percent": _percent(figures["turnout_by_head"], required=TWO_THIRDS, met=head_ok),
        "turnout_by_area": turnout_by_area,
        "turnout_by_area_percent": _percent(turnout_by_area, required=TWO_THIRDS, met=area_ok),
        "required_turnout": TWO_THIRDS,
        "required_turnout_percent": _percent(TWO_THIRDS),
        "consent_base": "present",
        "consent_by_head": consent_by_head,
        "consent_by_head_percent": _percent(
            consent_by_head, required=required, strict=strict, met=head_consents
        ),
        "consent_by_area": consent_by_area,
        "consent_by_area_percent": _percent(
            consent_by_area, required=required, strict=strict, met=area_consents
        ),
        "required_consent": required,
        "required_consent_percent": _percent(required),
        "consent_strict": strict,
    }

    reasons = []
    for measure, ok, part, whole in (
        ("head", head_ok, present.heads, electorate.heads),
        ("area", area_ok, present.area, electorate.area),
    ):
        if not whole:
            reasons.append(_NO_ELECTORATE[measure])
        else:
            share = figures[f"turnout_by_{measure}_percent"]
            reasons.append(_sentence(_TURNOUT[measure, ok], share=share, part=part, whole=whole))
    if not participation_met:
        reasons.append(_TOO_FEW_OWNERS)
        return Outcome(False, False, tuple(reasons), figures)

    for measure, ok, part, whole in (
        ("head", head_consents, count.yes_heads, present.heads),
        ("area", area_consents, count.yes_area, present.area),
    ):
        share = figures[f"consent_by_{measure}_percent"]
        reasons.append(_sentence(_CONSENT[measure, required, ok], share=share, part=part, whole=whole))
    if present.heads > count.cast_heads:
        reasons.append(_reason(_SILENCE_COUNTS_AGAINST, {"silent": present.heads - count.cast_heads}))
    return Outcome(head_consents and area_consents, True, tuple(reasons), figures)
