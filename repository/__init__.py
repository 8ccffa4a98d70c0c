"""The Granary repository: record store, ingest, OAI-PMH endpoint, web app and CLI."""
