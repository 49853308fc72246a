"""Which FHIR URLs we may call: the SSRF guard in front of every outgoing request.

`fhirServer` comes from the caller, and we send it a bearer token and our own network position.
So a base must be allowlisted (per trusted client, or by host pattern), must be http(s) without
userinfo, and must not point at loopback/private/link-local/metadata addresses unless the
operator allows it. Every later URL (a `next` page, a Medication reference) must stay under the
checked base.

Known limit: a name is resolved here and again by httpx when it connects; a DNS answer that
changes in between (rebinding) is not caught. Pin addresses at the network layer if that matters.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

import httpx

from cds_service.fhir.errors import FhirAccessDenied, FhirUnavailable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HOSTNAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
# "127.1", "2130706433", "0x7f.1": not DNS names (no numeric TLD), but resolvers accept them.
_NUMERIC_HOST = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)(?:\.(?:[0-9]+|0x[0-9a-f]*))*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _pattern(host_pattern: str) -> str:
    """`fhir.example.org` exact; `*.example.org` any sub-domain (not the apex); `*` anything."""
    text = host_pattern.strip().lower().rstrip(".")
    if text == "*":
        return r".+"
    if text.startswith("*."):
        return r"(?:[a-z0-9_-]+\.)+" + re.escape(text[2:])
    return re.escape(text)


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and reaches: IPv4-mapped (::ffff:a.b.c.d),
    6to4 (2002:AABB:CCDD::/48), Teredo (2001:0::/32: server and client), NAT64 (64:ff9b::/96,
    and the local-use 64:ff9b:1::/48 with the address in the last 32 bits) and the deprecated
    IPv4-compatible form (::a.b.c.d). `2002:7f00:1::1` is loopback in disguise."""
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    low32 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if any(addr in net for net in _NAT64):
        found.append(low32)
    if addr in _IPV4_COMPATIBLE and int(addr) > 1:  # not :: or ::1 (checked as themselves)
        found.append(low32)
    return found


def _is_blocked(addr: IPAddress) -> bool:
    """Not a public unicast address: loopback, private, link-local, unspecified, multicast...
    An IPv6 address that embeds an IPv4 one is blocked when that one is."""
    if isinstance(addr, ipaddress.IPv6Address) and any(
        _is_blocked(inner) for inner in embedded_ipv4(addr)
    ):
        return True
    return (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_unspecified
        or addr.is_multicast
        or addr.is_reserved
        or not addr.is_global
    )


def _host(parts: SplitResult) -> str:
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FhirAccessDenied("FHIR URL has no host")
    return host


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FhirAccessPolicy:
    """Where this call's `fhirServer` may point. Built per request from trust config + settings.

    `allowed_bases`: exact bases the authenticated client may send (None: not restricted by
    client, use `allowed_hosts`; an empty tuple allows nothing). `allowed_hosts`: host patterns
    from CDS_FHIR_ALLOWED_HOSTS; a lone `*` allows any host (the caller only passes it through in
    the development profile).
    """

    allowed_bases: tuple[str, ...] | None
    allowed_hosts: tuple[str, ...]
    allow_private: bool = False
    allow_unauthenticated: bool = False
    _hosts_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _bases: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = [_pattern(p) for p in self.allowed_hosts if p.strip()]
        compiled = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        object.__setattr__(self, "_hosts_re", compiled)
        object.__setattr__(self, "_bases", frozenset(_valid_bases(self.allowed_bases or ())))

    def check_base(self, fhir_server: str) -> None:
        """Refuse a base we must not call; no DNS (see `check_base_async`)."""
        parts = _split(fhir_server)
        if parts.query or parts.fragment:
            raise FhirAccessDenied("fhirServer must not carry a query or fragment")
        host = _host(parts)
        if self.allowed_bases is not None:
            if _normalise_base(fhir_server) not in self._bases:
                raise FhirAccessDenied(f"fhirServer {host} is not registered for this client")
        elif self._hosts_re is None or not self._hosts_re.fullmatch(host):
            raise FhirAccessDenied(f"fhirServer host {host} is not in CDS_FHIR_ALLOWED_HOSTS")
        self._check_host(host)

    async def check_base_async(self, fhir_server: str) -> None:
        """`check_base`, then resolve the host and refuse it if any address is non-public."""
        self.check_base(fhir_server)
        parts = urlsplit(fhir_server)
        host = _host(parts)
        if self.allow_private or _literal_ip(host) is not None:
            return
        port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FhirUnavailable(f"FHIR server {host}: name could not be resolved") from exc
        for info in infos:
            addr = _literal_ip(str(info[4][0]).split("%", 1)[0])
            if addr is None or _is_blocked(addr):
                raise FhirAccessDenied(f"fhirServer {host} resolves to a non-public address")

    def check_url(self, url: str, base: str) -> httpx.URL:
        """Refuse a URL that leaves `base`: other scheme/host/port, or outside its path.

        Returns the URL as httpx parsed it, for the request itself: httpx checks every
        character of a URL in Python, so a long search URL should be parsed once, not per use.
        """
        target, root = _split(url), _split(base)
        if _origin(target) != _origin(root):
            raise FhirAccessDenied(f"URL on {_host(target)} is not on the FHIR server's origin")
        # Compare what httpx will actually send: it removes dot segments ("a/../b").
        try:
            parsed = httpx.URL(url)
            path = parsed.raw_path.split(b"?", 1)[0].decode("ascii")
        except (httpx.InvalidURL, UnicodeDecodeError) as exc:
            raise FhirAccessDenied("URL could not be parsed") from exc
        root_path = _base_path(base)
        if not (path == root_path or path.startswith(root_path + "/")):
            raise FhirAccessDenied("URL is not under the FHIR server's base path")
        segments = path.lower().replace("%2e", ".").split("/")
        if "." in segments or ".." in segments:
            raise FhirAccessDenied("URL path contains a dot segment")
        return parsed

    def _check_host(self, host: str) -> None:
        addr = _literal_ip(host)
        if addr is None:
            if host == "localhost" or host.endswith(".localhost"):
                if not self.allow_private:
                    raise FhirAccessDenied("fhirServer is a loopback address")
                return
            if not _HOSTNAME.fullmatch(host) or _NUMERIC_HOST.fullmatch(host):
                raise FhirAccessDenied("fhirServer host is not a valid DNS name or IP address")
            return
        if _is_blocked(addr) and not self.allow_private:
            raise FhirAccessDenied("fhirServer is a loopback, private or reserved address")


@functools.lru_cache(maxsize=256)
def _base_path(base: str) -> str:
    """The path httpx sends for `base`, without a trailing slash (a call checks several URLs
    against one base)."""
    try:
        return httpx.URL(base).raw_path.split(b"?", 1)[0].decode("ascii").rstrip("/")
    except (httpx.InvalidURL, UnicodeDecodeError) as exc:
        raise FhirAccessDenied("URL could not be parsed") from exc


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FhirAccessDenied("FHIR URL could not be parsed") from exc
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise FhirAccessDenied("FHIR URL must be http or https")
    if "@" in parts.netloc or parts.username is not None:
        raise FhirAccessDenied("FHIR URL must not carry userinfo")
    return parts


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    return scheme, _host(parts), parts.port or _DEFAULT_PORTS[scheme]


def _normalise_base(url: str) -> str:
    """Scheme and host case-folded, default port dropped, trailing slash removed."""
    parts = _split(url)
    scheme, host, port = _origin(parts)
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _valid_bases(bases: tuple[str, ...]) -> list[str]:
    """Normalised configured bases; a malformed one matches nothing (fail closed)."""
    out = []
    for base in bases:
        try:
            out.append(_normalise_base(base))
        except FhirAccessDenied:
            continue
    return out
