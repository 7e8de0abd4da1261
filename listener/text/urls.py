"""Host names of mention links, read fast and never raising.

Links come from anyone's feed or post, so a malformed one ("http://[::1") must read as no
host rather than stop scoring or incident detection; and every mention has one, so the usual
shape is read with one anchored pattern instead of general URL parsing.
"""

from __future__ import annotations

import re
from collections.abc import Container
from urllib.parse import urlsplit

# The usual shape of a link, whose host needs no general URL parsing. Anything else (another
# scheme's case, a port, user info, whitespace that urlsplit would drop) goes to urlsplit.
_PLAIN_HOST = re.compile(r"https?://([A-Za-z0-9._-]+)(?:[/?#]|$)")


def host_of(url: str) -> str:
    """The link's host name, lower case, without "www." (what `urlsplit(...).hostname`
    gives); '' for a link without one or one urlsplit cannot read."""
    if not url:
        return ""
    plain = _PLAIN_HOST.match(url)
    if plain:
        host = plain.group(1)
    else:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:  # a malformed IPv6 literal, a bad port
            return ""
    return host.lower().removeprefix("www.")


def domain_under(host: str, domains: Container[str]) -> str:
    """The entry of `domains` that `host` is or lies under (the longest such), else ''.

    One set lookup per label: "news.bbc.co.uk" tries itself, "bbc.co.uk", "co.uk" and "uk".
    """
    if not host:
        return ""
    if host in domains:
        return host
    dot = host.find(".")
    while dot != -1:
        parent = host[dot + 1 :]
        if parent in domains:
            return parent
        dot = host.find(".", dot + 1)
    return ""
