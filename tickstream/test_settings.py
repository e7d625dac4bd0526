"""Settings for the test suite: development mode, no feeds unless a test starts them."""

import os

os.environ.setdefault("TICKSTREAM_DEVELOPMENT", "true")
if os.environ.get("TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]

from decimal import Decimal

from tickstream.settings import *  # noqa: E402,F403

FEEDS_MODE = "embedded"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"ingest": "10000/min"}}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 - threads must not keep connections
# The test database is made and dropped under the runner; a pool of the server's would
# outlive it. Tests of the pool start processes with their own settings.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405

# Tests fund their accounts themselves (a new account's paper cash is tested on its own).
TRADING_START_BALANCE = Decimal(0)  # noqa: F405
