"""API tokens, harvest state, provenance, query-defined sets and set departures.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("about", sa.LargeBinary, nullable=True))
    with op.batch_alter_table("sets") as batch:
        batch.add_column(sa.Column("rule", sa.Text, nullable=True))
    op.create_table(
        "set_departures",
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("spec", sa.String(255), sa.ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True),
        sa.Column("stamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_set_departures_spec_stamp_record", "set_departures", ["spec", "stamp", "record_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "harvest_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("base_url", sa.Text, nullable=False),
        sa.Column("prefix", sa.String(64), nullable=False),
        sa.Column("set_spec", sa.String(255), nullable=False),
        sa.Column("last_response_date", sa.String(32), nullable=True),
        sa.Column("resumption_token", sa.Text, nullable=True),
        sa.Column("harvest_started", sa.String(32), nullable=True),
    )
    op.create_index("ux_harvest_state_source", "harvest_state", ["base_url", "prefix", "set_spec"], unique=True)


def downgrade() -> None:
    op.drop_table("harvest_state")
    op.drop_table("api_tokens")
    op.drop_table("set_departures")
    with op.batch_alter_table("sets") as batch:
        batch.drop_column("rule")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("about")
