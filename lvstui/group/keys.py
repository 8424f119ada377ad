"""The group credential: one self-signed certificate and its key, held by every member.

`lvstui group keygen > FILE` writes it (PEM: certificate, then key); the operator copies the
file to every director like the config. Holding it is membership: each side of a link
presents it and accepts only a peer presenting the very same certificate (pinned: the chain
is verified against it alone, then its bytes are compared). The cryptography is Python's ssl
(TLS 1.3) and the `cryptography` package's key generation — none of our own.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Credential", "KeyFileError", "generate", "load"]

_VALIDITY = datetime.timedelta(days=100 * 365)  # membership ends by changing the key, not a date
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"


class KeyFileError(Exception):
    """The key file is missing, unreadable or not a group credential."""


def generate() -> str:
    """A new group credential, PEM text (certificate + private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    group_id = secrets.token_hex(8)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"lvstui group {group_id}")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        # a trust anchor and an end entity at once: every member is both
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem_cert + pem_key


@dataclass(frozen=True, slots=True)
class Credential:
    path: str
    cert_pem: str
    fingerprint: str  # sha256 of the certificate (DER), hex: the group's identity
    warning: str = ""  # e.g. the file is readable by others

    @property
    def group_id(self) -> str:
        return self.fingerprint[:16]

    def context(self, *, server: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(self.path)
        ctx.load_verify_locations(cadata=self.cert_pem)
        ctx.check_hostname = False  # peers are pinned by certificate, not named by DNS
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def pinned(self, peer_der: bytes | None) -> bool:
        """The peer presented our certificate (belt and braces after chain verification)."""
        return peer_der is not None and hashlib.sha256(peer_der).hexdigest() == self.fingerprint


def load(path: str | os.PathLike[str]) -> Credential:
    """Read and check a key file (KeyFileError says what is wrong)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
        mode = p.stat().st_mode
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"cannot read group key file {p}: {e}") from e
    start, end = text.find(_BEGIN), text.find(_END)
    if start < 0 or end < start or "PRIVATE KEY-----" not in text:
        raise KeyFileError(
            f"{p} is not a group key file (a certificate and a private key, PEM): "
            "write one with `lvstui group keygen > FILE`"
        )
    cert_pem = text[start : end + len(_END)] + "\n"
    der = ssl.PEM_cert_to_DER_cert(cert_pem)
    cred = Credential(str(p), cert_pem, hashlib.sha256(der).hexdigest())
    try:
        cred.context(server=True)
    except (ssl.SSLError, ValueError) as e:
        raise KeyFileError(f"{p}: the certificate and key do not load: {e}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Credential(
            cred.path,
            cred.cert_pem,
            cred.fingerprint,
            f"{p} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 it, "
            "whoever reads it can join the group",
        )
    return cred
