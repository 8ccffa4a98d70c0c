"""`granary harvest`: import records from another OAI-PMH 2.0 repository.

client.py speaks the protocol over HTTP (retries, backoff, typed errors);
provenance.py builds the <about> container re-exposed records carry;
run.py is the harvest loop, resumable and incremental, one transaction a page.
"""
