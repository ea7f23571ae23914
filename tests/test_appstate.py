"""The API's state is one typed object (app/core/appstate.py), not attributes named in
strings: create_app makes it, each domain cache is one per kind."""

from __future__ import annotations

from app.assets.twin.index import IndexCache
from app.core.appstate import AppState
from app.core.config import Settings
from app.main import create_app


def test_create_app_puts_a_typed_state_with_its_caches() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")  # never connected
    state = create_app(settings).state
    assert isinstance(state, AppState)
    assert state.settings is settings and state.spatial_brute_force is False
    assert state.cache(IndexCache) is state.cache(IndexCache)
    assert isinstance(state.cache(IndexCache), IndexCache)
