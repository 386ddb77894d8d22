"""DkimKey.active (bool) becomes DkimKey.state (next / active / retiring / retired), with retire_after."""

from django.db import migrations, models


def active_to_state(apps, schema_editor) -> None:  # noqa: ANN001
    DkimKey = apps.get_model("domains", "DkimKey")
    DkimKey.objects.filter(active=True).update(state="active")
    DkimKey.objects.filter(active=False).update(state="retired")


def state_to_active(apps, schema_editor) -> None:  # noqa: ANN001
    DkimKey = apps.get_model("domains", "DkimKey")
    # Going back, only the signing keys stay active; next and retiring keys had no place before rotation.
    DkimKey.objects.update(active=False)
    DkimKey.objects.filter(state="active").update(active=True)


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0003_domain_claimed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="dkimkey",
            name="state",
            field=models.CharField(
                choices=[
                    ("next", "Next (published, not signing yet)"),
                    ("active", "Active (signing)"),
                    ("retiring", "Retiring (still published)"),
                    ("retired", "Retired"),
                ],
                default="active",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="dkimkey",
            name="retire_after",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(active_to_state, state_to_active),
        migrations.RemoveField(model_name="dkimkey", name="active"),
    ]
