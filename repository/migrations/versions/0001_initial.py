"""The initial store: records, sets, memberships, disseminations, write leases.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("local_id", sa.String(512), nullable=False, unique=True),
        sa.Column("native_format", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("stamp", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("set_specs", sa.Text, nullable=False),
    )
    op.create_index("ix_records_stamp_id", "records", ["stamp", "id"])
    op.create_table(
        "record_sources",
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("native_xml", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "sets",
        sa.Column("spec", sa.String(255), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
    )
    op.create_table(
        "record_sets",
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("spec", sa.String(255), sa.ForeignKey("sets.spec", ondelete="CASCADE"), primary_key=True),
        sa.Column("direct", sa.Boolean, nullable=False),
        sa.Column("stamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_record_sets_spec_stamp_record", "record_sets", ["spec", "stamp", "record_id"])
    op.create_table(
        "disseminations",
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("prefix", sa.String(64), primary_key=True),
        sa.Column("xml", sa.LargeBinary, nullable=False),
        sa.Column("crosswalk_version", sa.String(255), nullable=False),
    )
    op.create_table(
        "write_leases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
    )
    op.create_table(
        "repository_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("repository_meta", "write_leases", "disseminations", "record_sets", "sets", "record_sources",
                 "records"):
        op.drop_table(name)
