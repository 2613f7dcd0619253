"""Loads the demo district (see gongzhi.core.demo): `make run` calls `seed_demo --if-empty`."""

import time
import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from gongzhi.analysis.demo import demo_analysis_create
from gongzhi.consultations.demo import demo_consultations_create
from gongzhi.core.demo import (
    DEFAULT_HOUSEHOLDS,
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    MIN_HOUSEHOLDS,
    ROLE_LABELS,
    demo_area,
    demo_district_build,
    region_label,
)
from gongzhi.core.models import Region
from gongzhi.matters.demo import demo_matters_create
from gongzhi.sharing.demo import demo_sharing_create
from gongzhi.volunteering.demo import demo_volunteering_create


def display_width(text: str) -> int:
    """Columns a terminal gives the text: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        pairs = zip(cells, widths, strict=True)
        return "  ".join(cell + " " * (width - display_width(cell)) for cell, width in pairs).rstrip()

    return "\n".join([line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)])


class Command(BaseCommand):
    help = "Load the demo district (Chengdu: 清波, 吉福 and 金鱼街 communities) with demo accounts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if the database already holds any region"
        )
        parser.add_argument(
            "--households",
            type=int,
            default=DEFAULT_HOUSEHOLDS,
            help=f"households per community (default {DEFAULT_HOUSEHOLDS}, at least {MIN_HOUSEHOLDS})",
        )

    def handle(self, *args, if_empty: bool = False, households: int = DEFAULT_HOUSEHOLDS, **options):
        if Region.objects.exists():
            if if_empty:
                self.stdout.write(_("The database already holds regions; the demo district was not loaded."))
                return
            raise CommandError(_("The database already holds regions; load the demo into an empty one."))
        if households < MIN_HOUSEHOLDS:
            raise CommandError(
                _("Give at least %(count)d households per community.") % {"count": MIN_HOUSEHOLDS}
            )

        started = time.monotonic()
        built = demo_district_build(households=households)
        matters = demo_matters_create(built)
        activities = demo_volunteering_create(built)
        consultations = demo_consultations_create(built)
        demo_sharing_create(built)
        demo_analysis_create(built)
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Loaded the demo district in %(seconds).1f s: %(communities)d communities, "
                    "%(households)d households, %(residents)d residents, %(organisations)d organisations, "
                    "%(matters)d matters, %(activities)d volunteer activities, "
                    "%(consultations)d consultations."
                )
                % {
                    "seconds": time.monotonic() - started,
                    "communities": built.communities,
                    "households": built.households,
                    "residents": built.resident_count,
                    "organisations": len(built.organisations),
                    "matters": matters,
                    "activities": activities,
                    "consultations": consultations,
                }
            )
        )
        rows = [
            [str(ROLE_LABELS[p.role]), p.name, p.mobile, DEMO_PASSWORD, demo_area(built, p.key)]
            for p in DEMO_ACCOUNTS
        ]
        self.stdout.write("")
        self.stdout.write(table([_("Role"), _("Name"), _("Mobile"), _("Password"), _("Where")], rows))
        invitee = built.invitation.resident
        self.stdout.write("")
        self.stdout.write(
            _("Invitation code for %(name)s (%(place)s, room %(room)s), who has no account yet: %(code)s")
            % {
                "name": invitee.name,
                "place": region_label(invitee.region),
                "room": invitee.household.number,
                "code": built.invitation.code,
            }
        )
