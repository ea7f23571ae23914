"""The economy tests use the read API's fixtures: one app per session and keys of every role."""

from tests.api.conftest import admin, client, viewer

__all__ = ["admin", "client", "viewer"]
