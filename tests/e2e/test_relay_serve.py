"""`loopsy relay serve` options as an operator uses them: TLS, the phone client at /app,
a registration secret, and clear errors for bad options."""

from __future__ import annotations

import datetime
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loopsy.client import LoopsyClient
from loopsy.relay.app import Relay, RelaySettings
from loopsy.relay.store import RelayStore
from tests.relay_process import RelayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    relay = RelayProcess("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        url = relay.start()
        assert url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(base_url=url, verify=context) as http:
            assert (await http.get("/v1/health")).json()["service"] == "loopsy-relay"
            r = await http.get("/v1/health")
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
    finally:
        relay.cleanup()


async def test_app_dir_is_served(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>phone</title>")
    (tmp_path / "app.js").write_text("console.log(1)")
    relay = RelayProcess("--app-dir", str(tmp_path))
    try:
        relay.start()
        async with httpx.AsyncClient(base_url=relay.url) as http:
            page = await http.get("/app/")
            assert page.status_code == 200 and "<title>phone</title>" in page.text
            assert (await http.get("/app/app.js")).text == "console.log(1)"
            assert (await http.get("/app/../relay.db")).status_code == 404
    finally:
        relay.cleanup()


async def test_not_built_page(tmp_path: Path) -> None:
    store = RelayStore(tmp_path / "relay.db")
    relay = Relay(
        store,
        RelaySettings(app_dir=tmp_path / "missing"),
        clock=lambda: 0.0,
        randbytes=lambda n: b"\x01" * n,
    )
    transport = httpx.ASGITransport(app=relay.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://relay") as http:
        for path in ("/app", "/app/", "/app/index.html"):
            page = await http.get(path)
            assert page.status_code == 503
            assert "phone client is not built" in page.text and "scripts/setup" in page.text
    store.close()


async def test_registration_secret(client: LoopsyClient) -> None:
    secret = "correct horse battery staple"
    relay = RelayProcess(env={"LOOPSY_RELAY_REGISTRATION_SECRET": secret})
    try:
        relay.start()
        async with httpx.AsyncClient(base_url=relay.url) as http:
            assert (await http.post("/v1/devices", json={})).status_code == 401
            wrong = {"X-Loopsy-Registration": "wrong secret, long enough"}
            assert (await http.post("/v1/devices", json={}, headers=wrong)).status_code == 401
        await client.relay.configure(relay.url)
        import anyio

        with anyio.fail_after(10):
            while (status := await client.relay.status()).last_error is None:
                await anyio.sleep(0.05)
        assert "registration secret" in status.last_error and not status.connected
        await client.relay.configure(relay.url, registration_secret=secret)
        with anyio.fail_after(40):
            while not (await client.relay.status()).connected:
                await anyio.sleep(0.05)
    finally:
        relay.cleanup()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
        (["--app-dir", "/"], "has no index.html"),
        (["--port", "70000"], "--port must be 0..65535"),
    ],
)
def test_bad_options_are_clear_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loopsy", "relay", "serve", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert message in result.stderr
