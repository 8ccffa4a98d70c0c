"""gunicorn's settings for Granary: `granary serve` loads them, and the container runs
`gunicorn --config python:repository.gunicorn_conf`, so both serve the same way.

Sync workers: threaded workers with keep-alive answered 32 GetRecord clients faster on
average but with a longer tail (a kept-alive client can hold its worker's attention).
"""
from repository.server_hooks import close_promptly, freeze_loaded_objects

worker_class = "sync"
timeout = 120
accesslog = "-"
logger_class = "repository.access_log.AccessLogger"
post_request = close_promptly
post_worker_init = freeze_loaded_objects
