"""credit core: clients, units and their persons, records with versions, idempotency keys, change feed

Revision ID: c0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c0001"
down_revision = None
branch_labels = ("credit",)
depends_on = None

S = "credit"


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, server_default="true", nullable=False),
        _ts("created_at"),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_table(
        "units",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit_type", sa.Text, nullable=False),
        sa.Column("fire_class", sa.Text, server_default="general", nullable=False),
        sa.Column("reg_status", sa.Text, nullable=False),
        sa.Column("reg_status_date", sa.Date),
        sa.Column("reg_authority", sa.Text),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("industry_code", sa.String(5)),
        sa.Column("address", sa.Text),
        sa.Column("established_on", sa.Date),
        sa.Column("uscc_override_reason", sa.Text),
        sa.Column("version", sa.Integer, server_default="1", nullable=False),
        sa.Column("content_hash", sa.LargeBinary, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        schema=S,
    )
    op.create_index("ix_units_region_code", "units", ["region_code"], schema=S)
    op.create_index("ix_units_fire_class", "units", ["fire_class"], schema=S)
    op.create_index("ix_units_reg_status", "units", ["reg_status"], schema=S)
    # Name search by Chinese substring: a trigram index where the server ships pg_trgm (contrib);
    # without it the same ILIKE query still answers, by scanning.
    op.execute(
        """
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX ix_units_name_trgm ON credit.units USING gin (name gin_trgm_ops);
          END IF;
        END $$;
        """
    )
    op.create_table(
        "unit_persons",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("unit_id", sa.BigInteger, sa.ForeignKey(f"{S}.units.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("id_hash", sa.LargeBinary, nullable=False),
        sa.Column("id_cipher", sa.LargeBinary, nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("current", sa.Boolean, server_default="true", nullable=False),
        schema=S,
    )
    op.create_index(
        "uq_unit_persons_unit_role_id", "unit_persons", ["unit_id", "role", "id_hash"], unique=True, schema=S
    )
    op.create_index("ix_unit_persons_id_hash", "unit_persons", ["id_hash"], schema=S)
    op.create_table(
        "records",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("unit_id", sa.BigInteger, sa.ForeignKey(f"{S}.units.id"), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("record_type", sa.Text, nullable=False),
        sa.Column("document_no", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, server_default="active", nullable=False),
        sa.Column("disputed", sa.Boolean, server_default="false", nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("polarity", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("decision_date", sa.Date, nullable=False),
        sa.Column("conduct_ended_on", sa.Date, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("publish_min_until", sa.Date),
        sa.Column("publish_until", sa.Date),
        sa.Column("query_until", sa.Date),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        schema=S,
    )
    op.create_index(
        "uq_records_department_document_no",
        "records",
        ["department", "document_no"],
        unique=True,
        postgresql_where=sa.text("document_no IS NOT NULL"),
        schema=S,
    )
    op.create_index("ix_records_unit_id_decision_date", "records", ["unit_id", "decision_date"], schema=S)
    op.create_table(
        "record_versions",
        sa.Column("record_id", sa.Uuid, sa.ForeignKey(f"{S}.records.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("change_kind", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("snapshot", postgresql.JSONB, nullable=False),
        sa.Column("changed_by", sa.Text, nullable=False),
        _ts("changed_at"),
        schema=S,
    )
    op.create_table(
        "record_persons",
        sa.Column("record_id", sa.Uuid, sa.ForeignKey(f"{S}.records.id"), primary_key=True),
        sa.Column("person_id", sa.BigInteger, sa.ForeignKey(f"{S}.unit_persons.id"), primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        schema=S,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("operation", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("response", postgresql.JSONB, nullable=False),
        _ts("created_at"),
        schema=S,
    )
    # txid (xid8) orders the feed: a reader only takes entries of transactions older than the oldest
    # one still running, so an entry committed late by a slow writer is never skipped.
    op.execute(
        """
        CREATE TABLE credit.changes (
            id bigint GENERATED BY DEFAULT AS IDENTITY CONSTRAINT pk_changes PRIMARY KEY,
            txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            entity text NOT NULL,
            entity_id text NOT NULL,
            uscc varchar(18) NOT NULL,
            operation text NOT NULL,
            version integer NOT NULL,
            data jsonb NOT NULL DEFAULT '{}'::jsonb,
            occurred_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.create_index("ix_changes_txid_id", "changes", ["txid", "id"], schema=S)


def downgrade() -> None:
    for table in (
        "changes",
        "idempotency_keys",
        "record_persons",
        "record_versions",
        "records",
        "unit_persons",
        "units",
        "clients",
    ):
        op.drop_table(table, schema=S)
