"""Manual posting for places with no API (blog comments, forums, review sites).

Nothing is sent by listener: the page shows the approved text and the link to post it at, and a
person clicks "Mark as sent" once it is up (`Dispatcher.mark_sent`). The same rules as for the
automatic channels are checked at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from listener.domain import Channel, Draft, Mention
from listener.errors import DispatchError

__all__ = ["ManualPost", "ManualPublisher", "manual_post"]


@dataclass(frozen=True, slots=True)
class ManualPost:
    """What a person needs to post a reply by hand."""

    text: str
    link: str


def manual_post(draft: Draft, mention: Mention) -> ManualPost:
    return ManualPost(text=draft.text, link=mention.url or draft.recipient)


class ManualPublisher:
    """Stands for the manual channel; it never publishes by itself."""

    channel = Channel.MANUAL

    def publish(self, draft: Draft, mention: Mention) -> str:
        post = manual_post(draft, mention)
        raise DispatchError(
            f"draft {draft.id} is posted by hand at {post.link or 'the original page'}; "
            "use 'Mark as sent' once it is up",
            retryable=False,
        )

    def close(self) -> None:
        pass
