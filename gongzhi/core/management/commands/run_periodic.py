"""Enqueues the periodic tasks (settings.PERIODIC_TASKS) every `--every` seconds, or once with `--once`.

Run it beside the task worker (`make run` does); cron calling `manage.py run_periodic --once` works as well.
The tasks themselves run wherever TASKS_BACKEND sends them: in this process by default, in the worker with
TASKS_BACKEND=database."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Enqueue the periodic tasks (overdue escalation, auto-confirmation, deadline reminders)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=300, help="seconds between rounds (default 300)")
        parser.add_argument("--once", action="store_true", help="enqueue one round and stop")

    def handle(self, *args, every: int, once: bool, **options):
        tasks = [import_string(path) for path in settings.PERIODIC_TASKS]
        while True:
            for periodic_task in tasks:
                periodic_task.enqueue()
            self.stdout.write(f"enqueued {len(tasks)} periodic tasks")
            if once:
                return
            time.sleep(every)
