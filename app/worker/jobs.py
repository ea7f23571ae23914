"""The worker's jobs, in the order each round runs them, and how often. The job bodies live
with their domain (``app/<domain>/jobs.py`` and the like); this module only lists them."""

from __future__ import annotations

from app.alarms import policy as alarm_policy
from app.alarms.detectors import announce_by_design_over, calibration_reminders
from app.alarms.jobs import AlarmTimers, detect_offline, end_floods, unshelve_expired
from app.carbon.budgets import check as carbon_budgets
from app.economy.flow_jobs import report_reminders as economy_report_reminders
from app.economy.power import detect_anomalies as economy_anomalies
from app.emergency.jobs import open_from_alarms, report_reminders
from app.idempotency.jobs import prune as idempotency_retention
from app.notify import escalation as notify_escalation
from app.notify import routing as notify_routing
from app.notify.delivery import NotifyDispatcher
from app.notify.delivery import backlog as notify_backlog
from app.notify.delivery import purge as notify_retention
from app.telemetry.jobs import PacedRollup, due_hours, rejection_retention, retention
from app.webhooks.delivery import WebhookDispatcher
from app.webhooks.delivery import backlog as webhook_backlog
from app.webhooks.delivery import purge as webhook_retention
from app.worker.loop import Job

RETENTION_EVERY_S = 3600.0
REJECTION_RETENTION_EVERY_S = 10.0
OFFLINE_EVERY_S = 10.0
TIMERS_EVERY_S = 1.0
SHELVING_EVERY_S = 5.0
FLOODS_EVERY_S = 10.0
SUPPRESSION_EVERY_S = 5.0
CALIBRATION_EVERY_S = 600.0
ECONOMY_ANOMALIES_EVERY_S = 3600.0
CARBON_BUDGETS_EVERY_S = 300.0
REPORT_REMINDERS_EVERY_S = 5.0
ECONOMY_REMINDERS_EVERY_S = 600.0


def default_jobs() -> list[Job]:
    # Webhooks first: a safety event must not wait behind a round of rollups.
    webhooks = WebhookDispatcher(hold_back=alarm_policy.hold_back, also=[notify_routing.route])
    return [
        Job("webhooks", webhooks, backlog=webhook_backlog),
        Job("notify", NotifyDispatcher(), backlog=notify_backlog),
        Job("notify_escalation", notify_escalation.run, every=TIMERS_EVERY_S),
        Job("incidents", open_from_alarms),  # every round: the alarm's NOTIFY wakes the loop
        Job("incident_reports", report_reminders, every=REPORT_REMINDERS_EVERY_S),
        Job("rollup", PacedRollup(), backlog=due_hours),
        Job("offline", detect_offline, every=OFFLINE_EVERY_S),
        Job("alarm_timers", AlarmTimers(), every=TIMERS_EVERY_S),
        Job("alarm_shelving", unshelve_expired, every=SHELVING_EVERY_S),
        Job("alarm_floods", end_floods, every=FLOODS_EVERY_S),
        Job("alarm_suppression", announce_by_design_over, every=SUPPRESSION_EVERY_S),
        Job("calibration_reminders", calibration_reminders, every=CALIBRATION_EVERY_S),
        Job("carbon_budgets", carbon_budgets, every=CARBON_BUDGETS_EVERY_S),
        Job("economy_anomalies", economy_anomalies, every=ECONOMY_ANOMALIES_EVERY_S),
        Job(
            "economy_report_reminders",
            economy_report_reminders,
            every=ECONOMY_REMINDERS_EVERY_S,
        ),
        Job("retention", retention, every=RETENTION_EVERY_S),
        Job("webhook_retention", webhook_retention, every=RETENTION_EVERY_S),
        Job("notify_retention", notify_retention, every=RETENTION_EVERY_S),
        Job("rejection_retention", rejection_retention, every=REJECTION_RETENTION_EVERY_S),
        Job("idempotency_retention", idempotency_retention, every=RETENTION_EVERY_S),
    ]
