"""``parktwin api`` serves HTTPS when PARKTWIN_API_TLS_CERT and PARKTWIN_API_TLS_KEY are set
(review M7, API part): a self-signed certificate made here, and a client that trusts only it."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.embedded.process import free_port
from tests.conftest import ServiceEnv

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _env(services: ServiceEnv, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PARKTWIN_DATABASE_URL": database_url,
        "PARKTWIN_MQTT_URL": services.mqtt_url,
        **extra,
    }


@pytest.fixture(scope="module")
def https_api(
    services: ServiceEnv, database_url: str, certificate: tuple[Path, Path]
) -> Iterator[str]:
    cert, key = certificate
    port = free_port()
    env = _env(
        services, database_url, PARKTWIN_API_TLS_CERT=str(cert), PARKTWIN_API_TLS_KEY=str(key)
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get_healthz(base: str, context: ssl.SSLContext, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"https://{base}/healthz", verify=context, timeout=5)
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_api_serves_https_with_the_configured_certificate(
    https_api: str, certificate: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    response = _get_healthz(https_api, trusting)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.url.scheme == "https"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"https://{https_api}/healthz", verify=ssl.create_default_context(), timeout=5)
    with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
        httpx.get(f"http://{https_api}/healthz", timeout=5)


def test_a_certificate_without_its_key_is_refused(
    services: ServiceEnv, database_url: str, certificate: tuple[Path, Path]
) -> None:
    env = _env(services, database_url, PARKTWIN_API_TLS_CERT=str(certificate[0]))
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "api", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "both a certificate and its key" in result.stderr
