from django.db import migrations, models


def seed(apps, schema_editor):
    apps.get_model("notes", "Note").objects.create(text="Packed by pypack, migrated at start")


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.CharField(max_length=200)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
