"""Where webhooks may go: partners on the internet, never the deployment's own network.

A supervisor names the URL a subscription posts to.  Unchecked, that is a server-side
request forgery: ``http://10.0.0.5:7233/``, ``http://169.254.169.254/`` (a cloud's metadata
service) or ``http://localhost:5432/`` would make the worker send signed case events into
the deployment's own network.  So a URL's host must resolve only to public (globally
routable) addresses, checked when the subscription is made and again before every delivery
(DNS may change in between; the check and the connection still resolve separately, a
window a rebinding attacker with a very short TTL could use: the egress firewall of the
deployment stays the last line, README "Outbound webhooks").

``ITINERA_WEBHOOK_ALLOWED_NETWORKS`` lists private networks that are nonetheless allowed
(e.g. a partner reached over a VPN at 10.20.0.0/16); ``itinera dev`` and the tests allow
the loopback network so webhooks can be tried on one machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """The URL may not receive webhooks; the message says why, for the supervisor."""


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


async def check_target(url: str, allowed: Sequence[Network] = (), *, unresolved_ok: bool = False) -> None:
    """Raise ``TargetRefused`` unless every address ``url``'s host resolves to is public or
    in ``allowed``.  ``unresolved_ok``: a host that does not resolve (yet) passes; a
    subscription may be made before the partner's DNS is, and every delivery checks again."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise TargetRefused("has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        if unresolved_ok:
            return
        raise TargetRefused(f"its host {host} does not resolve ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_global and not address.is_multicast:
            continue
        if any(address in network for network in allowed):
            continue
        raise TargetRefused(
            f"its host {host} resolves to {address}, a private, loopback, link-local or reserved address: webhooks "
            "go only to public addresses (an administrator may allow a network with ITINERA_WEBHOOK_ALLOWED_NETWORKS)")
