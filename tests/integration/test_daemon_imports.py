"""What keeps an idle daemon small: with nothing configured it loads neither cryptography
(the relay's end-to-end channel, the mesh's certificates and pairing) nor httpx (calls to
peers and to the relay), nor the terminal emulator, zeroconf or qrcode. Each is imported
where it is first used, so a relay or a peer brings it in, not start-up."""

from __future__ import annotations

import json
import subprocess
import sys

from loopsy.home import LoopsyHome

HEAVY = ("cryptography", "httpx", "zeroconf", "qrcode", "loopsy.terminal")

BUILD_DAEMON = """
import json
import sys
from loopsy.daemon.app import create_app
from loopsy.daemon.server import ServeOptions, _bind_mesh
from loopsy.daemon.services import create_services
from loopsy.home import LoopsyHome

# (a None entry is a module kept out on purpose, like httpx._main in loopsy/__init__.py)
services = create_services(LoopsyHome.from_env())
create_app(services)
assert _bind_mesh(services, ServeOptions(port=0)) is None  # no --lan, mesh.listen off
print(json.dumps(sorted(m for m, mod in sys.modules.items() if mod and m.startswith({heavy}))))
services.close()
"""


def loaded_by_daemon(home: LoopsyHome) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", BUILD_DAEMON.replace("{heavy}", repr(HEAVY))],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"LOOPSY_HOME": str(home.root), "PATH": "/usr/bin:/bin"},
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def test_an_idle_daemon_imports_no_heavy_library(home: LoopsyHome) -> None:
    assert loaded_by_daemon(home) == []


def test_the_relay_link_and_the_mesh_still_work_once_used(home: LoopsyHome) -> None:
    """The deferred imports are real: the key, the certificate and the pairing crypto."""
    from loopsy.daemon.relay_link.registry import PhoneRegistry
    from loopsy.daemon.store import Store
    from loopsy.mesh.certificate import load_or_create
    from loopsy.protocol.tls_pin import fingerprint

    store = Store(home.root / "t.db")
    try:
        registry = PhoneRegistry(store, clock=lambda: 0.0, randbytes=lambda n: b"\x07" * n)
        assert len(registry.static_public()) == 32
        assert registry.static_key() is registry.static_key()
    finally:
        store.close()
    cert = load_or_create(home.root / "mesh", "a" * 32)
    assert fingerprint(cert.cert_pem) == cert.fingerprint
    assert load_or_create(home.root / "mesh", "a" * 32).cert_pem == cert.cert_pem
