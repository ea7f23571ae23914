"""The ``parktwin`` console script (../shared/CONTRACT.md section 1)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from app.core.config import Settings, get_settings
from app.core.logging import configure_logging

Handler = Callable[[argparse.Namespace, Settings], int]


def _services(args: argparse.Namespace, settings: Settings) -> int:
    from app.embedded.install import MissingDependencies
    from app.embedded.services import EmbeddedServices

    services = EmbeddedServices.from_settings(settings)
    try:
        if args.action == "install":
            services.install()
        elif args.action == "up":
            for name, url in services.up().items():
                print(f"{name}={url}")
        elif args.action == "down":
            services.down()
        else:
            for name, state in services.status().items():
                print(f"{name}: {state}")
    except MissingDependencies as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _broker(_args: argparse.Namespace, settings: Settings) -> int:
    from app.broker.accounts import setup_broker

    names = setup_broker(settings)
    print(f"broker accounts in place: {', '.join(names) or 'none named'}; device accounts upgraded")
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from app.core.migrate import upgrade_to_head

    before, after = upgrade_to_head(settings.resolved_database_url())
    if before == after:
        print(f"database already at {after}: nothing to do")
    else:
        print(f"migrated {before or 'empty database'} -> {after}")
    return 0


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.supervisor import run_ingest

    run_ingest(settings, args.workers)
    return 0


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """Services up, migrate, the demo park seeded, an admin key, a local webhook receiver, the
    ingestor, the worker and the simulator as child processes, the API in the foreground;
    Ctrl-C stops everything it started (sensors_sim/demo.py)."""
    from sensors_sim.demo import SIM_RATE, run_demo

    host, port = args.host or settings.api_host, args.port or settings.api_port
    rate = args.rate or SIM_RATE
    return run_demo(settings, host, port, _serve, rate, args.scenario, args.devices)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from app.main import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


def _worker(_args: argparse.Namespace, settings: Settings) -> int:
    from app.worker.main import main as worker_main

    return worker_main(settings)


def _apikey(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new key as the last line of stdout; it is stored only hashed."""
    import asyncio

    from app.apikeys.cli import create_key
    from app.core.errors import AppError

    try:
        token = asyncio.run(create_key(settings, args.role, args.park, args.name))
    except AppError as exc:
        print(f"parktwin apikey: {exc.detail}", file=sys.stderr)
        return 1
    scope = f"park {args.park}" if args.park else "every park"
    print(f"API key created: role {args.role}, {scope}. It is shown only once:")
    print(token)
    return 0


def _sim(args: argparse.Namespace, settings: Settings) -> int:
    from sensors_sim.cli import run_sim

    return run_sim(args, settings)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from sensors_sim.cli import run_seed

    return run_seed(args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parktwin", description="Backend for an industrial park's digital operations centre."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    services = sub.add_parser("services", help="the embedded PostgreSQL+TimescaleDB and Mosquitto")
    services.add_argument("action", choices=("up", "down", "status", "install"))
    services.set_defaults(handler=_services)

    sub.add_parser("migrate", help="apply all database migrations").set_defaults(handler=_migrate)

    broker = sub.add_parser(
        "broker",
        help="as the broker's admin account (PARKTWIN_MQTT_URL): create the accounts of "
        "PARKTWIN_INGEST_MQTT_URL and PARKTWIN_API_MQTT_URL, upgrade device accounts' ACLs",
    )
    broker.add_argument("action", choices=("setup",))
    broker.set_defaults(handler=_broker)

    api = sub.add_parser("api", help="serve the REST API (uvicorn)")
    api.add_argument("--host", default=None, help="default: PARKTWIN_API_HOST (127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="default: PARKTWIN_API_PORT (8000)")
    api.set_defaults(handler=_api)

    ingest = sub.add_parser("ingest", help="the MQTT ingestor")
    ingest.add_argument("--workers", type=int, default=1)
    ingest.set_defaults(handler=_ingest)

    sub.add_parser(
        "worker", help="background jobs: rollups and retention (until SIGTERM/SIGINT)"
    ).set_defaults(handler=_worker)

    from sensors_sim.cli import add_seed_arguments, add_sim_arguments

    sim = sub.add_parser("sim", help="the simulated park (sensors_sim)")
    add_sim_arguments(sim)
    sim.set_defaults(handler=_sim)

    seed = sub.add_parser("seed", help="create the demo park, its assets and devices")
    add_seed_arguments(seed)
    seed.set_defaults(handler=_seed)

    apikey = sub.add_parser("apikey", help="manage API keys")
    apikey.add_argument("action", choices=("create",))
    apikey.add_argument("--role", choices=("viewer", "operator", "admin"), required=True)
    apikey.add_argument("--park", default=None)
    apikey.add_argument("--name", default=None, help="a label for the key")
    apikey.set_defaults(handler=_apikey)

    demo = sub.add_parser("demo", help="everything wired together in the foreground")
    demo.add_argument("--host", default=None)
    demo.add_argument("--port", type=int, default=None)
    demo.add_argument("--rate", type=float, default=None, help="simulator msg/s (100)")
    demo.add_argument("--scenario", default=None, help="a simulator scenario, 60 s in")
    demo.add_argument("--devices", type=int, default=2000, help="devices of the demo park")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    handler: Handler = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
