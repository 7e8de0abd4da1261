"""Storage behind one facade; tables and SQL stay inside this package.

Everything outside `listener.store` imports only these names: the `Store` and the records its
methods take and return.
"""

from listener.store.alerts import Delivery
from listener.store.areas.incidents import DetectionStep
from listener.store.areas.outreach import StuckSend
from listener.store.audit import AuditHead
from listener.store.desk import FeedCursor, QueueCursor
from listener.store.filters import DraftFilter, MentionFilter
from listener.store.group_commit import GroupCommit, PendingWrite
from listener.store.incidents import Incident
from listener.store.instance_lock import single_instance
from listener.store.mentions import stored_as_dict, story_key
from listener.store.ops import ACTIVE_INCIDENTS, QUEUE_STATUSES, QueueSnapshot
from listener.store.sources import SourceStatus
from listener.store.store import Store
from listener.store.users import ROLES, WebUser, check_role

__all__ = [
    "ACTIVE_INCIDENTS",
    "QUEUE_STATUSES",
    "ROLES",
    "AuditHead",
    "Delivery",
    "DetectionStep",
    "DraftFilter",
    "FeedCursor",
    "GroupCommit",
    "Incident",
    "MentionFilter",
    "PendingWrite",
    "QueueCursor",
    "QueueSnapshot",
    "SourceStatus",
    "Store",
    "StuckSend",
    "WebUser",
    "check_role",
    "single_instance",
    "stored_as_dict",
    "story_key",
]
