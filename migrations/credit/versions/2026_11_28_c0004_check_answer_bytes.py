"""credit checks keep the answer's exact bytes: `json` (stored as sent) instead of `jsonb`, lz4-compressed

A check is evidence: `GET /v1/credit-checks/{id}` must return the very bytes that were answered, so
that `answer_hash` (SHA-256 of those bytes) can be recomputed by whoever holds a printed copy. `jsonb`
re-orders keys and re-spaces the text; `json` keeps it as written, and costs less to store.
Answers are compressed with lz4 where the server has it.

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
    # answers of 2-3 kB are compressed as they are stored; lz4 costs a quarter less time than the
    # default pglz on a batch of 10,000 (bench/checks), where the server was built with it
    op.execute(
        """
        DO $$ BEGIN
          ALTER TABLE credit.checks ALTER COLUMN answer SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
          RAISE NOTICE 'lz4 is not available on this server; answers stay compressed with pglz';
        END $$;
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE credit.checks ALTER COLUMN answer SET COMPRESSION default")
    op.execute("ALTER TABLE credit.checks ALTER COLUMN answer TYPE jsonb USING answer::jsonb")
