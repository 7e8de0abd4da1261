"""Reddit, Mastodon and Hacker News as one-line settings entries.

Each is a public feed under the hood; this module turns `kind = "reddit"` + a query (or the
brand's own terms) into the right feed URL and tidies the platform's author conventions, so
mentions from every kind carry the same fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

from listener.clock import Clock
from listener.domain import FetchBatch, Mention, PollState
from listener.errors import SettingsError
from listener.settings import (
    HackerNewsSourceSettings,
    MastodonSourceSettings,
    RedditSourceSettings,
    Settings,
)
from listener.sources.feed import FeedSource, HostClients

SocialSettings = RedditSourceSettings | MastodonSourceSettings | HackerNewsSourceSettings
Tidy = Callable[[Mention], Mention]


def brand_query(settings: Settings, brands: list[str], *, joiner: str = " OR ") -> str:
    """A search query from the brands' own terms: handles and hashtags dropped, phrases quoted."""
    chosen = [b for b in settings.brands if not brands or b.name in brands]
    terms: list[str] = []
    for brand in chosen:
        for term in brand.terms:
            if term.startswith(("@", "#")):
                continue
            phrase = f'"{term}"' if " " in term else term
            if phrase not in terms:
                terms.append(phrase)
    return joiner.join(terms)


def reddit_url(config: RedditSourceSettings, query: str) -> str:
    base = config.base_url.rstrip("/")
    q = quote_plus(query)
    if config.subreddit:
        sub = quote(config.subreddit.removeprefix("r/").strip("/"))
        return f"{base}/r/{sub}/search.rss?q={q}&restrict_sr=on&sort=new"
    return f"{base}/search.rss?q={q}&sort=new"


def mastodon_url(config: MastodonSourceSettings) -> str:
    instance = config.instance.rstrip("/")
    if not instance.startswith(("http://", "https://")):
        instance = f"https://{instance}"
    if config.tag:
        return f"{instance}/tags/{quote(config.tag.lstrip('#'))}.rss"
    return f"{instance}/@{quote(config.account.lstrip('@').split('@', 1)[0])}.rss"


def hackernews_url(config: HackerNewsSourceSettings, query: str) -> str:
    return f"{config.base_url.rstrip('/')}/newest?q={quote_plus(query)}"


def _tidy_reddit(mention: Mention) -> Mention:
    # Reddit's Atom names authors "/u/name"; we store "u/name" as people write it.
    author = mention.author.removeprefix("/")
    return replace(mention, author=author, author_name=author)


def _tidy_mastodon(account: str, instance: str) -> Tidy:
    def tidy(mention: Mention) -> Mention:
        if mention.author:
            return mention
        # A tag feed has no author element; the status URL carries it: https://host/@name/123
        parts = mention.url.split("/")
        handle = next((p for p in parts if p.startswith("@")), account and f"@{account}")
        host = instance.split("//", 1)[-1].rstrip("/")
        author = f"{handle}@{host}" if handle else ""
        return replace(mention, author=author, author_name=author)

    return tidy


class SocialFeedSource(FeedSource):
    """A feed source whose mentions get the platform's author conventions."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        kind: str,
        timeout: timedelta,
        max_bytes: int,
        base_dir: Path,
        tidy: Tidy | None,
        clients: HostClients | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            name,
            url,
            kind=kind,
            timeout=timeout,
            max_bytes=max_bytes,
            base_dir=base_dir,
            clients=clients,
            clock=clock,
        )
        self._tidy = tidy

    def fetch(self, state: PollState) -> Iterator[FetchBatch]:
        for batch in super().fetch(state):
            if self._tidy is not None:
                batch = replace(batch, mentions=[self._tidy(m) for m in batch.mentions])
            yield batch


def build_source(
    config: SocialSettings,
    settings: Settings,
    environ: Mapping[str, str],
    *,
    clients: HostClients | None = None,
    clock: Clock | None = None,
) -> SocialFeedSource:
    tidy: Tidy | None = None
    if isinstance(config, RedditSourceSettings):
        query = config.query or brand_query(settings, config.brands)
        _require_query(config.name, query)
        url = reddit_url(config, query)
        tidy = _tidy_reddit
    elif isinstance(config, MastodonSourceSettings):
        url = mastodon_url(config)
        tidy = _tidy_mastodon(config.account.lstrip("@"), config.instance)
    else:
        query = config.query or brand_query(settings, config.brands)
        _require_query(config.name, query)
        url = hackernews_url(config, query)
    return SocialFeedSource(
        config.name,
        url,
        kind=config.kind,
        timeout=config.timeout,
        max_bytes=config.max_bytes,
        base_dir=settings.base_dir,
        tidy=tidy,
        clients=clients,
        clock=clock,
    )


def _require_query(name: str, query: str) -> None:
    if not query.strip():
        raise SettingsError(
            f"sources.{name}.query: empty, and the brands have no plain terms to search for; "
            "set 'query'"
        )
