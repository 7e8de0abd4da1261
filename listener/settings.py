"""Load `settings.toml` and the environment into typed, validated settings.

Settings are read once, at the edge (the CLI), and passed in; nothing else reads the
environment. A mistake stops start-up with a `SettingsError` naming the key, the bad value and
what is expected, one line per mistake.

Environment overrides: `LISTENER_CONFIG` (path of the settings file), `LISTENER_DATABASE_URL`,
and `LISTENER_<SECTION>__<KEY>` for any scalar in a table section (e.g.
`LISTENER_WEB__PORT=9000`). Secrets never live in the file: settings name the environment
variable that holds them (`bearer_token_env`, `password_env`, `secret_env`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from listener.errors import SettingsError

DEFAULT_SETTINGS_FILE = "settings.toml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """'30s', '5m', '2h', '1d' (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    raise ValueError("expected a duration such as '30s', '5m', '2h' or '1d'")


def format_duration(value: timedelta) -> str:
    """A duration in the settings' own syntax, the inverse of `parse_duration`: "1d", "2h",
    "5m" when it is a whole number of those, else seconds ("90s")."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _readable_http_url(value: str) -> str:
    """An http(s) URL whose host and port urllib can read: every request parses it again, and
    one it cannot read ("http://[::1/feed") failed every poll with a traceback."""
    text = value.strip()
    if text.partition("://")[0].lower() not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL")
    try:
        parts = urlsplit(text)
        _ = parts.port  # reading it raises for a port that is not a number up to 65535
    except ValueError as exc:
        raise ValueError(
            f"expected an http(s) URL whose host and port can be read ({exc})"
        ) from None
    if not parts.hostname:
        raise ValueError("expected an http(s) URL with a host name")
    return text


def _readable_http_url_or_none(value: str) -> str:
    return _readable_http_url(value) if value.strip() else ""


# An http(s) URL setting, checked as requests will read it; the second may be left empty.
HttpUrl = Annotated[str, AfterValidator(_readable_http_url)]
OptionalHttpUrl = Annotated[str, AfterValidator(_readable_http_url_or_none)]


def _parse_clock_time(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected a time of day such as '22:00'")


def _parse_workers(value: object) -> str | int:
    if value == "auto":
        return "auto"
    if isinstance(value, str) and value.strip().isdigit():  # from the environment
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 32:
        return value
    raise ValueError('expected "auto" or a number of worker processes from 0 to 32')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
ClockTime = Annotated[time, BeforeValidator(_parse_clock_time)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Section):
    """A daily window (in `timezone`) when nothing is sent; may wrap midnight."""

    start: ClockTime
    end: ClockTime
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as 'Europe/London'") from None
        return value


class DatabaseSettings(_Section):
    url: str = "sqlite:///listener.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _looks_like_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                "expected an SQLAlchemy URL such as 'sqlite:///listener.db' or "
                "'postgresql+psycopg://user@host:5432/db'"
            )
        return value


class BrandSettings(_Section):
    """A brand to listen for, and how it speaks when it replies."""

    name: str = Field(min_length=1)
    terms: list[str] = Field(min_length=1)
    exclude: list[str] = []
    display_name: str = ""
    x_handle: str = ""
    x_user_id: str = ""
    support_url: str = ""
    support_email: str = ""
    signature: str = ""
    # Crisis mode: where a holding statement says updates will be, and who gets it by email.
    updates_url: str = ""
    press_list: list[str] = []
    quiet_hours: QuietHours | None = None
    # The language its replies are written in when a mention's language is unknown (or is
    # this one): "en" uses templates/outreach/*.txt.j2, any other code templates/outreach/<code>/.
    language: str = "en"

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        code = value.strip().lower()
        if not (code.isascii() and code.isalpha() and len(code) in (2, 3)):
            raise ValueError('language must be a language code such as "en", "zh" or "es"')
        return code

    @field_validator("terms", "exclude")
    @classmethod
    def _no_blank_terms(cls, value: list[str]) -> list[str]:
        cleaned = [t.strip() for t in value]
        if any(not t for t in cleaned):
            raise ValueError("terms must not be empty strings")
        return cleaned

    @property
    def speaks_as(self) -> str:
        return self.display_name or self.name

    @property
    def reply_names(self) -> tuple[str, ...]:
        """How a reply may name the brand: what it speaks as first, then its name, account
        and search terms."""
        handle = self.x_handle.strip().lstrip("@")
        names = [
            self.speaks_as,
            self.name,
            *([handle, f"@{handle}"] if handle else []),
            *self.terms,
        ]
        return tuple(dict.fromkeys(n for n in names if n.strip()))


class _SourceBase(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    every: Duration = timedelta(minutes=5)
    brands: list[str] = []
    enabled: bool = True
    timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=10_000_000, gt=0)

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("expected at least '1s' between polls")
        return value


class FeedSourceSettings(_SourceBase):
    """Any RSS, Atom or RDF feed: a blog, a news site, Google Alerts."""

    kind: Literal["feed"] = "feed"
    url: str = Field(min_length=1)
    # For demo and test feeds with fixed dates: the moment in the file that stands for "now".
    # Every entry moves by the same offset when read, so the feed always reads as recent.
    dates_anchor: AwareDatetime | None = None

    @field_validator("url")
    @classmethod
    def _http_or_file(cls, value: str) -> str:
        scheme, sep, rest = value.strip().partition("://")
        if sep and (scheme.lower() not in ("http", "https", "file") or not rest.strip("/")):
            raise ValueError("expected an http(s):// URL, a file:// URL or a file path")
        if scheme.lower() in ("http", "https"):
            return _readable_http_url(value)
        return value.strip()


class XSourceSettings(_SourceBase):
    """Recent search on X built from the brand's terms (or `query`), plus mentions of the
    brand's account when `user_id` is set."""

    kind: Literal["x"]
    query: str = ""
    user_id: str = ""
    bearer_token_env: str = "LISTENER_X_BEARER_TOKEN"
    api_url: HttpUrl = "https://api.twitter.com"
    max_pages: int = Field(default=5, ge=1, le=100)
    page_size: int = Field(default=100, ge=10, le=100)


class RedditSourceSettings(_SourceBase):
    kind: Literal["reddit"]
    query: str = ""
    subreddit: str = ""
    base_url: HttpUrl = "https://www.reddit.com"


class MastodonSourceSettings(_SourceBase):
    kind: Literal["mastodon"]
    instance: str = Field(min_length=1)
    tag: str = ""
    account: str = ""

    @model_validator(mode="after")
    def _tag_or_account(self) -> MastodonSourceSettings:
        if bool(self.tag) == bool(self.account):
            raise ValueError("set exactly one of 'tag' or 'account'")
        return self


class HackerNewsSourceSettings(_SourceBase):
    kind: Literal["hackernews"]
    query: str = ""
    base_url: HttpUrl = "https://hnrss.org"


class BlueskySourceSettings(_SourceBase):
    kind: Literal["bluesky"]
    query: str = ""
    api_url: HttpUrl = "https://public.api.bsky.app"


SourceSettings = Annotated[
    FeedSourceSettings
    | XSourceSettings
    | RedditSourceSettings
    | MastodonSourceSettings
    | HackerNewsSourceSettings
    | BlueskySourceSettings,
    Field(discriminator="kind"),
]


class ScoringSettings(_Section):
    dissatisfied_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    incident_risk_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    model: str = "default"  # "default" (shipped weights), "lexicon", or a path to weights
    # Processes that score large batches while this one stores the previous batch; "auto" is
    # one per spare core, at most two; 0 scores everything in this process.
    workers: Annotated[Literal["auto"] | int, BeforeValidator(_parse_workers)] = "auto"


class OutreachSettings(_Section):
    enabled: bool = True
    # A folder of templates that replace the built-in ones of the same name; "" for none.
    templates_dir: str = ""
    min_dissatisfaction: float = Field(default=0.5, ge=0.0, le=1.0)
    thank_praise: bool = False
    max_per_author: int = Field(default=1, ge=0)
    cap_period: Duration = timedelta(hours=24)
    # At most this many reply drafts from one poll of one source (the most urgent first): a
    # huge or hostile feed cannot flood the review queue. The rest are stored and scored.
    max_drafts_per_poll: int = Field(default=200, ge=0)
    four_eyes: bool = False
    # Crisis mode: at most this many crisis replies (to amplifiers a person picks) per
    # incident; with crisis_four_eyes two different crisis approvers approve each statement
    # and crisis reply.
    crisis_replies_max: int = Field(default=5, ge=0)
    crisis_four_eyes: bool = True
    # A story on a news site belongs to incidents: no reply draft and no case unless this is on.
    news_as_customers: bool = False
    warn_promotional: bool = True
    send_rate_per_minute: int = Field(default=30, ge=1)
    dispatch_every: Duration = timedelta(seconds=30)
    first_response_sla: Duration = timedelta(hours=4)
    resolution_sla: Duration = timedelta(hours=72)
    # A reply left in `sending` this long by a process on another machine is taken as stuck
    # (that process died mid-send) and handed to a person; never resent automatically.
    stuck_after: Duration = timedelta(minutes=10)
    # Crisis mode (docs/outreach.md): an incident at or above this severity holds its authors'
    # replies for a person with the crisis role; "off" never holds by severity.
    crisis_severity: Literal["off", "low", "medium", "high", "critical"] = "high"
    # No echoing: a reply at least `echo_similarity` alike (word pairs, see outreach/echo.py)
    # to one sent to someone else within `echo_window` goes back to be reworded; "0s": off.
    echo_window: Duration = timedelta(hours=1)
    echo_similarity: float = Field(default=0.8, gt=0.0, le=1.0)


class IncidentSettings(_Section):
    bucket: Duration = timedelta(minutes=5)
    min_count: int = Field(default=5, ge=1)
    min_ratio: float = Field(default=3.0, ge=1.0)
    # Unset: derived from `false_alarms_per_month` and the number of buckets tested.
    p_value: float | None = Field(default=None, gt=0.0, lt=1.0)
    false_alarms_per_month: float = Field(default=1.0, gt=0.0)
    # How much of a brand's own history the budget is calibrated on (its tail of lift).
    calibration_window: Duration = timedelta(days=30)
    reach_followers: int = Field(default=100_000, ge=0)
    reach_incident_risk: float = Field(default=0.6, ge=0.0, le=1.0)
    quiet_after: Duration = timedelta(hours=6)
    group_window: Duration = timedelta(hours=24)
    # Incident detection and alert delivery (listener.incidents, listener.alerts); see
    # docs/incidents.md.
    prior_rate: float = Field(default=1.0, gt=0.0)
    prior_buckets: float = Field(default=12.0, gt=0.0)
    baseline_half_life: Duration = timedelta(days=1)
    rhythm_prior_days: float = Field(default=1.0, gt=0.0)
    day_shape_offset_hours: int = Field(default=0, ge=-12, le=14)
    story_gap: Duration = timedelta(hours=2)
    burst_ratio: float = Field(default=2.0, ge=1.0)
    duplicate_window: Duration = timedelta(hours=1)
    min_share: float = Field(default=0.5, ge=0.0, le=1.0)
    cooldown: Duration = timedelta(minutes=30)
    join_weight: float = Field(default=4.0, gt=0.0)
    news_domains: list[str] = []
    severity_mentions: list[int] = Field(default=[10, 50, 250], min_length=3, max_length=3)
    severity_reach_high: int = Field(default=1_000_000, ge=0)
    severity_total_reach_critical: int = Field(default=10_000_000, ge=0)
    dispatch_every: Duration = timedelta(seconds=10)
    resolve_every: Duration = timedelta(minutes=1)
    retry_base: Duration = timedelta(seconds=30)
    retry_max: Duration = timedelta(minutes=30)
    stuck_after: Duration = timedelta(minutes=2)


class AlertChannelSettings(_Section):
    """Where crisis alerts go: a signed JSON webhook, a Slack incoming webhook, or email."""

    name: str = Field(min_length=1)
    kind: Literal["webhook", "slack", "email"]
    url: OptionalHttpUrl = ""
    secret_env: str = ""
    to: list[str] = []
    sender: str = "listener@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    password_env: str = ""
    brands: list[str] = []
    min_severity: Literal["low", "medium", "high", "critical"] = "low"
    cooldown: Duration = timedelta(minutes=15)
    quiet_hours: QuietHours | None = None
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _has_destination(self) -> AlertChannelSettings:
        if self.kind in ("webhook", "slack") and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"a {self.kind} channel needs 'url' starting with http:// or https://")
        if self.kind == "email" and not self.to:
            raise ValueError("an email channel needs at least one address in 'to'")
        return self


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    base_url: OptionalHttpUrl = ""
    secret_key_env: str = "LISTENER_WEB_SECRET_KEY"
    enabled: bool = True
    page_size: int = Field(default=50, ge=1, le=500)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, e.g.
    # ["127.0.0.1"] behind nginx on the same host). Empty: the client is the socket's peer,
    # and a forwarded address sent by anyone is ignored (the sign-in limit counts per address).
    trusted_proxies: list[str] = Field(default_factory=list)
    # The largest request body a signed-in page or API call may send; sign-in and sign-out
    # forms get at most 16 KB. Refused with 413 as the body streams in, before it is read.
    max_body_bytes: int = Field(default=1_000_000, ge=16_384, le=100_000_000)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                ) from None
        return [item.strip() for item in value]

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


class EmailOutreachSettings(_Section):
    """SMTP account used to send approved email replies to customers."""

    sender: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    password_env: str = ""
    timeout: Duration = timedelta(seconds=20)


class XPublishSettings(_Section):
    """User-context credentials for posting replies on X (never the bearer token)."""

    api_url: HttpUrl = "https://api.twitter.com"
    consumer_key_env: str = "LISTENER_X_CONSUMER_KEY"
    consumer_secret_env: str = "LISTENER_X_CONSUMER_SECRET"
    access_token_env: str = "LISTENER_X_ACCESS_TOKEN"
    access_token_secret_env: str = "LISTENER_X_ACCESS_TOKEN_SECRET"
    timeout: Duration = timedelta(seconds=20)


class ServiceSettings(_Section):
    instance: str = ""
    lease: Duration = timedelta(minutes=2)
    max_concurrent_polls: int = Field(default=16, ge=1, le=256)
    per_host_limit: int = Field(default=4, ge=1, le=64)
    unhealthy_after_failures: int = Field(default=3, ge=1)
    # Fetch and parse feeds in a worker process (listener.sources.fetch_worker): true, false, or
    # "auto" (with two cores or more and at least 20 feed-kind sources).
    fetch_worker: Literal["auto"] | bool = "auto"


class OpsSettings(_Section):
    """Health checks and metrics for operators (`/healthz`, `/readyz`, `/metrics`).

    With `port` 0 they are served on the desk's host and port (alone when the desk is off);
    with a port of their own, `/metrics` is served only there, so it can stay on an internal
    address while the desk faces people. `metrics_token` (set it through the environment,
    `LISTENER_OPS__METRICS_TOKEN`) makes `/metrics` ask for `Authorization: Bearer <token>`.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    metrics_token: str = ""
    # Database-derived gauges (queue depth, incidents, outbox age) are read at most this often.
    scrape_cache: Duration = timedelta(seconds=5)
    # A periodic job running (or not started) this long past its interval makes /readyz fail.
    job_grace: Duration = timedelta(minutes=2)
    # How long /readyz waits for the database before calling it unreachable.
    check_timeout: Duration = timedelta(seconds=3)


class LoggingSettings(_Section):
    """How the service logs: readable lines (`human`) or one JSON object per line (`json`)."""

    format: Literal["human", "json"] = "human"
    level: Literal["debug", "info", "warning", "error"] = "info"
    # A file to append to instead of standard error; SIGHUP reopens it (after logrotate).
    file: str = ""


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    service: ServiceSettings = ServiceSettings()
    brands: list[BrandSettings] = Field(min_length=1)
    sources: list[SourceSettings] = []
    scoring: ScoringSettings = ScoringSettings()
    outreach: OutreachSettings = OutreachSettings()
    incidents: IncidentSettings = IncidentSettings()
    alerts: list[AlertChannelSettings] = []
    web: WebSettings = WebSettings()
    email: EmailOutreachSettings = EmailOutreachSettings()
    x_publish: XPublishSettings = XPublishSettings()
    ops: OpsSettings = OpsSettings()
    logging: LoggingSettings = LoggingSettings()
    # Directory that relative paths (feed files, templates, SQLite files) are resolved against.
    base_dir: Path = Path(".")

    @model_validator(mode="before")
    @classmethod
    def _feed_is_the_default_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("sources"), list):
            for source in data["sources"]:
                if isinstance(source, dict):
                    source.setdefault("kind", "feed")
        return data

    @model_validator(mode="after")
    def _names_are_consistent(self) -> Settings:
        brand_names = [b.name for b in self.brands]
        _require_unique("brands", brand_names)
        _require_unique("sources", [s.name for s in self.sources])
        _require_unique("alerts", [a.name for a in self.alerts])
        for i, source in enumerate(self.sources):
            for brand in source.brands:
                if brand not in brand_names:
                    raise ValueError(
                        f"sources[{i}].brands: {brand!r} is not a configured brand "
                        f"(expected one of {brand_names})"
                    )
        return self

    def brand(self, name: str) -> BrandSettings:
        for brand in self.brands:
            if brand.name == name:
                return brand
        raise SettingsError(f"no brand named {name!r} in settings")

    def reply_names_by_brand(self) -> dict[str, tuple[str, ...]]:
        """For each brand, the ways a reply may name it (what it speaks as first): every
        message must say who is writing, and an edited one is checked for it."""
        return {b.name: b.reply_names for b in self.brands}

    def templates_override(self) -> Path | None:
        """The folder of template overrides (`outreach.templates_dir`), or None."""
        value = self.outreach.templates_dir.strip()
        return self.resolve_path(value) if value else None

    def resolve_path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path resolved against the settings file."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:" and not rest.startswith(":"):
                return prefix + str(self.resolve_path(rest))
        return url


def _require_unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{section}: the name {name!r} is used twice; names must be unique")
        seen.add(name)


def settings_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The settings file to read: the argument, else LISTENER_CONFIG, else ./settings.toml."""
    return Path(explicit or os.environ.get("LISTENER_CONFIG") or DEFAULT_SETTINGS_FILE)


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read, override from the environment and validate; raise `SettingsError` on any mistake."""
    env = dict(os.environ if environ is None else environ)
    file = Path(path) if path is not None else settings_path(env.get("LISTENER_CONFIG"))
    if not file.is_file():
        raise SettingsError(
            f"settings file {str(file)!r} does not exist; create it (see docs/settings.md) "
            "or point LISTENER_CONFIG at one"
        )
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{file}: cannot be read: {exc}") from None
    from_env = _apply_environment(raw, env)
    raw["base_dir"] = file.resolve().parent
    return validate_settings(raw, origin=str(file), from_env=from_env)


def validate_settings(
    raw: dict[str, Any],
    *,
    origin: str = "settings",
    from_env: Mapping[tuple[str, str], str] | None = None,
) -> Settings:
    """`from_env`: (section, key) → the environment variable that set it, so a bad value is
    blamed on the variable, not on the settings file."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, raw, origin, from_env or {})) from None


def _apply_environment(raw: dict[str, Any], env: dict[str, str]) -> dict[tuple[str, str], str]:
    """Apply `LISTENER_<SECTION>__<KEY>` overrides; return which variable set which key."""
    applied: dict[tuple[str, str], str] = {}
    if url := env.get("LISTENER_DATABASE_URL"):
        raw.setdefault("database", {})["url"] = url
        applied["database", "url"] = "LISTENER_DATABASE_URL"
    for key, value in env.items():
        if not key.startswith("LISTENER_") or "__" not in key:
            continue
        section, _, field = key[len("LISTENER_") :].lower().partition("__")
        target = raw.setdefault(section, {})
        if isinstance(target, dict) and field:
            target[field] = value
            applied[section, field] = key
    return applied


def _describe(
    exc: ValidationError,
    raw: dict[str, Any],
    origin: str,
    from_env: Mapping[tuple[str, str], str],
) -> str:
    blamed = [
        from_env.get((str(e["loc"][0]), str(e["loc"][1]))) if len(e["loc"]) >= 2 else None
        for e in exc.errors()
    ]
    # Problems that all come from the environment are named by their variables alone.
    lines = [] if all(blamed) else [f"{origin}: {exc.error_count()} problem(s) in the settings:"]
    for error, variable in zip(exc.errors(), blamed, strict=True):
        loc = [p for p in error["loc"] if not _is_union_tag(p)]
        key = _format_loc(loc) or "(top level)"
        if variable:
            key = f"environment variable {variable} ({key})"
        message = error["msg"].removeprefix("Value error, ")
        if not loc and error["type"] == "value_error":
            lines.append(f"  {message}")  # a rule across keys; the message names them
        elif error["type"] == "missing":
            lines.append(f"  {key}: missing; this key is required")
        elif error["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key; check its spelling against docs/settings.md")
        elif error["type"] == "union_tag_invalid":
            lines.append(
                f"  {key}.kind: {_lookup(raw, [*loc, 'kind'])!r} is not a source kind; expected "
                "one of 'feed', 'x', 'reddit', 'mastodon', 'hackernews', 'bluesky'"
            )
        else:
            value = error.get("input", _lookup(raw, loc))
            shown = repr(value) if not isinstance(value, dict) else "this table"
            lines.append(f"  {key}: {shown} is not valid: {message}")
    if all(blamed):
        return "\n".join(line.strip() for line in lines)
    return "\n".join(lines)


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and part in {
        "feed",
        "x",
        "reddit",
        "mastodon",
        "hackernews",
        "bluesky",
    }


def _format_loc(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(raw: Any, loc: list[int | str]) -> Any:
    node = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node
