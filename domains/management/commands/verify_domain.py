"""python manage.py verify_domain example.com — check a domain's records now, in the foreground, and print them."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.models import Domain
from domains.names import DomainNameError, normalize_domain
from domains.verification import domain_record_check, domain_run_checks


class Command(BaseCommand):
    help = "Check the DNS records of a domain now and print what was found (add --record to store the outcome)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the domain name, as added in the dashboard")
        parser.add_argument("--team", help="the team's slug, when several teams added the same name")
        parser.add_argument(
            "--record", action="store_true", help="store the outcome as the background check would (statuses, history, emails)"
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            name, _ = normalize_domain(str(options["name"]))
        except DomainNameError as exc:
            raise CommandError(str(exc)) from None
        domains = Domain.objects.filter(name=name).select_related("team")
        if options["team"]:
            domains = domains.filter(team__slug=options["team"])
        if not domains:
            by_team = f" by team {options['team']}" if options["team"] else ""
            raise CommandError(f"No domain named {name} has been added{by_team}.")
        for domain in domains:
            records, results = domain_run_checks(domain)
            self.stdout.write(f"{domain.name} (team {domain.team.slug}, {domain.get_status_display().lower()})")
            width = max(len(record.fqdn) for record in records)
            for record, result in zip(records, results, strict=True):
                flag = "" if record.required else " (recommended)"
                line = f"  {result.status.upper():<9} {record.rtype:<6} {record.fqdn:<{width}}  {record.purpose}{flag}"
                self.stdout.write(line)
                for found in result.found:
                    self.stdout.write(f"            found: {found}")
                if result.message:
                    self.stdout.write(f"            {result.message}")
                if result.server:
                    self.stdout.write(f"            answered by {result.server}")
            if options["record"]:
                domain = domain_record_check(domain_id=domain.pk, records=records, results=results) or domain
                self.stdout.write(f"Recorded: the domain is now {domain.status}.")
