#!/bin/sh
# Once, against any node, as the cluster's admin: the ingest quorum queue and its bindings, the
# ingest and API accounts. Needs RABBIT_ADMIN_URL (http://admin:pass@broker1:15672),
# PARKTWIN_RABBIT_INGEST_PASSWORD and PARKTWIN_RABBIT_API_PASSWORD. Idempotent.
set -eu
api() { curl -fsS -H 'content-type: application/json' -X "$1" "$RABBIT_ADMIN_URL/api/$2" ${3:+-d "$3"}; }
api PUT queues/%2F/parktwin.telemetry '{"durable":true,"arguments":{"x-queue-type":"quorum"}}'
for key in 'parks.#.telemetry' 'parks.#.status'; do
  api POST bindings/%2F/e/amq.topic/q/parktwin.telemetry "{\"routing_key\":\"$key\"}"
done
api PUT users/parktwin-ingest "{\"password\":\"$PARKTWIN_RABBIT_INGEST_PASSWORD\",\"tags\":\"\"}"
api PUT permissions/%2F/parktwin-ingest '{"configure":"^parktwin\\.telemetry$","write":"^$","read":"^parktwin\\.telemetry$"}'
api PUT users/parktwin-api "{\"password\":\"$PARKTWIN_RABBIT_API_PASSWORD\",\"tags\":\"administrator\"}"
api PUT permissions/%2F/parktwin-api '{"configure":"^$","write":"^$","read":"^$"}'
echo "ingest queue and service accounts in place"
