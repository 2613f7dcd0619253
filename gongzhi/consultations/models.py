"""Consultations (协商议事): a community's procedure from topic to implemented result, run by its own rules.

Rules are data (RuleSet). A Consultation moves through the procedure's steps; every step appends an Event,
the public record, which the database keeps append-only. Voting runs on a roll frozen when voting opens (one
entry per eligible person, household or owner unit, as the rule says). An open ballot is one Ballot row per
roll entry and motion. A secret ballot stores who voted (BallotReceipt) apart from what was voted
(SecretTally: running totals per choice, no row per vote), so nothing in the database joins a voter to a
choice. Hall votes (a show of hands or paper ballots) are entered as a HallTally by one staff member and
confirmed by a second.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.consultations.rules import DecisionRule, QuorumBasis
from gongzhi.core.models import Household, Organisation, Region, Resident

# Xiangzhou's rules of speech (香洲区社区协商议事规则), shown at every meeting unless a rule set has its own.
DEFAULT_SPEECH_RULES = "\n".join(
    [
        "发言不超时：每人每次发言不超过3分钟。",
        "不打断：他人发言时不插话、不打断。",
        "不跑题：发言围绕议题，不谈与议题无关的事。",
        "不攻击：对事不对人，不进行人身攻击。",
    ]
)


class VoteUnit(models.TextChoices):
    PERSON = "person", _("One vote per person")
    HOUSEHOLD = "household", _("One vote per household")
    OWNER = "owner", _("One vote per owner unit (counted by head and by floor area)")


class RuleSet(models.Model):
    """A named set of consultation rules (议事规则), kept by a community or by a street for all its
    communities."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("kept by"))
    name = models.CharField(_("name"), max_length=100)
    cosign_threshold = models.PositiveIntegerField(_("co-signers needed"), default=10)
    cosign_days = models.PositiveSmallIntegerField(_("days to gather co-signers"), default=14)
    review_days = models.PositiveSmallIntegerField(_("working days for the committee's review"), default=5)
    notice_days = models.PositiveSmallIntegerField(_("days of notice before the meeting"), default=3)
    quorum_basis = models.CharField(
        _("quorum counted by"), max_length=12, choices=QuorumBasis.choices, default=QuorumBasis.PERSONS
    )
    quorum_share = models.DecimalField(_("quorum share"), max_digits=5, decimal_places=4, default=0.5)
    vote_unit = models.CharField(_("who votes"), max_length=12, choices=VoteUnit.choices, default="person")
    decision_rule = models.CharField(
        _("decision rule"), max_length=20, choices=DecisionRule.choices, default=DecisionRule.MAJORITY_OF_CAST
    )
    publication_days = models.PositiveSmallIntegerField(_("days of publication (公示)"), default=7)
    objection_days = models.PositiveSmallIntegerField(_("days to object"), default=5)
    secret_ballot = models.BooleanField(_("secret ballot"), default=False)
    results_before_close = models.BooleanField(_("show results before voting closes"), default=False)
    speech_rules = models.TextField(_("rules of speech"), default=DEFAULT_SPEECH_RULES, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="rule_set_unique_name"),
            models.CheckConstraint(
                condition=Q(quorum_share__gt=0) & Q(quorum_share__lte=1), name="rule_set_quorum_share_valid"
            ),
            models.CheckConstraint(
                condition=Q(objection_days__lte=F("publication_days")),
                name="rule_set_objection_within_publication",
            ),
            models.CheckConstraint(
                condition=Q(quorum_basis__in=QuorumBasis.values), name="rule_set_basis_valid"
            ),
            models.CheckConstraint(
                condition=Q(decision_rule__in=DecisionRule.values), name="rule_set_rule_valid"
            ),
            models.CheckConstraint(condition=Q(vote_unit__in=VoteUnit.values), name="rule_set_unit_valid"),
            # The Civil Code's owners' rule counts owners by head and by floor area.
            models.CheckConstraint(
                condition=~Q(decision_rule=DecisionRule.CIVIL_CODE_278) | Q(vote_unit=VoteUnit.OWNER),
                name="rule_set_278_counts_owners",
            ),
        ]

    def __str__(self):
        return self.name


class Origin(models.TextChoices):
    RESIDENT = "resident", _("Proposed by residents")
    COMMITTEE = "committee", _("Proposed by the community committee")
    ORGANISATION = "organisation", _("Proposed by an organisation")
    MATTER = "matter", _("Raised from an escalated matter")
    SURVEY = "survey", _("Raised from a survey finding")


class Stage(models.TextChoices):
    COSIGNING = "cosigning", _("Gathering co-signers")
    REVIEW = "review", _("Awaiting the committee's review")
    LAPSED = "lapsed", _("Lapsed: not enough co-signers")
    DECLINED = "declined", _("Declined by the committee")
    PREPARING = "preparing", _("Preparing: participants and notice")
    VOTING = "voting", _("Voting")
    DECIDED = "decided", _("Decided")
    PUBLISHED = "published", _("Published (公示)")
    CLOSED = "closed", _("Closed: nothing was adopted")
    IMPLEMENTING = "implementing", _("Being implemented")
    EVALUATION = "evaluation", _("Participants evaluating the result")
    EVALUATED = "evaluated", _("Implemented and evaluated")


class Consultation(models.Model):
    Stage = Stage

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="+", verbose_name=_("rules"))
    title = models.CharField(_("topic"), max_length=100)
    description = models.TextField(_("description"))
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The matter it was raised from (a matter of this community); a survey finding is cited in source_note.
    source_matter = models.ForeignKey(
        "matters.Matter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source_note = models.CharField(_("source"), max_length=200, blank=True)
    # Civil Code art. 278 items 6-8 (raising maintenance funds; rebuilding or renovating; changing the use of
    # common parts or running a business on them): three-quarters needed. Using the funds is item 5, ordinary.
    is_major = models.BooleanField(_("major matter"), default=False)
    # Public by default: community affairs are published (居务公开); a topic about a few households' private
    # affairs can be kept to the community's residents and the participants.
    is_public = models.BooleanField(_("record public to everyone"), default=True)
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices)
    cosign_deadline = models.DateTimeField(null=True, blank=True)
    review_deadline = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(_("the committee's reason"), blank=True)
    meeting_at = models.DateTimeField(_("meeting"), null=True, blank=True)
    meeting_place = models.CharField(_("place"), max_length=200, blank=True)
    meeting_online = models.BooleanField(_("participants may also take part online"), default=True)
    # The seed of the meeting's rotating sign-in code (gongzhi.core.codes); never shown.
    code_secret = models.CharField(max_length=40)
    minutes = models.TextField(_("minutes"), blank=True)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    voting_opened_at = models.DateTimeField(null=True, blank=True)
    voting_closes_at = models.DateTimeField(_("voting closes"), null=True, blank=True)
    voting_closed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    publication_ends_at = models.DateTimeField(_("published until"), null=True, blank=True)
    objections_end_at = models.DateTimeField(_("objections until"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        constraints = [
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="consultation_stage_valid"),
            models.CheckConstraint(condition=Q(origin__in=Origin.values), name="consultation_origin_valid"),
            models.CheckConstraint(
                condition=~Q(origin=Origin.MATTER) | Q(source_matter__isnull=False),
                name="consultation_matter_origin_names_it",
            ),
            models.CheckConstraint(
                condition=~Q(stage=Stage.VOTING) | Q(voting_opened_at__isnull=False),
                name="consultation_voting_has_opened",
            ),
        ]
        indexes = [models.Index(fields=["community", "stage", "created_at"], name="consultation_list")]

    def __str__(self):
        return self.title


class CoSign(models.Model):
    """A resident co-signing a resident's topic (附议); once each."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="cosigns")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consultation", "resident"], name="cosign_once_per_resident")
        ]

    def __str__(self):
        return f"{self.consultation_id}:{self.resident_id}"


class ParticipantKind(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    HOUSEHOLD = "household", _("Household")
    OWNER = "owner", _("Owner")
    REPRESENTATIVE = "representative", _("Residents' representative")
    WORK_UNIT = "work_unit", _("Work unit")
    ORGANISATION = "organisation", _("Organisation")
    PROPERTY_COMPANY = "property_company", _("Property company")
    EXPERT = "expert", _("Expert (advises, does not vote)")


class Reply(models.TextChoices):
    """A participant's answer to the notice, which is the meeting's invitation ("": no reply yet)."""

    HALL = "hall", _("Attending in the hall")
    ONLINE = "online", _("Taking part online")
    ABSENT = "absent", _("Not attending")


class Participant(models.Model):
    """A stakeholder of this topic (一事一议一主体). A person (resident, owner, representative) is a resident;
    a household votes through its head; an organisation through its staff; an expert advises only."""

    Kind = ParticipantKind
    Reply = Reply

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="participants")
    kind = models.CharField(_("kind"), max_length=20, choices=ParticipantKind.choices)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    # An owner's exclusive floor area (专有部分面积), counted by Civil Code art. 278.
    floor_area = models.DecimalField(_("floor area (m²)"), max_digits=9, decimal_places=2, default=0)
    votes = models.BooleanField(_("votes"), default=True)
    added_at = models.DateTimeField(default=timezone.now)
    # The reply to the invitation, by the person or for the household or organisation; staff plan the hall
    # (seats, the online link) by it. Private to the participant and the staff, so no Event records it.
    reply = models.CharField(_("reply"), max_length=8, choices=Reply.choices, blank=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    reply_note = models.CharField(_("note with the reply"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ParticipantKind.values), name="participant_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=ParticipantKind.EXPERT) | Q(votes=False),
                name="participant_expert_does_not_vote",
            ),
            models.CheckConstraint(condition=Q(floor_area__gte=0), name="participant_area_not_negative"),
            models.CheckConstraint(
                condition=Q(reply="", replied_at__isnull=True)
                | Q(reply__in=Reply.values, replied_at__isnull=False),
                name="participant_reply_valid",
            ),
            models.CheckConstraint(
                condition=Q(resident__isnull=False)
                | Q(household__isnull=False)
                | Q(organisation__isnull=False)
                | Q(kind=ParticipantKind.EXPERT),
                name="participant_is_someone",
            ),
            models.UniqueConstraint(
                fields=["consultation", "kind", "resident"],
                condition=Q(resident__isnull=False),
                name="participant_resident_once",
            ),
            models.UniqueConstraint(
                fields=["consultation", "household"],
                condition=Q(household__isnull=False),
                name="participant_household_once",
            ),
            models.UniqueConstraint(
                fields=["consultation", "organisation"],
                condition=Q(organisation__isnull=False),
                name="participant_organisation_once",
            ),
        ]

    def __str__(self):
        return self.name


class Attendance(models.Model):
    """Sign-in at the meeting (by QR code or by staff); leaving is recorded, since quorum is counted at the
    moment of the vote."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="attendance")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    signed_in_at = models.DateTimeField(default=timezone.now)
    signed_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consultation", "participant"], name="attendance_once"),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gte=F("signed_in_at")),
                name="attendance_leaves_after",
            ),
        ]

    def __str__(self):
        return f"{self.consultation_id}:{self.participant_id}"


class Motion(models.Model):
    """A question put to the vote (an agenda item's resolution)."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="motions")
    number = models.PositiveSmallIntegerField()
    text = models.TextField(_("motion"))
    # Filled when voting closes: whether it passed and the figures it was decided by (public).
    passed = models.BooleanField(null=True, blank=True)
    figures = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["consultation", "number"], name="motion_number_unique")
        ]

    def __str__(self):
        return self.text[:40]


class RollEntry(models.Model):
    """One voter on the roll frozen when voting opens: a person, a household or an owner unit, with the floor
    area it carries. Nothing changes the roll afterwards."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="roll")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    floor_area = models.DecimalField(max_digits=9, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consultation", "participant"], name="roll_once")]

    def __str__(self):
        return f"{self.consultation_id}:{self.participant_id}"


class Choice(models.TextChoices):
    YES = "yes", _("For")
    NO = "no", _("Against")
    ABSTAIN = "abstain", _("Abstain")


class Ballot(models.Model):
    """An open ballot: who voted what."""

    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="ballots")
    voter = models.ForeignKey(RollEntry, on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    cast_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["motion", "voter"], name="ballot_once_per_voter"),
            models.CheckConstraint(condition=Q(choice__in=Choice.values), name="ballot_choice_valid"),
        ]

    def __str__(self):
        return f"{self.motion_id}:{self.voter_id}"


class BallotReceipt(models.Model):
    """A secret ballot's record that this voter has voted on this motion, and nothing about how. No time is
    kept; the primary key is random, so neither order nor time links it to a tally change."""

    id = models.UUIDField(primary_key=True)
    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="+")
    voter = models.ForeignKey(RollEntry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["motion", "voter"], name="receipt_once_per_voter")]

    def __str__(self):
        return f"{self.motion_id}:{self.voter_id}"


class SecretTally(models.Model):
    """A secret ballot's running totals for one choice: heads and floor area. There is no row per vote."""

    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    heads = models.PositiveIntegerField(default=0)
    area = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["motion", "choice"], name="secret_tally_one_per_choice")
        ]

    def __str__(self):
        return f"{self.motion_id}:{self.choice}"


class HallTally(models.Model):
    """Votes counted in the hall (show of hands or paper ballots), entered by one staff member and confirmed
    by a second before they count."""

    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="hall_tallies")
    yes_heads = models.PositiveIntegerField(default=0)
    no_heads = models.PositiveIntegerField(default=0)
    abstain_heads = models.PositiveIntegerField(default=0)
    yes_area = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    no_area = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    abstain_area = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["motion"], name="hall_tally_one_per_motion"),
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True) | ~Q(confirmed_by=F("entered_by")),
                name="hall_tally_confirmed_by_another",
            ),
            models.CheckConstraint(
                condition=Q(yes_area__gte=0) & Q(no_area__gte=0) & Q(abstain_area__gte=0),
                name="hall_tally_area_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.motion_id}"


class Attachment(models.Model):
    """Materials sent with the notice, and attachments to the minutes. Stored under random names and served
    through the consultation's own access check."""

    class Kind(models.TextChoices):
        MATERIALS = "materials", _("Materials")
        MINUTES = "minutes", _("Minutes")

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    file = models.FileField(upload_to="consultations/%Y/%m/")
    name = models.CharField(_("file name"), max_length=200)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.name


class Objection(models.Model):
    """An objection to the published resolution, within the objection period, answered publicly."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="objections")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("objection"))
    at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | ~Q(answer=""), name="objection_answer_has_text"
            )
        ]

    def __str__(self):
        return self.text[:40]


class Task(models.Model):
    """A piece of the implementation, with who answers for it and when it is due (the milestones)."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("task"), max_length=200)
    responsible = models.CharField(_("responsible"), max_length=100)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("responsible organisation"),
    )  # fmt: skip
    due_on = models.DateField(_("due"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self):
        return self.title


class ProgressReport(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reports")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    text = models.TextField(_("progress"))
    done = models.BooleanField(_("done"), default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return self.text[:40]


class Evaluation(models.Model):
    """A participant's evaluation of the implemented result: 1 to 5, once each."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="evaluations")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consultation", "participant"], name="evaluation_once"),
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=5), name="evaluation_score_1_to_5"
            ),
        ]

    def __str__(self):
        return f"{self.consultation_id}:{self.score}"


class ReminderKind(models.TextChoices):
    REVIEW = "review", _("The committee's review is due")
    MEETING = "meeting", _("The meeting is near")
    VOTING = "voting", _("Voting closes soon")


class Reminder(models.Model):
    """A reminder sent before one of a consultation's deadlines. One row per kind and deadline keeps each
    reminder to once, however often and however concurrently the periodic task runs; a meeting moved by a
    new notice has a new deadline, and is reminded of again."""

    Kind = ReminderKind

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=8, choices=ReminderKind.choices)
    deadline = models.DateTimeField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consultation", "kind", "deadline"], name="reminder_once"),
            models.CheckConstraint(condition=Q(kind__in=ReminderKind.values), name="reminder_kind_valid"),
        ]

    def __str__(self):
        return f"{self.consultation_id}:{self.kind}"


class Event(models.Model):
    """The public record: every step, who, when, what. Append-only in the database (migration 0002)."""

    class Kind(models.TextChoices):
        PROPOSED = "proposed", _("Topic proposed")
        COSIGNED = "cosigned", _("Co-signed")
        LAPSED = "lapsed", _("Lapsed")
        SUBMITTED_FOR_REVIEW = "to_review", _("Enough co-signers: sent for review")
        ACCEPTED = "accepted", _("Accepted by the committee")
        DECLINED = "declined", _("Declined by the committee")
        PARTICIPANTS = "participants", _("Participants chosen")
        NOTICE = "notice", _("Notice and materials sent")
        MINUTES = "minutes", _("Minutes recorded")
        SIGNED_IN = "signed_in", _("Signed in")
        LEFT = "left", _("Left the meeting")
        VOTING_OPENED = "voting_opened", _("Voting opened")
        HALL_TALLY = "hall_tally", _("Hall tally entered")
        HALL_TALLY_CONFIRMED = "hall_confirmed", _("Hall tally confirmed")
        VOTING_CLOSED = "voting_closed", _("Voting closed; result computed")
        PUBLISHED = "published", _("Resolution published")
        OBJECTION = "objection", _("Objection filed")
        OBJECTION_ANSWERED = "answered", _("Objection answered")
        CLOSED = "closed", _("Closed")
        IMPLEMENTATION = "implementing", _("Implementation started")
        TASK = "task", _("Task assigned")
        PROGRESS = "progress", _("Progress reported")
        EVALUATION = "evaluation", _("Evaluation opened")
        EVALUATED = "evaluated", _("Evaluated and concluded")
        NOTE = "note", _("Note")

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["consultation", "at"], name="consultation_record")]

    def __str__(self):
        return f"{self.consultation_id}:{self.kind}"
