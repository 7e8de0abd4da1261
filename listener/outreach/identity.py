"""Who a reply goes to, in the form the do-not-contact list compares: pure functions of the
mention (and the draft, whose email recipient may differ from the mention's author)."""

from __future__ import annotations

from listener.domain import Draft, Mention


def author_key(author: str) -> str:
    """The form authors are compared in: trimmed, lower case, no leading '@'."""
    return author.strip().lower().removeprefix("@")


def identities(mention: Mention, draft: Draft | None = None) -> list[str]:
    """Every way this author can be recognised on the do-not-contact list."""
    keys = [author_key(mention.author), author_key(mention.author_email)]
    if draft is not None and draft.channel.value == "email":
        keys.append(author_key(draft.recipient))
    return list(dict.fromkeys(k for k in keys if k))


def primary_key_of(mention: Mention, draft: Draft | None = None) -> str:
    found = identities(mention, draft)
    return found[0] if found else ""
