"""The embedded broker's TLS material: a local CA and a server certificate it issued.

Generated once, on the first ``services up``, with the ``openssl`` command line (the
``cryptography`` package is not a dependency). Private keys never touch the disk with looser
permissions: openssl prints them and we write them through ``create_private`` (mode 0600 at
creation). The CA key stays under ``{state}/tls/`` (not readable by the broker's system user);
the broker gets only the server key and certificate under ``{state}/mqtt/tls/``. Delete both
directories to issue new ones (devices then need the new ``ca.crt``).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import subprocess
import tempfile
from pathlib import Path

from app.core.statedir import StatePaths, create_private

CA_DAYS = 3650
SERVER_DAYS = 825  # what clients such as Apple's accept for a server certificate


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode()[-500:]}")
    return result.stdout


def _new_key(path: Path) -> None:
    create_private(
        path, _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    )


def server_names(bind_host: str) -> list[str]:
    """subjectAltName entries: loopback, this machine's name and the bind address."""
    names = {"DNS:localhost", "IP:127.0.0.1", "IP:::1", f"DNS:{socket.gethostname()}"}
    try:
        address = ipaddress.ip_address(bind_host)
    except ValueError:
        names.add(f"DNS:{bind_host}")
    else:
        if not address.is_unspecified:  # a wildcard bind: this machine's name covers it
            names.add(f"IP:{address}")
    return sorted(names)


def ensure_ca(paths: StatePaths) -> None:
    key = paths.ca / "ca.key"
    if paths.ca_cert.exists():
        return
    _new_key(key)
    _openssl(
        "req", "-x509", "-new", "-key", str(key), "-sha256", "-days", str(CA_DAYS),
        "-subj", "/CN=parktwin local CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", str(paths.ca_cert),
    )  # fmt: skip


def ensure_server_cert(paths: StatePaths, bind_host: str) -> tuple[Path, Path]:
    """The server key and certificate for the TLS listener, issued by the local CA."""
    key, cert = paths.mqtt_tls / "server.key", paths.mqtt_tls / "server.crt"
    if cert.exists() and key.exists():
        return cert, key
    ensure_ca(paths)
    _new_key(key)
    csr = _openssl("req", "-new", "-key", str(key), "-subj", "/CN=parktwin-mqtt")
    extensions = (
        f"subjectAltName={','.join(server_names(bind_host))}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".ext") as ext:
        ext.write(extensions)
        ext.flush()
        pem = _openssl(
            "x509", "-req", "-sha256", "-days", str(SERVER_DAYS),
            "-CA", str(paths.ca_cert), "-CAkey", str(paths.ca / "ca.key"),
            "-set_serial", f"0x{secrets.token_hex(16)}", "-extfile", ext.name,
            stdin=csr,
        )  # fmt: skip
    cert.write_bytes(pem)
    return cert, key
