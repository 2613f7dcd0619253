"""The periodic work of sharing, enqueued by `manage.py run_periodic` (settings.PERIODIC_TASKS)."""

from django_tasks import task

from gongzhi.sharing import services


@task()
def release_no_shows() -> int:
    return services.bookings_release_no_shows()


@task()
def remind_bookings() -> int:
    return services.bookings_remind()
