"""credit checks keep the answer's exact bytes: `json` (stored as sent) instead of `jsonb`

A check is evidence: `GET /v1/credit-checks/{id}` must return the very bytes that were answered, so
that `answer_hash` (SHA-256 of those bytes) can be recomputed by whoever holds a printed copy. `jsonb`
re-orders keys and re-spaces the text; `json` keeps it as written, and costs less to store.

Revision ID: c0004
Revises: c0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # checks answered before this revision keep jsonb's rendering of their answer
    op.execute("ALTER TABLE credit.checks ALTER COLUMN answer TYPE json USING answer::json")


def downgrade() -> None:
    op.execute("ALTER TABLE credit.checks ALTER COLUMN answer TYPE jsonb USING answer::jsonb")
