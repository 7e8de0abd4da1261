"""Mention links: the fast host reading agrees with urlsplit and never raises."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listener.text.urls import domain_under, host_of


def host_by_urlsplit(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Example.org/a?b#c", "example.org"),
        ("http://news.bbc.co.uk", "news.bbc.co.uk"),
        ("HTTPS://EXAMPLE.ORG/", "example.org"),
        ("https://user:pw@Example.org:8443/x", "example.org"),
        ("https://exa\tmple.org/x", "example.org"),
        ("  https://example.org/x", "example.org"),
        ("https://[2001:db8::1]/x", "2001:db8::1"),
        ("http://[::1", ""),
        ("https://[not-an-address]/x", ""),
        ("example.org/path", ""),
        ("", ""),
        ("mailto:someone@example.org", ""),
    ],
)
def test_host_of_reads_links_as_urlsplit_does(url: str, host: str) -> None:
    assert host_of(url) == host == host_by_urlsplit(url)


_PIECES = st.sampled_from(
    [
        "http",
        "https",
        "HTTP",
        "://",
        "/",
        "?",
        "#",
        "@",
        ":",
        "[",
        "]",
        ".",
        "-",
        "_",
        "www.",
        "example",
        "org",
        "bbc",
        "co",
        "uk",
        "\t",
        "\n",
        " ",
        "80",
        "::1",
        "é",
        "%2F",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_host_of_agrees_with_urlsplit_on_near_links(url: str) -> None:
    assert host_of(url) == host_by_urlsplit(url)


@pytest.mark.parametrize(
    ("host", "found"),
    [
        ("bbc.co.uk", "bbc.co.uk"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("finance.yahoo.com", "finance.yahoo.com"),
        ("yahoo.com", ""),
        ("bbc.co.uk.example.org", ""),
        ("", ""),
    ],
)
def test_domain_under_finds_the_longest_listed_parent(host: str, found: str) -> None:
    assert domain_under(host, {"bbc.co.uk", "finance.yahoo.com", "co.uk.example"}) == found
