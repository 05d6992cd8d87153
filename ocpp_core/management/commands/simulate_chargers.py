import asyncio

from django.core.management.base import BaseCommand, CommandError

from ocpp_core.simulator import SimulationSettings, simulate


class Command(BaseCommand):
    help = (
        "Run simulated OCPP 1.6J chargers against a central system: boot, heartbeats, charging sessions "
        "(Authorize, StartTransaction, MeterValues, StopTransaction), remote commands, reconnects."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="The OCPP endpoint, e.g. ws://localhost:8000/ocpp/")
        parser.add_argument("--count", type=int, default=1, help="How many chargers.")
        parser.add_argument(
            "--ids", default="", help="Comma separated charge box ids (default: PREFIX0001, PREFIX0002, ...)."
        )
        parser.add_argument("--prefix", default="SIM-", help="Charge box id prefix when --ids is not given.")
        parser.add_argument("--id-tags", default="", help="Comma separated tags the drivers present (required).")
        parser.add_argument("--sessions", type=int, default=1, help="Sessions per charger; 0 runs until stopped.")
        parser.add_argument("--connectors", type=int, default=1)
        parser.add_argument("--meter-interval", type=float, default=10.0, help="Seconds between MeterValues.")
        parser.add_argument("--session-seconds", type=float, default=60.0)
        parser.add_argument("--pause-seconds", type=float, default=5.0, help="Idle time between sessions.")
        parser.add_argument("--reconnect-probability", type=float, default=0.1)
        parser.add_argument("--password", default=None, help="HTTP Basic password (security profile 1/2).")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        charge_box_ids = [i for i in options["ids"].split(",") if i] or [
            f"{options['prefix']}{n:04d}" for n in range(1, options["count"] + 1)
        ]
        id_tags = [t for t in options["id_tags"].split(",") if t]
        if not id_tags:
            raise CommandError("Give the tags drivers present with --id-tags (e.g. --id-tags FLOOR2-ANNA,ADMIN-ALL).")
        settings = SimulationSettings(
            url=options["url"],
            id_tags=id_tags,
            sessions=options["sessions"],
            connectors=options["connectors"],
            meter_interval=options["meter_interval"],
            session_seconds=options["session_seconds"],
            pause_seconds=options["pause_seconds"],
            reconnect_probability=options["reconnect_probability"],
            password=options["password"],
        )
        self.stdout.write(f"Simulating {len(charge_box_ids)} charger(s) against {options['url']} ...")
        report = asyncio.run(simulate(charge_box_ids=charge_box_ids, settings=settings, seed=options["seed"]))
        self.stdout.write(
            f"boots {report.boots}, sessions {report.sessions}, refused tags {report.refused_tags}, "
            f"reconnects {report.reconnects}, errors {len(report.errors)}"
        )
        for error in report.errors:
            self.stderr.write(error)
        if report.errors:
            raise CommandError(f"{len(report.errors)} charger(s) failed.")
