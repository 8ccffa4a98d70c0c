"""Long-running stress runs, started by hand (see each module's docstring for its command)."""
