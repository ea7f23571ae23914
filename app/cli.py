"""The ``parktwin`` console script (../shared/CONTRACT.md section 1)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from app.core.config import Settings, get_settings, settings_problems
from app.core.logging import configure_logging

Handler = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


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


def _cluster(args: argparse.Namespace, settings: Settings) -> int:
    from app.embedded.rabbitmq import cluster_from_settings, cluster_up

    cluster = cluster_from_settings(settings, args.nodes)
    if args.action == "up":
        for name, value in cluster_up(cluster, settings.amqp_queue).items():
            print(f"{name}={value}")
    elif args.action == "down":
        cluster.down()
    else:
        for name, state in cluster.status().items():
            print(f"{name}: {state}")
    return 0


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "auth":
        import uvicorn

        from app.broker.rabbit_auth import DEFAULT_PORT, create_auth_app

        uvicorn.run(
            create_auth_app(),
            host=args.host,
            port=args.port or DEFAULT_PORT,
            log_level="warning",
            access_log=False,
            log_config=None,
        )
        return 0
    from app.broker.accounts import setup_broker

    names = setup_broker(settings)
    print(f"broker accounts in place: {', '.join(names) or 'none named'}; device accounts upgraded")
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.migrate import DatabaseUnreachable, upgrade_to_head, wait_for_database

    url = settings.database_url_for("migrate")
    if args.wait > 0:
        try:
            wait_for_database(url, args.wait, notify=lambda line: print(line, file=sys.stderr))
        except DatabaseUnreachable as exc:
            print(f"parktwin migrate: {exc}", file=sys.stderr)
            return 1
    before, after = upgrade_to_head(url)
    if before == after:
        print(f"database already at {after}: nothing to do")
    else:
        print(f"migrated {before or 'empty database'} -> {after}")
    return 0


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.supervisor import run_ingest

    run_ingest(settings, args.workers)
    return 0


WORKER_HEALTHCHECK_S = 30


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    cert = args.tls_cert or settings.api_tls_cert
    key = args.tls_key or settings.api_tls_key
    if (cert is None) != (key is None):
        print("parktwin api: HTTPS needs both a certificate and its key", file=sys.stderr)
        return 2
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler: PARKTWIN_LOG_FORMAT, request ids
        proxy_headers=True,
        workers=args.workers,
        # a worker that does not answer the supervisor's ping in time is killed and replaced:
        # uvicorn's 5 s killed workers still importing the app on a busy two-core host
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        ssl_certfile=cert,
        ssl_keyfile=key,
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

    level = settings.log_level.lower()
    uvicorn.run(create_app(settings), host=host, port=port, log_level=level, log_config=None)


def _worker(_args: argparse.Namespace, settings: Settings) -> int:
    from app.worker.main import main as worker_main

    return worker_main(settings)


def _apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new key as the last line of stdout; it is stored only hashed."""
    from app.apikeys.cli import create_key, parse_expiry

    try:
        expires_at = parse_expiry(args.expires_in, args.expires_at)
    except ValueError as exc:
        print(f"parktwin apikey: {exc}", file=sys.stderr)
        return 2
    token = _run_apikey(
        create_key(
            settings, args.role, args.park, args.name, expires_at, enterprise_id=args.enterprise
        )
    )
    if token is None:
        return 1
    scope = f"park {args.park}" if args.park else "every park"
    if args.enterprise:
        scope = f"enterprise {args.enterprise} of {scope}"
    until = f", expires {expires_at.isoformat()}" if expires_at else ""
    print(f"API key created: role {args.role}, {scope}{until}. It is shown only once:")
    print(token)
    return 0


def _apikey_bootstrap(_args: argparse.Namespace, settings: Settings) -> int:
    """Print the first admin key once per database; later runs print that it exists."""
    import asyncio

    from app.apikeys.cli import bootstrap_key

    token = asyncio.run(bootstrap_key(settings))
    if token is None:
        print(
            "the first admin key was made before: nothing to print "
            "(`parktwin apikey create --role admin` makes another)"
        )
        return 0
    print("the first admin key (role admin, every park). It is shown only once:")
    print(token)
    return 0


def _apikey_list(_args: argparse.Namespace, settings: Settings) -> int:
    """One tab-separated line per key, after a header; never a secret."""
    from app.apikeys.cli import list_keys

    keys = _run_apikey(list_keys(settings))
    if keys is None:
        return 1
    columns = ("id", "state", "role", "park_id", "enterprise_id", "name", "created_by",
               "created_at", "last_used_at", "expires_at", "revoked_at")  # fmt: skip
    print("\t".join(columns))
    for key in keys:
        print("\t".join("-" if key[c] is None else str(key[c]) for c in columns))
    return 0


def _apikey_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from app.apikeys.cli import revoke_key

    if _run_apikey(revoke_key(settings, args.key_id)) is None:
        return 1
    print(f"API key {args.key_id} revoked")
    return 0


def _apikey_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Print the key's new token as the last line of stdout; the old secret stops working."""
    from app.apikeys.cli import rotate_key

    token = _run_apikey(rotate_key(settings, args.key_id))
    if token is None:
        return 1
    print(f"API key {args.key_id} rotated; the old secret no longer works. Shown only once:")
    print(token)
    return 0


def _run_apikey(work: Coroutine[Any, Any, T]) -> T | None:
    """Run an ``apikey`` action; a refusal (unknown key, park) is printed, and None."""
    import asyncio

    from app.core.errors import AppError

    try:
        return asyncio.run(work)
    except AppError as exc:
        print(f"parktwin apikey: {exc.detail}", file=sys.stderr)
        return None


def _sim(args: argparse.Namespace, settings: Settings) -> int:
    from sensors_sim.cli import run_sim

    return run_sim(args, settings)


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from sensors_sim.cli import run_seed

    return run_seed(args, settings)


def _add_apikey_commands(apikey: argparse.ArgumentParser) -> None:
    actions = apikey.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="print a new key (the last line of stdout)")
    create.add_argument(
        "--role", choices=("viewer", "operator", "admin", "enterprise"), required=True
    )
    create.add_argument("--park", default=None)
    create.add_argument(
        "--enterprise", default=None, help="role enterprise: the enterprise (needs --park)"
    )
    create.add_argument("--name", default=None, help="a label for the key")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", default=None, help="e.g. 90m, 12h, 30d, 8w; default never")
    expiry.add_argument("--expires-at", default=None, help="an ISO 8601 time (UTC if no offset)")
    create.set_defaults(handler=_apikey_create)
    actions.add_parser(
        "bootstrap", help="print the first admin key, once per database (the last line)"
    ).set_defaults(handler=_apikey_bootstrap)
    actions.add_parser("list", help="every key and its state, never a secret").set_defaults(
        handler=_apikey_list
    )
    for name, handler, text in (
        ("revoke", _apikey_revoke, "the key answers 401 from now on"),
        ("rotate", _apikey_rotate, "print a new secret for the key; the old one stops working"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("key_id", metavar="KEY_ID", help="the <id> of ptk_<id>_<secret>")
        action.set_defaults(handler=handler)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parktwin")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parktwin", description="Backend for an industrial park's digital operations centre."
    )
    parser.add_argument("--version", action="version", version=f"parktwin {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    services = sub.add_parser("services", help="the embedded PostgreSQL+TimescaleDB and Mosquitto")
    services.add_argument("action", choices=("up", "down", "status", "install"))
    services.set_defaults(handler=_services)

    migrate = sub.add_parser("migrate", help="apply all database migrations")
    migrate.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="retry until the database answers, for up to this long (default 0: try once)",
    )
    migrate.set_defaults(handler=_migrate)

    cluster = sub.add_parser(
        "cluster",
        help="a local N-node RabbitMQ cluster (MQTT plugin, quorum queue) under the state dir; "
        "`up` prints the settings that switch ingest and device accounts to it",
    )
    cluster.add_argument("action", choices=("up", "down", "status"))
    cluster.add_argument("--nodes", type=int, default=None, help="default 3 (or as last up)")
    cluster.set_defaults(handler=_cluster)

    broker = sub.add_parser(
        "broker",
        help="setup: as the broker's admin account (PARKTWIN_MQTT_URL), create the accounts of "
        "PARKTWIN_INGEST_MQTT_URL and PARKTWIN_API_MQTT_URL, upgrade device accounts' ACLs; "
        "auth: serve the RabbitMQ cluster's client-id check beside a node (docs/scale-out.md)",
    )
    broker.add_argument("action", choices=("setup", "auth"))
    broker.add_argument("--host", default="127.0.0.1", help="auth: listen address")
    broker.add_argument("--port", type=int, default=None, help="auth: listen port (15680)")
    broker.set_defaults(handler=_broker)

    api = sub.add_parser("api", help="serve the REST API (uvicorn)")
    api.add_argument("--host", default=None, help="default: PARKTWIN_API_HOST (127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="default: PARKTWIN_API_PORT (8000)")
    api.add_argument("--tls-cert", default=None, help="HTTPS: default PARKTWIN_API_TLS_CERT")
    api.add_argument("--tls-key", default=None, help="HTTPS: default PARKTWIN_API_TLS_KEY")
    api.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes sharing the port (each with its own pools and caches: "
        "docs/scale-out.md)",
    )
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

    _add_apikey_commands(sub.add_parser("apikey", help="manage API keys"))

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
    try:
        settings = get_settings()
    except ValidationError as exc:
        # what an operator set wrong, one line a setting, not pydantic's traceback
        problems = settings_problems(exc)
        print(f"parktwin: {len(problems)} invalid setting(s), nothing started:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    handler: Handler = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
