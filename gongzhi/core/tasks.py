"""Background work of the core app, run through django-tasks: in the request's process by default
(ImmediateBackend), by `manage.py db_worker` when TASKS_BACKEND=database. Arguments are plain ids, so that
they serialise to JSON and the task reads the current rows when it runs."""

from django_tasks import task

from gongzhi.core.roster import roster_import_run


@task()
def run_roster_import(*, import_id: int, actor_id: int) -> None:
    """Imports a checked roster file; progress and the result are saved on its RosterImport."""
    roster_import_run(import_id=import_id, actor_id=actor_id)
