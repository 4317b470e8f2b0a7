"""Pinned TLS between paired daemons: the peer's self-signed certificate is the only trust
anchor, exchanged inside the sealed pairing messages; host names are not checked because
the pin already names the one key that may answer.
"""

from __future__ import annotations

import hashlib
import ssl

from loopsy.protocol.errors import ProtocolError


def fingerprint(cert_pem: str) -> str:
    """SHA-256 of the certificate's DER bytes, lowercase hex."""
    # Imported here: the daemon imports this module at start (peer registry, health
    # checks), and cryptography's ~8 MB are needed only once a peer is paired or seen.
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        raise ProtocolError("not a PEM certificate") from None
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def der_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    """A client context that accepts exactly the pinned certificate (and nothing it did not
    sign), TLS 1.2 at least."""
    fingerprint(cert_pem)  # refuse garbage before OpenSSL gives a vaguer error
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=cert_pem)
    return context


def unverified_context() -> ssl.SSLContext:
    """Only for the pairing exchange and ``peers add`` probes, where nothing is pinned yet:
    pairing carries its own encryption, and the certificate seen is then checked against
    the one sent sealed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
