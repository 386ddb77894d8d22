"""A real BIND9 (`named`) on loopback for tests and benchmarks, changed with RFC 2136 updates like a DNS admin would.

    server = BindServer.start(workdir, zones={"test": [...records...]})
    server.publish("s1._domainkey.acme.test", "TXT", 'v=DKIM1; k=rsa; p=...')
    server.remove("s1._domainkey.acme.test", "TXT")
    server.stop()

Zones are written as master files at start; records are then added and removed with TSIG-signed dynamic updates
over TCP (dns.update + dns.query.tcp). A zone listed in `broken_zones` is configured with a master file that
does not parse, so named answers SERVFAIL for every name in it.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

NAMED = shutil.which("named") or "/usr/sbin/named"
KEY_NAME = "mailsetup-test-key."


def named_available() -> bool:
    return shutil.which("named") is not None or os.path.exists("/usr/sbin/named")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (named needs both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


def txt_strings(value: str) -> str:
    """A TXT value in master-file syntax: quoted character-strings of at most 255 octets."""
    raw = value.encode()
    parts = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + part.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for part in parts)


def rdata_text(rtype: str, value: str | Iterable[str]) -> str:
    """One rdata in master-file syntax. A TXT value given as a list is published as those strings."""
    if rtype.upper() == "TXT":
        if isinstance(value, str):
            return txt_strings(value)
        return " ".join(txt_strings(part) for part in value)
    assert isinstance(value, str)
    return value


@dataclass
class BindServer:
    workdir: Path
    port: int
    zones: list[str]
    secret: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls, workdir: Path, zones: dict[str, list[str]], broken_zones: Iterable[str] = (), port: int | None = None
    ) -> BindServer:
        """Write named.conf and the zones, start named in the foreground (-g), wait until it answers."""
        workdir = Path(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        port = port or free_port()
        secret = base64.b64encode(secrets.token_bytes(32)).decode()
        server = cls(workdir=workdir, port=port, zones=list(zones), secret=secret, log_path=workdir / "named.log")
        conf = [
            "options {",
            f'  directory "{workdir}";',
            f"  listen-on port {port} {{ 127.0.0.1; }};",
            "  listen-on-v6 { none; };",
            f'  pid-file "{workdir}/named.pid";',
            f'  session-keyfile "{workdir}/session.key";',
            f'  managed-keys-directory "{workdir}";',
            "  recursion no;",
            "  allow-query { any; };",
            "  dnssec-validation no;",
            "  notify no;",
            "  minimal-responses yes;",
            "  max-udp-size 4096;",
            # Accept what DNS hosts let people publish (an MX to a name without an address, odd names).
            "  check-integrity no;",
            "  check-mx ignore;",
            "  check-names primary ignore;",
            "};",
            "controls { };",
            f'key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{secret}"; }};',
        ]
        for zone, records in zones.items():
            (workdir / f"{zone}.zone").write_text(zone_file(zone, records))
            conf.append(f'zone "{zone}" {{ type primary; file "{zone}.zone"; allow-update {{ key "{KEY_NAME}"; }}; }};')
        for zone in broken_zones:
            # A master file named.conf points at but that does not parse: the zone is configured and not loaded,
            # so named answers SERVFAIL for names in it.
            (workdir / f"{zone}.zone").write_text("this is not a zone file\n")
            conf.append(f'zone "{zone}" {{ type primary; file "{zone}.zone"; }};')
        (workdir / "named.conf").write_text("\n".join(conf) + "\n")
        log = open(server.log_path, "wb")  # noqa: SIM115 - lives as long as the process
        server.process = subprocess.Popen(
            [NAMED, "-g", "-c", str(workdir / "named.conf")],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server.wait_ready(next(iter(zones)))
        return server

    def wait_ready(self, zone: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        query = dns.message.make_query(zone, "SOA")
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"named exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
                if response.rcode() == dns.rcode.NOERROR and response.answer:
                    return
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"named did not answer within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    # RFC 2136 dynamic updates, as a DNS admin (or their provider's API) would publish.

    def zone_of(self, name: str) -> str:
        name = name.rstrip(".").lower()
        best = ""
        for zone in self.zones:
            if (name == zone or name.endswith("." + zone)) and len(zone) > len(best):
                best = zone
        if not best:
            raise ValueError(f"{name} is in none of the test zones {self.zones}")
        return best

    def _send(self, update: dns.update.UpdateMessage) -> None:
        response = dns.query.tcp(update, "127.0.0.1", port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"DNS update refused: {dns.rcode.to_text(response.rcode())}")

    def _update(self, name: str) -> tuple[dns.update.UpdateMessage, dns.name.Name]:
        zone = self.zone_of(name)
        keyring = dns.tsigkeyring.from_text({KEY_NAME: self.secret})
        update = dns.update.UpdateMessage(zone + ".", keyring=keyring, keyname=KEY_NAME, keyalgorithm="hmac-sha256")
        return update, dns.name.from_text(name.rstrip(".") + ".")

    def publish(self, name: str, rtype: str, *values: str | list[str], ttl: int = 60) -> None:
        """Replace every `rtype` record at `name` with these values."""
        update, owner = self._update(name)
        update.replace(owner, ttl, rtype, *[rdata_text(rtype, value) for value in values])
        self._send(update)

    def add(self, name: str, rtype: str, *values: str | list[str], ttl: int = 60) -> None:
        update, owner = self._update(name)
        for value in values:
            update.add(owner, ttl, rtype, rdata_text(rtype, value))
        self._send(update)

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Remove the `rtype` records at `name` (every record there when rtype is None)."""
        update, owner = self._update(name)
        if rtype is None:
            update.delete(owner)
        else:
            update.delete(owner, rtype)
        self._send(update)

    def publish_many(self, records: Iterable[tuple[str, str, str]], ttl: int = 60) -> None:
        """Publish many (name, rtype, value) records, one update message per zone and batch."""
        by_zone: dict[str, list[tuple[str, str, str]]] = {}
        for record in records:
            by_zone.setdefault(self.zone_of(record[0]), []).append(record)
        for batch_records in by_zone.values():
            for start in range(0, len(batch_records), 500):
                update, _ = self._update(batch_records[start][0])
                for name, rtype, value in batch_records[start : start + 500]:
                    update.add(dns.name.from_text(name.rstrip(".") + "."), ttl, rtype, rdata_text(rtype, value))
                self._send(update)


def zone_file(zone: str, records: list[str]) -> str:
    """A master file: SOA and NS, then the given lines (`name TTL class type rdata`, names relative or absolute)."""
    lines = [
        f"$ORIGIN {zone}.",
        "$TTL 60",
        f"@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60",
        f"@ IN NS ns.{zone}.",
        "ns IN A 127.0.0.1",
        *records,
    ]
    return "\n".join(lines) + "\n"
