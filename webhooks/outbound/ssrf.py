"""Where a merchant webhook may be sent: checked at registration and before every delivery.

The policy (README, "Webhooks for merchants"):
- `https` only. `http` is accepted only when WEBHOOK_ALLOW_INSECURE is on (development and
  tests; refused in production) and every address of the host is loopback.
- No credentials in the URL (they would sit in logs and the back-office; the signature is the
  authentication), no fragment, at most 2048 characters, ports in WEBHOOK_ALLOWED_PORTS
  (443 and 8443 by default; any port when WEBHOOK_ALLOW_INSECURE is on).
- The host is resolved and **every** address must be a public unicast one: loopback,
  private, link-local, CGNAT, multicast, reserved, unspecified, documentation and benchmark
  ranges, cloud metadata (169.254.169.254, fd00:ec2::254, 100.100.100.200), NAT64, 6to4,
  IPv4-mapped and IPv4-compatible IPv6 are refused. So are IPv4 spelt in decimal, hex, octal
  or short form (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`), which resolvers accept and
  humans misread, and names reserved for local use (`localhost`, `*.local`, `*.internal`).
- The connection then goes to one of the addresses that were checked (webhooks.outbound.
  client pins it), never to a second resolution: no DNS-rebinding window.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack…
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
# Ranges Python's `is_global` does not refuse on every 3.11 release, or that embed IPv4.
_BLOCKED_NETWORKS = [
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # CGNAT: can route to a provider's internal workloads
        "192.0.0.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",
        "64:ff9b::/96",  # NAT64 (embeds IPv4)
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4 (embeds IPv4)
        "2001::/32",  # Teredo (embeds IPv4)
        "2001:20::/28",
        "3fff::/20",
        "5f00::/16",
    )
]
LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa", ".lan")
# A label a resolver would read as a number: decimal, octal (leading 0) or hex (0x…).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")


class UrlRefused(Exception):
    """The URL or one of its addresses is not allowed; `reason` says why, for the merchant."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`addresses`, every one allowed) and what to send."""

    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, as the Host header and TLS expect it
    port: int
    path: str  # path and query string
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to. Tests replace this (they never use real DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def check(url: str) -> Target:
    """The target of `url` with every address checked; raises UrlRefused."""
    scheme, host, port, path, literal = _parse(url)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise UrlRefused(f"The host {host} could not be resolved.") from exc
        addresses = []
        for text in found:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError as exc:
                raise UrlRefused(f"{host} resolves to {text!r}, not an IP address.") from exc
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise UrlRefused(f"The host {host} could not be resolved.")
    insecure = allow_insecure()
    for address in addresses:
        problem = address_problem(address, allow_loopback=insecure)
        if problem:
            shown = host if literal is not None else f"{host} resolves to {address}, which"
            raise UrlRefused(f"{shown} is {problem}; webhooks go to public addresses only.")
    if scheme == "http" and not all(address.is_loopback for address in addresses):
        raise UrlRefused("Use https (http is accepted for loopback receivers in development).")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))


def allow_insecure() -> bool:
    return bool(settings.WEBHOOK_ALLOW_INSECURE)


def address_problem(address: IPAddress, *, allow_loopback: bool = False) -> str:
    """Why a webhook may not connect to `address` ("" when it may)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.scope_id:
            return "a scoped IPv6 address"
        if int(address) >> 32 == 0 and int(address) > 1:
            return "an IPv4-compatible IPv6 address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "" if allow_loopback else "a loopback address"
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if any(address in network for network in _BLOCKED_NETWORKS):
        return "a reserved or translated address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return ""


def _parse(url: str) -> tuple[str, str, int, str, IPAddress | None]:
    """Syntax and policy, without DNS: (scheme, host, port, path, the IP if a literal)."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"A webhook URL has at most {MAX_URL_LENGTH} characters.")
    if _FORBIDDEN_CHARACTERS.search(url):
        raise UrlRefused("The URL holds whitespace, control characters or a backslash.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"The URL cannot be parsed: {exc}.") from exc
    scheme = parts.scheme.lower()
    insecure = allow_insecure()
    if scheme != "https" and not (scheme == "http" and insecure):
        raise UrlRefused("A webhook URL must start with https://.")
    if "@" in parts.netloc:
        raise UrlRefused("A webhook URL may not carry credentials (user:password@).")
    if parts.fragment or url.endswith("#"):
        raise UrlRefused("A webhook URL may not have a #fragment.")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise UrlRefused("The URL has no host.")
    if "%" in raw_host:
        raise UrlRefused("Scoped IPv6 addresses are not accepted.")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if not insecure and port not in settings.WEBHOOK_ALLOWED_PORTS:
        allowed = ", ".join(str(p) for p in settings.WEBHOOK_ALLOWED_PORTS)
        raise UrlRefused(f"Port {port} is not accepted; use {allowed}.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    literal = _ip_literal(raw_host)
    if literal is not None:
        return scheme, str(literal), port, path, literal
    try:
        host = raw_host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise UrlRefused(f"{raw_host!r} is not a valid host name.") from exc
    literal = _ip_literal(host)  # IDNA's NFKC can turn look-alike digits into an address
    if literal is not None:
        return scheme, str(literal), port, path, literal
    bare = host.removesuffix(".")
    if all(_NUMERIC_LABEL.match(label) for label in bare.split(".")) or _inet_aton(bare):
        raise UrlRefused(f"{raw_host} is an IPv4 address in a non-standard form.")
    if any(bare == name.lstrip(".") or bare.endswith(name) for name in LOCAL_NAMES) and not (
        insecure and bare == "localhost"
    ):
        raise UrlRefused(f"{raw_host} is a name for local networks only.")
    return scheme, bare, port, path, None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _inet_aton(host: str) -> bool:
    """Whether the C library would read `host` as an IPv4 address (inet_aton's forms)."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True
