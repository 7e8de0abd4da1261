"""Reply on X with tweepy, as the brand's account (OAuth 1.0a user context).

`create_tweet` needs user-context keys: a bearer token cannot post. The four secrets come from
the environment variables named in `[x_publish]`; requests go through the same `api_url` seam
as the X source (`listener.sources.x_transport`), so a staging or local server can stand in.
tweepy's errors are translated here into the dispatcher's vocabulary (see `base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from listener.domain import Channel, Draft, Mention, Statement
from listener.errors import DispatchError, SourceDisabled
from listener.outreach.publishers.base import (
    AlreadyPosted,
    ChannelUnusable,
    OutcomeUnknown,
    RetryLater,
)
from listener.settings import XPublishSettings
from listener.sources.x_transport import attach_api_url

__all__ = ["XReplyPublisher", "build_x_publisher"]

_DUPLICATE = "duplicate content"


def build_x_publisher(settings: XPublishSettings, environ: Mapping[str, str]) -> XReplyPublisher:
    """The publisher, or `SourceDisabled` naming the environment variables that are missing."""
    names = {
        "consumer_key": settings.consumer_key_env,
        "consumer_secret": settings.consumer_secret_env,
        "access_token": settings.access_token_env,
        "access_token_secret": settings.access_token_secret_env,
    }
    missing = [env for env in names.values() if not environ.get(env)]
    if missing:
        raise SourceDisabled(
            "replies on X are not configured: set " + ", ".join(missing) + " (user-context "
            "OAuth 1.0a keys of the brand's account; a bearer token cannot post)"
        )
    return XReplyPublisher(settings, **{key: environ[env] for key, env in names.items()})


class XReplyPublisher:
    channel = Channel.X

    def __init__(
        self,
        settings: XPublishSettings,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
    ) -> None:
        self.api_url = settings.api_url
        self._client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            wait_on_rate_limit=False,
        )
        attach_api_url(self._client.session, settings.api_url, settings.timeout)

    def publish(self, draft: Draft, mention: Mention) -> str:
        """Post `draft.text` as a reply to the post `draft.recipient`; returns the new post id."""
        if not draft.recipient:
            raise DispatchError(
                f"draft {draft.id} has no post to reply to (recipient is empty)", retryable=False
            )
        return self.post(draft.text, in_reply_to=draft.recipient)

    def post(self, text: str, *, in_reply_to: str | None, what: str = "reply") -> str:
        """Post `text` from the brand's account (as a reply to `in_reply_to` when given);
        returns the new post id. `what` names it in errors ("reply", "statement")."""
        try:
            if in_reply_to:
                response: Any = self._client.create_tweet(
                    text=text, in_reply_to_tweet_id=in_reply_to, user_auth=True
                )
            else:
                response = self._client.create_tweet(text=text, user_auth=True)
        except tweepy.TooManyRequests as exc:
            retry_at = datetime.fromtimestamp(exc.reset_time, UTC) if exc.reset_time else None
            raise RetryLater("X rate limit (429): not posted, will retry", retry_at) from exc
        except tweepy.Forbidden as exc:
            message = _api_message(exc)
            if _DUPLICATE in message.lower():
                raise AlreadyPosted(
                    "X refused it as duplicate content: a post with exactly this text already "
                    "exists, most likely from an earlier attempt. Check the conversation on X, "
                    "then mark it as sent (it is there) or edit, reopen and approve it again"
                ) from exc
            raise DispatchError(f"X refused the {what} (403): {message}", retryable=False) from exc
        except tweepy.Unauthorized as exc:
            raise ChannelUnusable(
                "X rejected the credentials (401): check the [x_publish] keys; replies on X "
                "wait until they work"
            ) from exc
        except (tweepy.BadRequest, tweepy.NotFound) as exc:
            raise DispatchError(
                f"X refused the {what} ({exc.response.status_code}): {_api_message(exc)}",
                retryable=False,
            ) from exc
        except tweepy.TwitterServerError as exc:
            raise OutcomeUnknown(
                f"X answered {exc.response.status_code} while posting: the {what} may or may "
                "not be up. Check the conversation on X before trying again"
            ) from exc
        except tweepy.HTTPException as exc:
            raise DispatchError(
                f"X answered {exc.response.status_code}: {_api_message(exc)}", retryable=False
            ) from exc
        except requests.ConnectTimeout as exc:
            raise DispatchError(
                f"cannot reach X at {self.api_url} (connect timeout); not posted, will retry"
            ) from exc
        except requests.Timeout as exc:
            raise OutcomeUnknown(
                f"X at {self.api_url} did not answer in time after the {what} was sent: it may "
                "or may not be up. Check the conversation on X before trying again"
            ) from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise DispatchError(
                    f"cannot reach X at {self.api_url}: {exc}; not posted, will retry"
                ) from exc
            raise OutcomeUnknown(
                f"the connection to X broke while posting ({exc}): the {what} may or may not "
                "be up. Check the conversation on X before trying again"
            ) from exc
        except requests.RequestException as exc:
            raise OutcomeUnknown(f"posting to X failed halfway: {exc}") from exc
        data = getattr(response, "data", None) or {}
        post_id = str(data.get("id", "")) if isinstance(data, dict) else ""
        if not post_id:
            raise OutcomeUnknown(f"X accepted the {what} but sent back no post id; check X")
        return post_id

    def post_statement(self, statement: Statement, speaks_as: str, handle: str) -> tuple[str, str]:
        """Post a holding statement as a post of its own (no reply); (post id, its link)."""
        post_id = self.post(statement.text, in_reply_to=None, what="statement")
        account = handle.strip().lstrip("@") or "i/web"
        return post_id, f"https://x.com/{account}/status/{post_id}"

    def close(self) -> None:
        self._client.session.close()


def _api_message(exc: tweepy.HTTPException) -> str:
    messages = [str(m) for m in exc.api_messages if m]
    return "; ".join(messages) or str(exc)


def _never_connected(exc: requests.ConnectionError) -> bool:
    text = str(exc)
    return "Connection refused" in text or "NewConnectionError" in text or "resolve" in text
