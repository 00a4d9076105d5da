"""The real sentry-sdk sending to Watchpost: an exception, a message and a
transaction, flushed. Run by tests/e2e/run.sh with the DSN as argument, once
without and once with the `brotli` module (so bodies come gzip, then br)."""
import sys

import sentry_sdk

sentry_sdk.init(
    dsn=sys.argv[1],
    http_proxy="",
    environment="e2e",
    release="shop@1.0.0",
    traces_sample_rate=1.0,
)
try:
    1 / 0
except ZeroDivisionError as e:
    sentry_sdk.capture_exception(e)
sentry_sdk.capture_message("hello from the e2e run")
with sentry_sdk.start_transaction(name="/checkout", op="http.server"):
    pass
sentry_sdk.flush(timeout=10)
