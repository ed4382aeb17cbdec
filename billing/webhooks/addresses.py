"""Where webhooks may be sent: never to this network's own addresses (an SSRF guard).

A webhook URL is chosen by whoever holds a write key or an admin login, and revops POSTs to it from
inside the company's network. Left open, that reaches the database, the cloud's metadata service
(169.254.169.254) or an internal admin page, and the delivery log shows the answer. So a host that is,
or resolves to, a private, loopback, link-local, multicast, unspecified or other non-public address
(shared carrier space 100.64.0.0/10, reserved ranges) is refused: when the endpoint is registered, and
again when each attempt connects, because a name's DNS answer can change after registration (DNS
rebinding). REVOPS_WEBHOOK_ALLOW_PRIVATE turns the guard off for a test setup
whose receiver runs on this machine.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(Exception):
    """The host is or resolves to an address webhooks may not reach; the message says which and why."""


def refusal(address: Address) -> str:
    """Why `address` may not be sent to, or "" when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    # Most specific first: a loopback address is private too, and "loopback" says more.
    for reason, found in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        # Not private, yet not on the internet either: shared carrier space (100.64.0.0/10, a cloud's own
        # network in places), reserved and benchmarking ranges.
        ("non-public", not address.is_global),
    ):
        if found:
            return reason
    return ""


def _public_only(what: str, reason: str) -> RefusedAddress:
    article = "an" if reason[0] in "aeiou" else "a"
    return RefusedAddress(f"{what} {article} {reason} address; webhooks are only sent to public addresses")


def guard_off() -> bool:
    return settings.REVOPS_WEBHOOK_ALLOW_PRIVATE


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])  # [::1], fe80::1%eth0
    except ValueError:
        return None


def _resolved(host: str, port: int | None) -> list[Address]:
    """Every address `host` resolves to now; raises OSError (socket.gaierror) when it resolves to none."""
    found = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in found:
            found.append(address)
    return found


def check_host(host: str, port: int | None = None) -> None:
    """Raise RefusedAddress if `host` is, or resolves to, an address webhooks may not reach.

    A name that resolves to nothing passes: it reaches nothing now (an attempt fails to connect, as
    before), and every attempt checks again."""
    if guard_off():
        return
    literal = _literal(host)
    if literal is not None:
        if reason := refusal(literal):
            raise _public_only(f"{host} is", reason)
        return
    try:
        _refuse_any(host, _resolved(host, port))
    except OSError:
        return


def _refuse_any(host: str, addresses: list[Address]) -> None:
    for address in addresses:
        if reason := refusal(address):
            raise _public_only(f"{host} resolves to {address},", reason)


def check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    check_host(parts.hostname or "", parts.port)


def _guarded_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """socket.create_connection that refuses a refused address among those it would connect to. The
    connection goes to the very addresses checked, so a DNS answer changed between the check and the
    connect (a rebinding made to race the check) cannot slip through."""
    host, port = address
    addresses = _resolved(host, port)
    _refuse_any(host, addresses)
    error: OSError | None = None
    for found in addresses:
        try:
            return socket.create_connection((str(found), port), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error or OSError(f"{host}: no address to connect to")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    # The socket goes to the checked address; TLS still verifies the certificate against the URL's name.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


def _proxied(request: urllib.request.Request) -> bool:
    # Through a proxy the socket goes to the proxy, which the operator chose: the URL's own host was
    # checked before sending (check_url) and the proxy connects to it.
    return request.has_proxy() or request._tunnel_host is not None


class GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        if guard_off() or _proxied(req):
            return super().http_open(req)
        return self.do_open(_GuardedHTTPConnection, req)


class GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        if guard_off() or _proxied(req):
            return super().https_open(req)
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)
