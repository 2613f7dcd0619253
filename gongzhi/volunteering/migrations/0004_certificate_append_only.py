"""An issued certificate is a record someone may rely on: like the ledger, the database refuses to change or
delete one (a correction is a new certificate)."""

from django.db import migrations

from gongzhi.core.append_only import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("volunteering", "0003_activities_supermarket"), ("core", "0002_audit_append_only")]
    operations = [append_only_triggers("volunteering_certificate")]
