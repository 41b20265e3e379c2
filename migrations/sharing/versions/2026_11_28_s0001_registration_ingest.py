"""sharing: registration feed ingest: feed sources, sync runs, registry mirror, changes, quarantine,
units to survey

Revision ID: s0001
Revises:
Create Date: 2026-11-28
"""
from alembic import op

revision = "s0001"
down_revision = None
branch_labels = ("sharing",)
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sharing.feed_sources (
            name text PRIMARY KEY,
            mapping text NOT NULL,
            last_sequence integer,
            last_full_sequence integer,
            last_full_record_count integer,
            last_run_id bigint,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE sharing.sync_runs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('full', 'delta', 'replay', 'forward')),
            transport text NOT NULL,
            location text NOT NULL,
            fingerprint text NOT NULL,
            sequence integer,
            base_sequence integer,
            declared_count integer,
            encoding text,
            mapping text NOT NULL,
            status text NOT NULL DEFAULT 'running',
            phase text NOT NULL DEFAULT 'staging',
            forced boolean NOT NULL DEFAULT false,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            rows_read integer NOT NULL DEFAULT 0,
            blank_lines integer NOT NULL DEFAULT 0,
            staged integer NOT NULL DEFAULT 0,
            quarantined integer NOT NULL DEFAULT 0,
            new integer NOT NULL DEFAULT 0,
            changed integer NOT NULL DEFAULT 0,
            status_changed integer NOT NULL DEFAULT 0,
            unchanged integer NOT NULL DEFAULT 0,
            absent integer NOT NULL DEFAULT 0,
            forwarded integer NOT NULL DEFAULT 0,
            forward_rejected integer NOT NULL DEFAULT 0,
            forward_pending integer NOT NULL DEFAULT 0,
            survey_listed integer NOT NULL DEFAULT 0,
            apply_after text NOT NULL DEFAULT '',
            rejects jsonb NOT NULL DEFAULT '{}'::jsonb,
            guard jsonb,
            timings jsonb NOT NULL DEFAULT '{}'::jsonb,
            message text,
            host text,
            pid integer
        );
        CREATE INDEX ix_sync_runs_source_status ON sharing.sync_runs (source, status);

        CREATE TABLE sharing.registry (
            uscc varchar(18) PRIMARY KEY,
            name text NOT NULL,
            entity_type text,
            unit_type text NOT NULL,
            legal_rep_name text,
            legal_rep_id_hash bytea,
            legal_rep_id_cipher bytea,
            legal_rep_id_masked varchar(18),
            registered_capital numeric(20, 4),
            capital_currency varchar(3),
            established_on date,
            reg_authority text,
            reg_status text NOT NULL,
            reg_status_label text NOT NULL,
            reg_status_date date,
            address text,
            region_code varchar(6) NOT NULL,
            industry_code varchar(5),
            business_scope text,
            changed_at timestamptz,
            content_hash bytea NOT NULL,
            source text NOT NULL,
            source_location text NOT NULL,
            source_line integer NOT NULL,
            received_at timestamptz NOT NULL,
            run_id bigint NOT NULL,
            first_seen_run bigint NOT NULL,
            first_seen_at timestamptz NOT NULL,
            absent_since timestamptz,
            forwarded_hash bytea,
            forwarded_at timestamptz,
            forward_version integer,
            rejected_hash bytea
        );
        CREATE INDEX ix_registry_pending ON sharing.registry (uscc)
            WHERE forwarded_hash IS DISTINCT FROM content_hash AND rejected_hash IS DISTINCT FROM content_hash;
        CREATE INDEX ix_registry_industry ON sharing.registry (industry_code);

        CREATE TABLE sharing.registry_changes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id bigint NOT NULL,
            uscc varchar(18) NOT NULL,
            kind text NOT NULL,
            fields text[] NOT NULL DEFAULT '{}',
            old_status text,
            new_status text,
            source_line integer,
            UNIQUE (run_id, uscc)
        );
        CREATE INDEX ix_registry_changes_uscc ON sharing.registry_changes (uscc);

        CREATE TABLE sharing.quarantine (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id bigint NOT NULL,
            source text NOT NULL,
            location text NOT NULL,
            line integer NOT NULL,
            stage text NOT NULL,
            reason text NOT NULL,
            field text,
            detail text NOT NULL,
            uscc text,
            raw_text text NOT NULL DEFAULT '',
            raw jsonb,
            fix jsonb,
            status text NOT NULL DEFAULT 'open',
            created_at timestamptz NOT NULL DEFAULT now(),
            resolved_at timestamptz,
            resolved_run bigint,
            UNIQUE NULLS NOT DISTINCT (run_id, stage, line, uscc)
        );
        CREATE INDEX ix_quarantine_status_reason ON sharing.quarantine (status, reason);

        CREATE TABLE sharing.survey_units (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            listed_on date NOT NULL,
            uscc varchar(18) NOT NULL,
            reason text NOT NULL,
            name text NOT NULL,
            unit_type text NOT NULL,
            industry_code varchar(5) NOT NULL,
            previous_industry_code varchar(5),
            region_code varchar(6) NOT NULL,
            address text,
            established_on date,
            run_id bigint NOT NULL,
            listed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (listed_on, uscc, reason)
        );
        CREATE INDEX ix_survey_units_listed ON sharing.survey_units (listed_on, id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE sharing.survey_units;
        DROP TABLE sharing.quarantine;
        DROP TABLE sharing.registry_changes;
        DROP TABLE sharing.registry;
        DROP TABLE sharing.sync_runs;
        DROP TABLE sharing.feed_sources;
        """
    )
