"""The certificate this daemon's peer TLS listener presents: made once, kept in
``$LOOPSY_HOME/mesh/`` (key 0600), and pinned by every peer at pairing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from loopsy.home import write_atomic
from loopsy.protocol.tls_pin import fingerprint

VALID_DAYS = 3650


@dataclass(frozen=True)
class PeerCertificate:
    cert_file: Path
    key_file: Path
    cert_pem: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert_pem)


def load_or_create(directory: Path, node_id: str) -> PeerCertificate:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_file, key_file = directory / "peer-cert.pem", directory / "peer-key.pem"
    if cert_file.exists() and key_file.exists():
        return PeerCertificate(cert_file, key_file, cert_file.read_text(encoding="ascii"))
    # cryptography (~8 MB resident) is imported only to make the certificate: a daemon
    # that never joins a mesh, or already has one, does not load it for this.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"loopsy-{node_id[:32]}")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        # Self-signed and its own trust anchor on the peer's side: CA:TRUE lets OpenSSL
        # accept it as the root of a one-certificate chain.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("loopsy-peer")]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    write_atomic(key_file, key_pem, mode=0o600)
    write_atomic(cert_file, cert_pem, mode=0o644)
    return PeerCertificate(cert_file, key_file, cert_pem)
