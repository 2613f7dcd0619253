"""Re-encrypts every encrypted column with the newest key in FIELD_ENCRYPTION_KEYS, and with --rehash
recomputes the lookup hashes under the current LOOKUP_HASH_KEY.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this,
then drop the old keys. Each batch commits on its own, so an interrupted run can simply be run again."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from gongzhi.core.crypto import EncryptedTextField, lookup_hash
from gongzhi.core.models import AuditEvent
from gongzhi.core.services import audit_record

BATCH = 1000

# The lookup-hash column of each encrypted column that has one.
HASH_COLUMNS = {"mobile": "mobile_hash", "id_number": "id_number_hash", "phone": "phone_hash"}


def encrypted_columns():
    for model in apps.get_models():
        fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            yield model, fields


class Command(BaseCommand):
    help = "Re-encrypt personal data with the newest field key (and optionally recompute lookup hashes)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rehash", action="store_true", help="recompute lookup hashes with LOOKUP_HASH_KEY"
        )

    def handle(self, *args, rehash: bool = False, **options):
        total = 0
        for model, fields in encrypted_columns():
            count = self.rotate_model(model, fields, rehash=rehash)
            total += count
            self.stdout.write(f"{model._meta.label}: {count} rows")
        audit_record(
            actor=None, action=AuditEvent.Action.KEY_ROTATION, detail={"rows": total, "rehash": rehash}
        )

    def rotate_model(self, model, fields: list[str], *, rehash: bool) -> int:
        # Reading decrypts with whichever key fits; writing encrypts with the newest one.
        columns = {c.name for c in model._meta.concrete_fields}
        count, last_pk = 0, 0
        while True:
            batch = list(
                model.objects.filter(pk__gt=last_pk).order_by("pk").values_list("pk", *fields)[:BATCH]
            )
            if not batch:
                return count
            with transaction.atomic():
                for pk, *values in batch:
                    changes = {}
                    for name, value in zip(fields, values, strict=True):
                        if not value:
                            continue
                        changes[name] = value
                        if rehash and HASH_COLUMNS.get(name) in columns:
                            changes[HASH_COLUMNS[name]] = lookup_hash(value)
                    if changes:
                        model.objects.filter(pk=pk).update(**changes)
            count += len(batch)
            last_pk = batch[-1][0]
