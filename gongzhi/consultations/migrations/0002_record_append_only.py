"""The public record of a consultation is append-only in the database itself, like the matter timeline."""

from django.db import migrations

from gongzhi.core.append_only import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("consultations", "0001_initial"), ("core", "0002_audit_append_only")]
    operations = [append_only_triggers("consultations_event")]
