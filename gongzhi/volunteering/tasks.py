"""The periodic work of volunteering, enqueued by `manage.py run_periodic` (settings.PERIODIC_TASKS). Each is
idempotent: a sign-up is re-checked under its row lock, and an expiry posts under a key of the account and
the day."""

from django_tasks import task

from gongzhi.volunteering import services


@task()
def mark_no_shows() -> int:
    return services.no_shows_mark()


@task()
def expire_points() -> int:
    return services.points_expire()
