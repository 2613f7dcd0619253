"""Checks the points ledger against itself: every cached balance equals the sum of its account's entries and
every transaction's entries sum to zero. Prints what differs and exits with status 1 if anything does, so
that cron or a monitoring check can call it. It changes nothing: a drift is a bug to investigate, and the
entries, which are append-only, are the truth."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from gongzhi.volunteering.selectors import ledger_drift


class Command(BaseCommand):
    help = "Check that every points balance equals the sum of its entries and every transaction balances."

    def handle(self, *args, **options):
        drift = ledger_drift()
        for account in drift.accounts:
            self.stdout.write(
                _("Account %(id)s (%(kind)s): cached balance %(balance)s, entries sum to %(total)s.")
                % {
                    "id": account["id"],
                    "kind": account["kind"],
                    "balance": account["balance"],
                    "total": account["entries_total"],
                }
            )
        for posted in drift.transactions:
            self.stdout.write(
                _("Transaction %(id)s (%(key)s): entries sum to %(total)s.")
                % {"id": posted["id"], "key": posted["idempotency_key"], "total": posted["entries_total"]}
            )
        if drift:
            raise CommandError(
                _("%(accounts)s account(s) and %(transactions)s transaction(s) are out of balance.")
                % {"accounts": len(drift.accounts), "transactions": len(drift.transactions)}
            )
        self.stdout.write(_("The points ledger balances."))
