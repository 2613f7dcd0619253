"""The platform's default categories, so that a new installation can take matters at once."""

from django.db import migrations


def forwards(apps, schema_editor):
    from gongzhi.matters.services import default_categories_install

    default_categories_install(category_model=apps.get_model("matters", "Category"))


class Migration(migrations.Migration):
    dependencies = [("matters", "0002_event_append_only")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
