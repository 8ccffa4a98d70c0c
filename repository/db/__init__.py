"""Database schema and connections (SQLAlchemy Core: no ORM objects on hot paths)."""
