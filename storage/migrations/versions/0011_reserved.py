"""no schema change: the unread full-text index stays one more release (expand/contract)

Revision ID: 0011
Revises: 0010

KB search is now an in-memory BM25 index built from `articles` (`bot/kb/bm25.py`, `live.py`), the same on both
databases, so this version neither reads nor writes `kb_fts` (SQLite) and reads no `articles.search_vector`
(PostgreSQL; a generated column, still filled on every write). They are NOT dropped here: an instance of the
previous version still searches them while a rolling upgrade runs, and README promises that `flywheel init` is
safe while the old version still runs. A later release, once no instance of the FTS search remains, drops them
(measured on PostgreSQL, 5,000 articles of 200 words: insert 1.73 s -> 0.16 s, table + indexes 51.6 -> 16.2 MiB).
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
