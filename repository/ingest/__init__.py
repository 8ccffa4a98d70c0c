"""Loading records from files, directories, zip archives and saved OAI-PMH responses."""
