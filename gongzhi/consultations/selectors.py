"""Every read of consultations, scoped to the user.

A consultation is seen by its community's residents (to co-sign and follow it), by its participants, by staff
who oversee its region, and by everyone when the community publishes its record. Anything else is a 404."""

import datetime
import math
from decimal import Decimal
from fractions import Fraction

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from gongzhi.consultations import rules, services
from gongzhi.consultations.models import (
    Attendance,
    Ballot,
    BallotReceipt,
    Consultation,
    CoSign,
    Event,
    HallTally,
    Motion,
    Objection,
    Participant,
    Reply,
    RollEntry,
    RuleSet,
    Task,
    VoteUnit,
)
from gongzhi.core.models import Organisation, Region, Resident
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, in_scope, scope_organisation_ids, scope_regions
from gongzhi.core.selectors import regions_where


def consultations_visible_to(user) -> QuerySet[Consultation]:
    if acts_as_superuser(user):
        return Consultation.objects.all()
    visible = Q(is_public=True)
    if user.is_authenticated:
        visible |= in_scope(user, Perm.VIEW_CONSULTATIONS, field="community")
        visible |= Q(community_id__in=Resident.objects.filter(user=user).values("community_id"))
        taking_part = Q(resident__user=user) | Q(household__members__user=user)
        organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
        if organisation_ids:
            taking_part |= Q(organisation_id__in=organisation_ids)
        visible |= Exists(Participant.objects.filter(taking_part, consultation=OuterRef("pk")))
    return Consultation.objects.filter(visible)


def access_consultation(user, consultation_id: int) -> Consultation:
    return get_object_or_404(
        consultations_visible_to(user).select_related(
            "community", "rule_set", "proposed_by", "source_matter"
        ),
        pk=consultation_id,
    )


def consultations_managed_by(user) -> QuerySet[Consultation]:
    """Consultations of the communities where the user runs consultations."""
    return Consultation.objects.filter(in_scope(user, Perm.MANAGE_CONSULTATIONS, field="community"))


def access_managed_consultation(user, consultation_id: int) -> Consultation:
    return get_object_or_404(
        consultations_managed_by(user).select_related("community", "rule_set", "source_matter"),
        pk=consultation_id,
    )


def access_motion(user, motion_id: int) -> Motion:
    return get_object_or_404(
        Motion.objects.filter(consultation__in=consultations_visible_to(user).values("pk")).select_related(
            "consultation__rule_set", "consultation__community"
        ),
        pk=motion_id,
    )


def public_record(consultation: Consultation) -> QuerySet[Event]:
    """Every step: who, when, what."""
    return consultation.events.select_related("actor").order_by("at", "pk")


def _used_by(communities) -> Q:
    """A community uses its own rule sets and its street's (services.rule_set_usable checks one)."""
    return Q(region_id__in={region_id for c in communities for region_id in (c.pk, c.parent_id)})


def rule_sets_for(community) -> QuerySet[RuleSet]:
    """The rule sets a community may use."""
    return RuleSet.objects.filter(_used_by([community])).order_by("name")


def rule_set_regions(user) -> QuerySet[Region]:
    """The communities and streets whose rule sets the user keeps."""
    return regions_where(
        user, Perm.MANAGE_CONSULTATIONS, levels=[Region.Level.COMMUNITY, Region.Level.STREET]
    )


def rule_sets_usable_by(user) -> QuerySet[RuleSet]:
    """The rule sets of the regions the user keeps, and those the user's communities use (their streets')."""
    communities = [
        region
        for region in scope_regions(user, Perm.MANAGE_CONSULTATIONS)
        if region.level == Region.Level.COMMUNITY
    ]
    return (
        RuleSet.objects.filter(in_scope(user, Perm.MANAGE_CONSULTATIONS) | _used_by(communities))
        .select_related("region", "created_by")
        .order_by("region__path", "name")
    )


def _visible_pks(user):
    return consultations_visible_to(user).values("pk")


def hall_tallies_of(consultation: Consultation) -> QuerySet[HallTally]:
    return HallTally.objects.filter(motion__consultation=consultation)


def access_hall_tally(user, tally_id: int) -> HallTally:
    return get_object_or_404(
        HallTally.objects.filter(motion__consultation__in=_visible_pks(user)).select_related(
            "motion__consultation"
        ),
        pk=tally_id,
    )


def access_objection(user, objection_id: int) -> Objection:
    return get_object_or_404(
        Objection.objects.filter(consultation__in=_visible_pks(user)).select_related("consultation"),
        pk=objection_id,
    )


def access_task(user, task_id: int) -> Task:
    return get_object_or_404(
        Task.objects.filter(consultation__in=_visible_pks(user)).select_related("consultation"), pk=task_id
    )


def voted_motion_ids(consultation: Consultation, roll_entry) -> list[int]:
    """The motions a voter has voted on: ballots, or a secret ballot's receipts (never how)."""
    if roll_entry is None:
        return []
    model = BallotReceipt if consultation.rule_set.secret_ballot else Ballot
    return sorted(model.objects.filter(voter=roll_entry).values_list("motion_id", flat=True))


def organisations_for(consultation: Consultation) -> QuerySet[Organisation]:
    """Organisations that can take part in a community's consultation: those of the community and those
    above it (the street's social-work agency, a district property company)."""
    community = consultation.community
    return Organisation.objects.filter(
        Q(region__path__startswith=community.path) | Q(region_id__in=community.ancestor_ids())
    ).order_by("name")


def quorum_now(consultation: Consultation) -> dict:
    """The quorum at this moment, from the inputs voting_close uses: the electorate is the roll (frozen when
    voting opened) or, before that, the participants who would be on it; present are those of them signed
    in and not gone."""
    rule_set = consultation.rule_set
    if consultation.voting_opened_at:
        voters, participant = RollEntry.objects.filter(consultation=consultation), "participant_id"
    else:
        voters = consultation.participants.filter(
            votes=True, kind__in=services.VOTING_KINDS[rule_set.vote_unit]
        )
        participant = "pk"
    present = Exists(
        Attendance.objects.filter(
            consultation=consultation, participant_id=OuterRef(participant), left_at=None
        )
    )
    totals = voters.aggregate(
        heads=Count("pk"),
        area=Sum("floor_area"),
        present_heads=Count("pk", filter=present),
        present_area=Sum("floor_area", filter=present),
    )
    electorate = rules.Electorate(heads=totals["heads"], area=totals["area"] or Decimal(0))
    turnout = rules.Turnout(heads=totals["present_heads"], area=totals["present_area"] or Decimal(0))
    try:
        met = rules.quorum_met(
            basis=rule_set.quorum_basis, share=rule_set.quorum_share, electorate=electorate, present=turnout
        )
    except ValueError:
        met = False
    share = Fraction(rule_set.quorum_share)
    return {
        "electorate": electorate,
        "present": turnout,
        "met": met,
        "share_percent": f"{float(share * 100):g}%",
        "heads_needed": math.ceil(share * electorate.heads),
        "by_area": rule_set.quorum_basis == rules.QuorumBasis.OWNERS or rule_set.vote_unit == VoteUnit.OWNER,
    }


def motion_reasons(motion: Motion) -> list[str]:
    """Why a decided motion passed or not, in the active language. The reasons are not stored as text: they
    are decided again from the figures voting_close recorded (services.motion_decision, the same decision
    the close made), so one motion reads in Chinese to a Chinese reader and in English to an English one.
    An undecided motion has none."""
    if motion.passed is None:
        return []
    quorum, outcome = services.motion_decision(motion.figures)
    reasons = [str(reason) for reason in outcome.reasons]
    if not quorum:
        reasons.append(_("The quorum was not met."))
    return reasons


def reply_counts(consultation: Consultation) -> dict[str, int]:
    """How the participants answered the meeting's invitation, for the staff planning the hall: in the hall,
    online, not attending, no reply yet. One query."""
    return consultation.participants.aggregate(
        hall=Count("pk", filter=Q(reply=Reply.HALL)),
        online=Count("pk", filter=Q(reply=Reply.ONLINE)),
        absent=Count("pk", filter=Q(reply=Reply.ABSENT)),
        none=Count("pk", filter=Q(reply="")),
    )


def resident_ids_active(region: Region, start: datetime.datetime, end: datetime.datetime) -> QuerySet:
    """The ids of residents living in the region who co-signed a topic or voted in [start, end) (the
    participation ladder's fourth step). An open ballot has its time; a secret ballot keeps none, so it
    counts when its consultation's voting opened. Votes through a household or an organisation name no
    resident and do not count. A values query, so the caller may use it as a subquery."""
    voters = RollEntry.objects.filter(
        Q(pk__in=Ballot.objects.filter(cast_at__gte=start, cast_at__lt=end).values("voter"))
        | Q(
            pk__in=BallotReceipt.objects.filter(
                motion__consultation__voting_opened_at__gte=start,
                motion__consultation__voting_opened_at__lt=end,
            ).values("voter")
        )
    )
    return (
        Resident.objects.filter(region__path__startswith=region.path)
        .filter(
            Q(pk__in=CoSign.objects.filter(at__gte=start, at__lt=end).values("resident"))
            | Q(pk__in=voters.values("participant__resident"))
        )
        .values("pk")
    )
