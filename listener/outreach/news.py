"""Whether a mention is a news article rather than a customer speaking.

A story on a news site belongs to incidents (it can open one), not to customer care: by
default it gets no reply draft and no case (`outreach.news_as_customers` turns both back on).
Pure: a function of the mention, its score and the configured news sites.
"""

from __future__ import annotations

from collections.abc import Collection

from listener.domain import Category, Mention, Score
from listener.scoring.reading import NEWS_DOMAINS
from listener.text.urls import domain_under, host_of


def is_news_article(mention: Mention, score: Score, news_domains: Collection[str] = ()) -> bool:
    """A news story: scored as news, from a news source, or linked to a known news site
    (the well-known ones, plus `incidents.news_domains`)."""
    if score.category is Category.NEWS or mention.source_kind == "news":
        return True
    host = host_of(mention.url)
    if not host:
        return False
    extra = frozenset(d.lower().removeprefix("www.") for d in news_domains)
    return bool(domain_under(host, NEWS_DOMAINS) or domain_under(host, extra))
