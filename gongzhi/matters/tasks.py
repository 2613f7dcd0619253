"""The periodic work of matters, run through django-tasks; `manage.py run_periodic` enqueues them every few
minutes (settings.PERIODIC_TASKS). Each is idempotent: running it twice at once or twice in a row moves
nothing twice, because every matter is re-checked under its row lock."""

from django_tasks import task

from gongzhi.matters import services


@task()
def escalate_overdue() -> int:
    return services.matters_escalate_overdue()


@task()
def auto_confirm() -> int:
    return services.matters_auto_confirm()


@task()
def remind_deadlines() -> int:
    return services.matters_remind_deadlines()
