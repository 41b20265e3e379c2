"""sharing: credit's acknowledgements move from the wide mirror rows to a narrow side table

Acknowledging a forwarded unit used to update its registry row (forwarded_hash, forwarded_at,
forward_version, rejected_hash): a second full-width version of every row of a first baseline, not a
HOT update because the pending partial index named those columns. A narrow `forward_state` row per
unit (USCC, hashes, version) costs a fraction of that; pending is the join
`forwarded_hash IS DISTINCT FROM content_hash AND rejected_hash IS DISTINCT FROM content_hash`.

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-28
"""
from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sharing.forward_state (
            uscc varchar(18) PRIMARY KEY,
            forwarded_hash bytea,
            forward_version integer,
            forwarded_at timestamptz,
            rejected_hash bytea
        );
        INSERT INTO sharing.forward_state (uscc, forwarded_hash, forward_version, forwarded_at, rejected_hash)
            SELECT uscc, forwarded_hash, forward_version, forwarded_at, rejected_hash FROM sharing.registry
            WHERE forwarded_hash IS NOT NULL OR rejected_hash IS NOT NULL;
        DROP INDEX sharing.ix_registry_pending;
        ALTER TABLE sharing.registry
            DROP COLUMN forwarded_hash, DROP COLUMN forwarded_at, DROP COLUMN forward_version,
            DROP COLUMN rejected_hash;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE sharing.registry
            ADD COLUMN forwarded_hash bytea, ADD COLUMN forwarded_at timestamptz, ADD COLUMN forward_version integer,
            ADD COLUMN rejected_hash bytea;
        UPDATE sharing.registry r SET forwarded_hash = f.forwarded_hash, forwarded_at = f.forwarded_at,
               forward_version = f.forward_version, rejected_hash = f.rejected_hash
        FROM sharing.forward_state f WHERE f.uscc = r.uscc;
        CREATE INDEX ix_registry_pending ON sharing.registry (uscc)
            WHERE forwarded_hash IS DISTINCT FROM content_hash AND rejected_hash IS DISTINCT FROM content_hash;
        DROP TABLE sharing.forward_state;
        """
    )
