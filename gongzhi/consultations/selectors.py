"""Every read of consultations, scoped to the user.

A consultation is seen by its community's residents (to co-sign and follow it), by its participants, by staff
who oversee its region, and by everyone when the community publishes its record. Anything else is a 404."""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from gongzhi.consultations.models import (
    Ballot,
    BallotReceipt,
    Consultation,
    Event,
    HallTally,
    Motion,
    Objection,
    Participant,
    RuleSet,
    Task,
)
from gongzhi.core.models import Resident
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, in_scope, scope_organisation_ids


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


def rule_sets_for(community) -> QuerySet[RuleSet]:
    """The rule sets a community may use: its own and its street's."""
    return RuleSet.objects.filter(region_id__in=[community.pk, community.parent_id]).order_by("name")


def _visible_pks(user):
    return consultations_visible_to(user).values("pk")


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
