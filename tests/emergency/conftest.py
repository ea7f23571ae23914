"""The emergency tests use the read API's fixtures (one app per session, keys of every role)
and the alarm tests' ingestor and device publisher."""

from tests.api.conftest import admin, client, viewer
from tests.api.test_alarms import ingestor, operator, target

__all__ = ["admin", "client", "ingestor", "operator", "target", "viewer"]
