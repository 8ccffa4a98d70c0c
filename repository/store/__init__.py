"""The record store: writes that keep datestamps honest, and the queries harvests run."""
