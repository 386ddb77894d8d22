"""A real SMTP server on loopback for tests: aiosmtpd with STARTTLS on one port and implicit TLS on another,
a certificate made here with `cryptography`, and AUTH checked by credentials.services.authenticate.

    server = start_smtp_server(cert_dir)
    ... server.host, server.starttls_port, server.tls_port, server.ca_file
    ... server.received (messages), server.authenticated (usernames), server.refused (usernames)
    server.stop()

authenticate() reads the database from aiosmtpd's thread: tests using this server need `transactional_db`.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
import ssl
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"


@dataclass
class ReceivedMessage:
    username: str | None
    peer: str
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool


@dataclass
class RunningSMTPServer:
    host: str
    starttls_port: int
    tls_port: int
    ca_file: str
    received: list[ReceivedMessage] = field(default_factory=list)
    authenticated: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    controllers: list[Controller] = field(default_factory=list, repr=False)
    db_executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "smtp-db"), repr=False)

    def clear(self) -> None:
        self.received.clear()
        self.authenticated.clear()
        self.refused.clear()

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()
        self.controllers.clear()
        self.db_executor.submit(_close_db_connections).result(timeout=30)
        self.db_executor.shutdown()


def _close_db_connections() -> None:
    from django.db import connections

    connections.close_all()


def make_certificates(cert_dir: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it: (ca, cert, key)."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailsetup test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = cert_dir / "ca.pem", cert_dir / "server.pem", cert_dir / "server-key.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class _Handler:
    """Accepts mail from an authenticated session whose credential may send as the envelope sender."""

    def __init__(self, server: RunningSMTPServer, implicit_tls: bool) -> None:
        self.server = server
        self.implicit_tls = implicit_tls

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,  # noqa: N802
        mail_options: list[str],
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        from credentials.services import authorized_sender

        if not _in_db_thread(self.server, authorized_sender, session.auth_data, address):
            return f"550 5.7.1 {address} is not a verified sending address of this credential"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        credential = session.auth_data
        self.server.received.append(
            ReceivedMessage(
                username=getattr(credential, "username", None),
                peer=session.peer[0],
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content or b"",
                tls=self.implicit_tls or session.ssl is not None,
            )
        )
        return "250 Message accepted for delivery"


def _in_db_thread(server: RunningSMTPServer, function: Callable[..., Any], *args: Any) -> Any:
    """Run Django's synchronous ORM off the event loop (Django refuses it inside one), and wait for it.

    Blocking the loop for a moment is fine for a test server."""

    def call() -> Any:
        try:
            return function(*args)
        finally:
            # Closed after every call, so that no connection of this thread outlives a test (PostgreSQL would
            # refuse to drop the test database while one is open).
            _close_db_connections()

    return server.db_executor.submit(call).result(timeout=30)


def _authenticator(server: RunningSMTPServer) -> Any:
    def authenticator(smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        from credentials.services import authenticate

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        credential = _in_db_thread(server, authenticate, username, password, session.peer[0])
        if credential is None:
            server.refused.append(username)
            return AuthResult(success=False, handled=False)
        server.authenticated.append(credential.username)
        return AuthResult(success=True, auth_data=credential)

    return authenticator


class _ImplicitTLSWarningFilter(logging.Filter):
    """Drops aiosmtpd's "auth_required == True but auth_require_tls == False": untrue on an implicit-TLS port."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "auth_require_tls == False" not in record.getMessage()


class _ImplicitTLSController(Controller):
    def factory(self) -> SMTP:
        # The listener is TLS from the first byte, so AUTH without STARTTLS is not AUTH in the clear:
        # aiosmtpd's warning about auth_require_tls=False does not apply here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            return super().factory()


def start_smtp_server(cert_dir: Path | str) -> RunningSMTPServer:
    """Start the STARTTLS and implicit-TLS listeners on loopback; the caller stops them with .stop()."""
    ca_file, cert_file, key_file = make_certificates(Path(cert_dir))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    # aiosmtpd logs protocol lines at DEBUG; AUTH lines carry credentials, so keep that logger quiet.
    mail_log = logging.getLogger("mail.log")
    mail_log.setLevel(logging.INFO)
    if not any(isinstance(f, _ImplicitTLSWarningFilter) for f in mail_log.filters):
        mail_log.addFilter(_ImplicitTLSWarningFilter())

    server = RunningSMTPServer(host=HOST, starttls_port=free_port(), tls_port=free_port(), ca_file=str(ca_file))
    authenticator = _authenticator(server)
    starttls = Controller(
        _Handler(server, implicit_tls=False),
        hostname=HOST,
        port=server.starttls_port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=authenticator,
        auth_required=True,
        ready_timeout=10,
    )
    # aiosmtpd 1.4 offers no AUTH on an implicit-TLS listener while auth_require_tls is on (its issues #274,
    # #281): the connection is encrypted from the first byte, so the flag is off here.
    implicit = _ImplicitTLSController(
        _Handler(server, implicit_tls=True),
        hostname=HOST,
        port=server.tls_port,
        server_hostname="localhost",
        ssl_context=context,
        auth_require_tls=False,
        authenticator=authenticator,
        auth_required=True,
        ready_timeout=10,
    )
    try:
        starttls.start()
        server.controllers.append(starttls)
        implicit.start()
        server.controllers.append(implicit)
    except Exception:
        server.stop()
        raise
    return server
