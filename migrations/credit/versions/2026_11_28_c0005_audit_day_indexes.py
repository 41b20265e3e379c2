"""audit trail: the unit and case indexes lead with the entry's day

Every audited request inserts into these indexes. Keyed by USCC or case alone, each insert lands on
a random page of an index that grows for as long as the trail is kept (a busy year is hundreds of
millions of entries): in cache at first, then a read and a rewritten page per request. Led by the
day (UTC), today's inserts stay in today's small part of the index. Exports by unit or case walk the
days present (one index probe each: `services/credit/audit/repository.py`).

Revision ID: c0005
Revises: c0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DROP INDEX credit.ix_audit_log_subject_uscc;
        DROP INDEX credit.ix_audit_log_case_id;
        CREATE INDEX ix_audit_log_day_subject_uscc ON credit.audit_log
            (((at AT TIME ZONE 'UTC')::date), subject_uscc) WHERE subject_uscc IS NOT NULL;
        CREATE INDEX ix_audit_log_day_case_id ON credit.audit_log
            (((at AT TIME ZONE 'UTC')::date), case_id) WHERE case_id IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX credit.ix_audit_log_day_case_id;
        DROP INDEX credit.ix_audit_log_day_subject_uscc;
        CREATE INDEX ix_audit_log_case_id ON credit.audit_log (case_id) WHERE case_id IS NOT NULL;
        CREATE INDEX ix_audit_log_subject_uscc ON credit.audit_log (subject_uscc) WHERE subject_uscc IS NOT NULL;
        """
    )
