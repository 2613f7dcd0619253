"""The platform's default categories, so that a new installation can take matters at once."""

from django.db import migrations


def forwards(apps, schema_editor):
    from gongzhi.matters.services import DEFAULT_CATEGORIES, DEFAULT_DEADLINES

    Category = apps.get_model("matters", "Category")
    for position, (code, name, group, category_class, first_tier, private) in enumerate(DEFAULT_CATEGORIES):
        (response_amount, response_unit), (resolution_amount, resolution_unit) = DEFAULT_DEADLINES[category_class]
        Category.objects.get_or_create(
            community=None,
            code=code,
            defaults={
                "name": name,
                "group": group,
                "category_class": category_class,
                "first_tier": first_tier,
                "response_amount": response_amount,
                "response_unit": response_unit,
                "resolution_amount": resolution_amount,
                "resolution_unit": resolution_unit,
                "is_private": private,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("matters", "0002_event_append_only")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
