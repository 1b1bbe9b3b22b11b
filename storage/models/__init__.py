"""SQLAlchemy 2.0 typed models. The schema is created by Alembic migrations only.

One module per area; every model is imported here, so `from storage.models import X` works and
`Base.metadata` (what Alembic and `tests/storage/test_migrations.py` compare) holds every table.
"""

from storage.models.base import NAMING, Base, utcnow
from storage.models.conversations import Conversation, Digest, DigestItem, Message
from storage.models.gaps import Draft, Gap, GapConversation, GapFlagger, GapNote, Outline
from storage.models.kb import Article, ArticleVersion
from storage.models.ops import AuditEvent, JobClaim, ModelCall, ProcessedEvent, QueuedResult, SourceCursor
from storage.models.replay import PublishAttempt, RegressionCase, ReplayRun, ReplayTurn

__all__ = [
    "NAMING", "Article", "ArticleVersion", "AuditEvent", "Base", "Conversation", "Digest", "DigestItem", "Draft",
    "Gap", "GapConversation", "GapFlagger", "GapNote", "JobClaim", "Message", "ModelCall", "Outline",
    "ProcessedEvent", "PublishAttempt", "QueuedResult", "RegressionCase", "ReplayRun", "ReplayTurn",
    "SourceCursor", "utcnow",
]
