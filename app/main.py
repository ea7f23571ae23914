"""The FastAPI application factory: ``create_app()`` (uvicorn runs it with ``factory=True``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.broker.accounts import account_broker
from app.cockpit import mount_cockpit
from app.core.appstate import AppState
from app.core.auth import TtlCache
from app.core.config import Settings, get_settings
from app.core.cors import install_cors
from app.core.db import check_timescaledb, create_engine_for
from app.core.docs import install_docs
from app.core.errors import install_error_handlers
from app.core.gcpause import freeze_startup_heap
from app.core.health import router as health_router
from app.core.limits import limit_bodies
from app.core.metrics import instrument
from app.core.microcache import MicroCache
from app.core.request_id import install_request_id
from app.emergency.hazards import map_features as hazard_map_features
from app.events.hub import EventHub

logger = logging.getLogger(__name__)


def app_state_of(app: FastAPI) -> AppState:
    state = app.state
    assert isinstance(state, AppState)
    return state


def _lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The API's login role, statement and lock timeouts, keepalives: all in its URL.
        engine = create_engine_for(settings.database_url_for("api"), settings.db_pool_size)
        version = await check_timescaledb(engine)
        logger.info("database ready, timescaledb %s", version)
        broker = account_broker(settings)
        broker.start()
        state = app_state_of(app)
        state.engine = engine
        state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        read = create_engine_for(settings.api_read_url(), settings.db_pool_size, read_only=True)
        state.read_engine = read
        state.read_sessionmaker = async_sessionmaker(read, expire_on_commit=False)
        state.broker = broker
        state.events.open()
        if state.twin_cache.ttl_s > 0:
            state.events.listen()  # each outbox notification clears the twin and map answers
        freeze_startup_heap("api")  # full GC passes stalled every request (app/core/gcpause.py)
        try:
            yield
        finally:
            await state.events.aclose()
            broker.close()
            await read.dispose()
            await engine.dispose()

    return lifespan


def api_routers() -> list[APIRouter]:
    from app.alarms.detector_router import router as detectors
    from app.alarms.router import router as alarms
    from app.alarms.router import rules_router as alarm_rules
    from app.apikeys.router import router as apikeys
    from app.assets.equipment.router import router as equipment
    from app.assets.imports.router import router as imports
    from app.assets.land.router import router as land
    from app.assets.tenancy.router import router as tenancy
    from app.assets.twin.router import router as twin
    from app.carbon.router import router as carbon
    from app.device_types.router import router as device_types
    from app.devices.router import router as devices
    from app.economy.flow_router import enterprise_router as economy_enterprise
    from app.economy.flow_router import park_router as economy_flow
    from app.economy.router import router as economy
    from app.emergency.router import router as emergency
    from app.enterprise_portal.router import router as enterprise_portal
    from app.events.router import router as events
    from app.export.router import router as export
    from app.notify.router import ack_router as notify_ack
    from app.notify.router import router as notify
    from app.parks.router import router as parks
    from app.telemetry.router import router as telemetry
    from app.webhooks.router import router as webhooks

    return [
        apikeys,
        parks,
        device_types,
        devices,
        telemetry,
        alarms,
        alarm_rules,
        detectors,
        webhooks,
        notify,
        notify_ack,
        land,
        twin,
        tenancy,
        equipment,
        imports,
        carbon,
        emergency,
        economy,
        enterprise_portal,
        economy_flow,
        economy_enterprise,
        export,
        events,
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="parktwin",
        version="0.1.0",
        description="Digital operations backend for an industrial park (高标准数字园区): "
        "assets, economic operation, green and low-carbon, safety and emergency.",
        lifespan=_lifespan(settings),
        docs_url=None,  # app/core/docs.py serves them with local assets
        redoc_url=None,
    )
    state = AppState(
        settings=settings,
        registry=CollectorRegistry(),
        latest_cache=MicroCache(settings.latest_cache_ttl.total_seconds()),
        api_keys=TtlCache(settings.api_key_cache_ttl.total_seconds()),
        park_timezones=TtlCache(),
        twin_cache=MicroCache(settings.twin_cache_ttl.total_seconds()),
    )
    app.state = state  # type: ignore[assignment]  # typed: app/core/appstate.py
    events = EventHub(settings, state.registry)
    events.on_notify(state.twin_cache.invalidate)  # an alarm's colour is not held for the ttl
    state.events = events
    state.map_layers.append(hazard_map_features)  # 重大危险源 on the park map
    install_error_handlers(app)
    app.include_router(health_router)
    install_docs(app)
    for router in api_routers():
        app.include_router(router)
    mount_cockpit(app)  # /, /cockpit.css, /js, /vendor: the page and its files only
    limit_bodies(app, settings)  # inside the metrics middleware, so 413s are counted
    instrument(app, state.registry)
    install_cors(app, settings)  # outside the body limit: a refused body still carries CORS
    install_request_id(app)  # last added, so outermost: even a 413 carries the id
    return app
