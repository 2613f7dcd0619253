"""The periodic work of consultations, enqueued by `manage.py run_periodic` (settings.PERIODIC_TASKS)."""

from django_tasks import task

from gongzhi.consultations import services


@task()
def lapse_topics() -> int:
    return services.consultations_lapse()


@task()
def remind_deadlines() -> int:
    return services.consultations_remind()
