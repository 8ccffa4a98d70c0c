"""The OAI-PMH 2.0 protocol: arguments, errors, tokens, verbs and the response stream."""
