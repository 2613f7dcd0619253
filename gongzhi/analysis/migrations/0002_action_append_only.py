"""A need's history of actions is the register's record: the database refuses to change or delete it."""

from django.db import migrations

from gongzhi.core.append_only import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [("analysis", "0001_initial"), ("core", "0002_audit_append_only")]

    operations = [append_only_triggers("analysis_action")]
