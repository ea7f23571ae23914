"""The services' own broker accounts (least privilege) and the upgrade of existing accounts.

| account | role's rights |
|---|---|
| ``parktwin`` (dynsec admin) | everything; used by ``services up`` / ``broker setup`` only |
| ``parktwin-ingest`` | subscribe to ``parks/+/devices/+/telemetry`` and ``.../status`` (also as
  ``$share/{group}/...``); publishes nothing, no ``$CONTROL`` |
| ``parktwin-api`` | the dynamic-security control topic and its answers: creates, rotates and
  deletes device accounts |
| ``{park}:{device}`` | app/broker/dynsec.py |

Service client ids (``parktwin-ingest-{i}``, ``parktwin-ctl-…``) are chosen by the services, which
connect on the broker's services listener (loopback or the compose network only). A device
cannot take one over: the listeners devices reach replace every client id with the username
(``use_username_as_clientid``), and a device username contains ``:``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

import paho.mqtt.client as mqtt

from app.broker.dynsec import ACL_EXISTS, Command, DynsecClient, device_topics
from app.broker.rabbit import RabbitAccounts
from app.core.config import Settings
from app.core.mqtt import MqttTarget, new_client

logger = logging.getLogger(__name__)

CONTROL_FILTER = "$CONTROL/dynamic-security/#"


@dataclass(frozen=True)
class ServiceAccount:
    username: str
    password: str
    acls: tuple[Command, ...]

    @property
    def role(self) -> str:
        return f"service:{self.username}"


def _acl(acltype: str, topic: str) -> Command:
    return {"acltype": acltype, "topic": topic, "allow": True, "priority": 0}


def ingest_account(username: str, password: str) -> ServiceAccount:
    """Read every device's telemetry and status, plainly or in a shared subscription (Mosquitto
    2.0 checks the whole ``$share/{group}/...`` filter against the ACL)."""
    plain = device_topics("+", "+")
    topics = plain + [f"$share/+/{topic}" for topic in plain]
    return ServiceAccount(username, password, tuple(_acl("subscribePattern", t) for t in topics))


def api_account(username: str, password: str) -> ServiceAccount:
    """Send dynamic-security commands and read their answers; nothing else."""
    acls = (
        _acl("publishClientSend", CONTROL_FILTER),
        _acl("subscribePattern", CONTROL_FILTER),
        _acl("publishClientReceive", CONTROL_FILTER),
    )
    return ServiceAccount(username, password, acls)


def ensure_service_account(client: DynsecClient, account: ServiceAccount) -> None:
    """Create or repair the account and its role, with ``account.password``. Idempotent."""
    commands: list[Command] = [
        {"command": "createRole", "rolename": account.role},
        *({"command": "addRoleACL", "rolename": account.role, **acl} for acl in account.acls),
        {
            "command": "createClient",
            "username": account.username,
            "password": account.password,
            "roles": [{"rolename": account.role}],
        },
    ]
    answers = client.execute(
        commands, ignore=("Role already exists", ACL_EXISTS, "Client already exists")
    )
    if answers[-1].get("error"):  # the account existed: its password and role may have changed
        _repair_client(client, account)


def _repair_client(client: DynsecClient, account: ServiceAccount) -> None:
    user = account.username
    found = client.execute([{"command": "getClient", "username": user}])[0]
    roles = {r.get("rolename") for r in found.get("data", {}).get("client", {}).get("roles", [])}
    commands: list[Command] = []
    if not can_log_in(client.target, user, account.password):
        # only then: a new password disconnects the account's clients (ingest, API)
        commands.append(
            {"command": "setClientPassword", "username": user, "password": account.password}
        )
    if account.role not in roles:
        commands.append({"command": "addClientRole", "username": user, "rolename": account.role})
    if commands:
        client.execute(commands)


def can_log_in(target: MqttTarget, username: str, password: str) -> bool:
    """Whether the broker accepts ``username`` with ``password`` (a throw-away connection)."""
    probe = new_client(replace(target, username=username, password=password))
    answered, accepted = threading.Event(), []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        accepted.append(not reason.is_failure)
        answered.set()

    probe.on_connect = on_connect
    try:
        probe.connect(target.host, target.port, keepalive=10)
        probe.loop_start()
        answered.wait(10)
    finally:
        probe.disconnect()
        probe.loop_stop()
    return bool(accepted and accepted[0])


def provision(client: DynsecClient, accounts: list[ServiceAccount]) -> None:
    """What ``services up`` and ``parktwin broker setup`` do with the admin account: the service
    accounts, and every existing device account upgraded to today's ACLs (and the client-id
    pin of the previous version removed)."""
    for account in accounts:
        ensure_service_account(client, account)
    client.upgrade_devices()


def accounts_from_settings(settings: Settings) -> list[ServiceAccount]:
    """The service accounts named by PARKTWIN_INGEST_MQTT_URL / PARKTWIN_API_MQTT_URL (an
    external broker's, e.g. compose.yaml's): the URLs carry their usernames and passwords."""
    wanted = ((settings.ingest_mqtt_url, ingest_account), (settings.api_mqtt_url, api_account))
    accounts = []
    for url, make in wanted:
        if url:
            target = MqttTarget.from_url(url)
            if not (target.username and target.password):
                raise ValueError(f"{target.redacted()} needs a username and a password")
            accounts.append(make(target.username, target.password))
    return accounts


def setup_broker(settings: Settings) -> list[str]:
    """``parktwin broker setup``: as the admin account of PARKTWIN_MQTT_URL, create or repair the
    service accounts of the role URLs and upgrade existing device accounts; returns their names."""
    accounts = accounts_from_settings(settings)
    client = DynsecClient(settings.mqtt_target("admin"), timeout=30)
    client.connect()
    try:
        provision(client, accounts)
    finally:
        client.close()
    return [a.username for a in accounts]


AccountBroker = DynsecClient | RabbitAccounts
"""Who makes device accounts: Mosquitto's dynamic security, or a RabbitMQ cluster's users."""


def account_broker(settings: Settings) -> AccountBroker:
    """The API's account manager for ``PARKTWIN_MQTT_CREDENTIALS`` (``rabbitmq``: the management
    API of the nodes in ``PARKTWIN_RABBITMQ_API_URL``; otherwise the dynsec control topic)."""
    if settings.mqtt_credentials == "rabbitmq":
        urls = [u.strip() for u in (settings.rabbitmq_api_url or "").split(",") if u.strip()]
        return RabbitAccounts(urls)
    return DynsecClient(settings.mqtt_target("api"))
