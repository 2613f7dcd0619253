"""The admin is for system administrators. Ballots, receipts, tallies and the public record are read-only
here: votes move only through the services, and the record is append-only in the database."""

from django.contrib import admin

from gongzhi.consultations.models import (
    Ballot,
    BallotReceipt,
    Consultation,
    Event,
    HallTally,
    RuleSet,
    SecretTally,
)
from gongzhi.core.admin import ReadOnlyAdmin

admin.site.register(RuleSet, list_display=["name", "region", "decision_rule", "vote_unit", "secret_ballot"])
admin.site.register(
    Consultation, list_display=["title", "community", "stage", "created_at"], list_filter=["stage"],
    raw_id_fields=["source_matter", "proposed_by"],
)  # fmt: skip
for model in (Ballot, BallotReceipt, SecretTally, HallTally, Event):
    admin.site.register(model, ReadOnlyAdmin)
