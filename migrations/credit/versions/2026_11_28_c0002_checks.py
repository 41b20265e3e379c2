"""credit checks: working-day calendar, grades with history and a re-grade queue, serious list with
notices and events, credit checks and their feedback

Revision ID: c0002
Revises: c0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None

S = "credit"


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    # --- working-day calendar: years an administrator loaded (they win over the packaged years) ---
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("loaded_by", sa.Text, nullable=False),
        _ts("loaded_at"),
        schema=S,
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column(
            "year", sa.Integer, sa.ForeignKey(f"{S}.calendar_years.year", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_days_kind"),
        schema=S,
    )
    op.create_index("ix_calendar_days_year", "calendar_days", ["year"], schema=S)

    # --- grades: the current grade per unit, its history, and the queue record changes fill ---
    op.create_table(
        "grades",
        sa.Column(
            "unit_id", sa.BigInteger, sa.ForeignKey(f"{S}.units.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("explanation", postgresql.JSONB, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("evaluated_on", sa.Date, nullable=False),
        sa.Column("next_change_on", sa.Date),
        sa.Column("version", sa.Integer, server_default="1", nullable=False),
        _ts("updated_at"),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="ck_grades_grade"),
        schema=S,
    )
    op.create_index(
        "ix_grades_next_change_on",
        "grades",
        ["next_change_on"],
        schema=S,
        postgresql_where=sa.text("next_change_on IS NOT NULL"),
    )
    op.create_table(
        "grade_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "unit_id", sa.BigInteger, sa.ForeignKey(f"{S}.units.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("previous_grade", sa.String(1)),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("explanation", postgresql.JSONB, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("evaluated_on", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        _ts("recorded_at"),
        schema=S,
    )
    op.create_index("ix_grade_history_unit_id_id", "grade_history", ["unit_id", "id"], schema=S)
    # A record change enqueues its unit in the same transaction (a trigger, so no writer can forget);
    # the writer re-grades at once and empties its entry, and `credit grades drain` re-grades whatever
    # a writer left (SKIP LOCKED), so no change is lost.
    op.create_table(
        "grade_queue",
        sa.Column(
            "unit_id", sa.BigInteger, sa.ForeignKey(f"{S}.units.id", ondelete="CASCADE"), primary_key=True
        ),
        _ts("queued_at"),
        schema=S,
    )
    op.execute(
        """
        CREATE FUNCTION credit.enqueue_grade() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO credit.grade_queue (unit_id) VALUES (NEW.unit_id) ON CONFLICT DO NOTHING;
          IF TG_OP = 'UPDATE' AND OLD.unit_id IS DISTINCT FROM NEW.unit_id THEN
            INSERT INTO credit.grade_queue (unit_id) VALUES (OLD.unit_id) ON CONFLICT DO NOTHING;
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER records_enqueue_grade AFTER INSERT OR UPDATE ON credit.records
          FOR EACH ROW EXECUTE FUNCTION credit.enqueue_grade();
        """
    )

    # --- serious list (严重失信主体名单) ---
    op.create_table(
        "listings",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("unit_id", sa.BigInteger, sa.ForeignKey(f"{S}.units.id"), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("person_id", sa.BigInteger, sa.ForeignKey(f"{S}.unit_persons.id")),
        sa.Column("ground", sa.Text, nullable=False),
        sa.Column("record_ids", postgresql.ARRAY(sa.Uuid), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("objection", sa.Text, server_default="none", nullable=False),
        sa.Column("notice_issued_on", sa.Date),
        sa.Column("objection_until", sa.Date),
        sa.Column("objection_provisional", sa.Boolean, server_default="false", nullable=False),
        sa.Column("listed_on", sa.Date),
        sa.Column("list_until", sa.Date),
        sa.Column("ended_on", sa.Date),
        sa.Column("end_reason", sa.Text),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("proposed_by", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, server_default="1", nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("subject_kind IN ('unit', 'person')", name="ck_listings_subject_kind"),
        sa.CheckConstraint(
            "(subject_kind = 'person') = (person_id IS NOT NULL)", name="ck_listings_person_subject"
        ),
        schema=S,
    )
    op.create_index(
        "ix_listings_unit_id",
        "listings",
        ["unit_id"],
        schema=S,
        postgresql_where=sa.text("state IN ('proposed', 'notice_issued', 'listed')"),
    )
    op.create_index(
        "ix_listings_list_until",
        "listings",
        ["list_until"],
        schema=S,
        postgresql_where=sa.text("state = 'listed'"),
    )
    op.create_index("ix_listings_record_ids", "listings", ["record_ids"], schema=S, postgresql_using="gin")
    op.create_table(
        "listing_notices",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("listing_id", sa.Uuid, sa.ForeignKey(f"{S}.listings.id"), nullable=False, unique=True),
        sa.Column("document_no", sa.Text, nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("content", postgresql.JSONB, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("issued_by", sa.Text, nullable=False),
        _ts("created_at"),
        schema=S,
    )
    op.create_table(
        "listing_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("listing_id", sa.Uuid, sa.ForeignKey(f"{S}.listings.id"), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("from_state", sa.Text),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("data", postgresql.JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        _ts("recorded_at"),
        schema=S,
    )
    op.create_index("ix_listing_events_listing_id_id", "listing_events", ["listing_id", "id"], schema=S)

    # --- credit checks (信用核查): immutable answers, feedback apart ---
    op.create_table(
        "checks",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("batch_id", sa.Uuid),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("unit_id", sa.BigInteger),
        sa.Column("scenario", sa.Text, nullable=False),
        sa.Column("case_ref", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("officer", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("grade", sa.String(1)),
        sa.Column("hit", sa.Boolean, nullable=False),
        sa.Column("check_date", sa.Date, nullable=False),
        sa.Column("feedback_due", sa.Date, nullable=False),
        sa.Column("answer", postgresql.JSONB, nullable=False),
        sa.Column("answer_hash", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Text, nullable=False),
        _ts("created_at"),
        schema=S,
    )
    op.create_index("ix_checks_department_check_date", "checks", ["department", "check_date"], schema=S)
    op.create_index("ix_checks_uscc", "checks", ["uscc"], schema=S)
    op.create_index(
        "ix_checks_batch_id",
        "checks",
        ["batch_id"],
        schema=S,
        postgresql_where=sa.text("batch_id IS NOT NULL"),
    )
    # What was answered stays answered: no UPDATE or DELETE of a check, whoever asks.
    op.execute(
        """
        CREATE FUNCTION credit.checks_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'credit checks are immutable (% refused)', TG_OP USING ERRCODE = 'check_violation';
        END $$;
        CREATE TRIGGER checks_immutable BEFORE UPDATE OR DELETE ON credit.checks
          FOR EACH ROW EXECUTE FUNCTION credit.checks_immutable();
        """
    )
    op.create_table(
        "check_feedback",
        sa.Column("check_id", sa.Uuid, sa.ForeignKey(f"{S}.checks.id"), primary_key=True),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("officer", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("measures", postgresql.JSONB, nullable=False),
        sa.Column("measures_applied", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
        _ts("recorded_at"),
        schema=S,
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS checks_immutable ON credit.checks")
    op.execute("DROP FUNCTION IF EXISTS credit.checks_immutable()")
    op.execute("DROP TRIGGER IF EXISTS records_enqueue_grade ON credit.records")
    op.execute("DROP FUNCTION IF EXISTS credit.enqueue_grade()")
    for table in (
        "check_feedback",
        "checks",
        "listing_events",
        "listing_notices",
        "listings",
        "grade_queue",
        "grade_history",
        "grades",
        "calendar_days",
        "calendar_years",
    ):
        op.drop_table(table, schema=S)
