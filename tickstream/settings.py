"""Settings, read from the environment with embedded defaults.

With nothing set, tickstream runs on SQLite (WAL) and the in-memory channel layer in one
process. `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis. `.env.example`
lists every variable.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# Production mode is the default; `make run` and the tests opt into development mode.
DEVELOPMENT = env.bool("TICKSTREAM_DEVELOPMENT", default=False)

_DEV_SECRET = "tickstream-development-only-secret-key-never-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="") or (_DEV_SECRET if DEVELOPMENT else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (production mode), "
        "or set TICKSTREAM_DEVELOPMENT=true for a local development server."
    )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEVELOPMENT else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "tickstream.market",
    "tickstream.stream",
    "tickstream.accounts",
    "tickstream.portfolio",
    "tickstream.alerts",
    "tickstream.trading",
    "tickstream.strategy",
    "tickstream.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tickstream.market.text.ControlCharacterMiddleware",  # before any query or form is read
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out login
    # Last, because it is sync-only: below it Django runs every middleware above in one
    # sync call instead of two thread hops each (a 404 through the API: 7.8 -> 4.5 ms).
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "tickstream.urls"
ASGI_APPLICATION = "tickstream.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tickstream.web.context_processors.market",
            ],
        },
    },
]

# --- Database: SQLite in WAL mode unless DATABASE_URL names another server. ---
VAR_DIR = Path(env.str("TICKSTREAM_VAR_DIR", default=str(BASE_DIR / "var")))
DATABASE_URL = env.str("DATABASE_URL", default="")
# On PostgreSQL each process holds at most DB_POOL_SIZE connections, shared by all its
# threads (Django's connection pool, psycopg_pool): a request that finds them all busy
# waits up to DB_POOL_TIMEOUT_S, then is a 503 `database_unavailable`. Keep
# processes x DB_POOL_SIZE below the server's max_connections (docs/deployment.md).
# DB_POOL_SIZE=0: no pool, a connection per request, closed after it.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=8)
if 0 < DB_POOL_SIZE < 4:  # the feed process's loops each hold one while they run
    raise ImproperlyConfigured("DB_POOL_SIZE must be 0 (no pool) or at least 4")
DB_POOL_TIMEOUT_S = env.float("DB_POOL_TIMEOUT_S", default=3.0)
# The threads a web process runs requests' sync work on (tickstream/handler.py): requests
# beyond them wait for one. With a pool, keep it at most DB_POOL_SIZE minus the few the
# process's own loops hold.
HTTP_THREADS = env.int("HTTP_THREADS", default=4)
if HTTP_THREADS < 1:
    raise ImproperlyConfigured("HTTP_THREADS must be at least 1")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a thread never keeps one for itself
    if DB_POOL_SIZE > 0 and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, DB_POOL_SIZE),
            "max_size": DB_POOL_SIZE,
            "timeout": DB_POOL_TIMEOUT_S,
            # Its reconnection attempts back off 1, 2, 4 ... s; giving up after 5 s makes
            # the next request start again at 1 s, so a server back from a long outage is
            # used within seconds, not after the doubled wait.
            "reconnect_timeout": 5.0,
        }
    # A connection the server dropped (a restart) is replaced, not handed out.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "tickstream.sqlite3",
            "OPTIONS": {
                # WAL lets the page and API readers run while the batch writer commits.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Kept by each thread: the request threads are long-lived (tickstream/handler.py),
            # and opening one cost a request about 1 ms (the pragmas, the functions).
            "CONN_MAX_AGE": None,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer: in-memory in one process, Redis pub/sub when REDIS_URL is set. ---
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="ts")},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tickstream.stream.layers.LocalChannelLayer",
            "CONFIG": {"capacity": env.int("CHANNEL_CAPACITY", default=10_000)},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEVELOPMENT
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEVELOPMENT
WHITENOISE_AUTOREFRESH = DEVELOPMENT  # edited static files are served at once
if DEVELOPMENT:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # served from the apps; collectstatic not needed

LOGIN_REDIRECT_URL = "/"
# Anyone may create an account at /accounts/signup/ (on in development mode only).
SIGNUP_ENABLED = env.bool("SIGNUP_ENABLED", default=DEVELOPMENT)
LOGOUT_REDIRECT_URL = "/"

# Failed logins are throttled per (account, address) and per address (django-axes): after
# LOGIN_FAILURE_LIMIT failures for one account from one address, that account is refused
# from that address, and after as many failures from one address (any accounts), that
# address is refused, each for LOGIN_COOLOFF_MINUTES. An account is never locked for every
# address: a stranger guessing from elsewhere cannot lock its owner out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tickstream.web.views.login_locked"

# --- Security: strict in production; `manage.py check --deploy` passes there. ---
if not DEVELOPMENT:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEVELOPMENT else []),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tickstream.common.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"ingest": env.str("INGEST_THROTTLE", default="600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "tickstream API",
    "DESCRIPTION": "Instruments, quotes, candles and tick ingest. "
    "Money travels as decimal strings.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A transaction's kind is one enum, read and written (the output shape and the input).
    "ENUM_NAME_OVERRIDES": {"TransactionKindEnum": "tickstream.portfolio.shapes.KINDS"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Market data. ---
# Where feeds run: "embedded" inside the web process (one process, `make run`), or
# "external" in `manage.py runfeeds` (several web processes need this).
FEEDS_MODE = env.str("FEEDS_MODE", default="embedded")
if FEEDS_MODE not in {"embedded", "external"}:
    raise ImproperlyConfigured("FEEDS_MODE must be 'embedded' or 'external'")
# Feed specs separated by ';' (see docs/configuration.md), e.g.
# "simulated" or "simulated;replay symbol=SPY file=data/spy.csv speed=60".
FEEDS = env.str("FEEDS", default="simulated")
# Alpaca's market-data stream (`alpaca` feeds) and bars (their backfill).
ALPACA_API_KEY = env.str("ALPACA_API_KEY", default="")
ALPACA_API_SECRET = env.str("ALPACA_API_SECRET", default="")
SIM_SEED = env.int("SIM_SEED", default=0)  # 0: a new path every start
SIM_RATE = env.float("SIM_RATE", default=50.0)  # ticks per second over all symbols
# empty: every active instrument
SIM_SYMBOLS = [s for s in env.list("SIM_SYMBOLS", default=[]) if s]
SIM_STOCK_HOURS = env.str("SIM_STOCK_HOURS", default="always")  # or "exchange"
SIM_SPEED = env.float("SIM_SPEED", default=20.0)  # volatility clock: 1 real s = N market s
# Seconds of simulated past written on a first start (empty store), so charts and
# indicators have history at once; development mode only by default.
SIM_BACKFILL_S = env.float("SIM_BACKFILL_S", default=3 * 3600 if DEVELOPMENT else 0)
MARKET_INDICATORS = env.str(
    "MARKET_INDICATORS", default="sma:20,ema:20,wma:20,rsi:14,macd:12:26:9,bbands:20:2,atr:14,vwap"
)
MARKET_INTERVALS = env.list("MARKET_INTERVALS", default=["1s", "1m", "5m", "15m", "1h", "1d"])
MARKET_MAX_TICK_DELAY_S = env.float("MARKET_MAX_TICK_DELAY_S", default=60.0)
MARKET_REORDER_TOLERANCE_S = env.float("MARKET_REORDER_TOLERANCE_S", default=2.0)
MARKET_ANALYSIS_EVERY_MS = env.int("MARKET_ANALYSIS_EVERY_MS", default=100)
MARKET_STORE_TICKS = env.bool("MARKET_STORE_TICKS", default=False)
# Live feeds (exchange, alpaca) fetch the recent candles of a symbol with none stored when
# they start (each feed's `backfill=` days), so a first start's charts are not empty.
MARKET_VENUE_HISTORY = env.bool("MARKET_VENUE_HISTORY", default=True)
MARKET_WRITER_FLUSH_MS = env.int("MARKET_WRITER_FLUSH_MS", default=1000)
MARKET_WRITER_BATCH = env.int("MARKET_WRITER_BATCH", default=2000)
MARKET_WRITER_QUEUE = env.int("MARKET_WRITER_QUEUE", default=100_000)
MARKET_PUBLISH_QUEUE = env.int("MARKET_PUBLISH_QUEUE", default=50_000)
INGEST_MAX_BATCH = env.int("INGEST_MAX_BATCH", default=1000)
INGEST_REPLY_TIMEOUT_S = env.float("INGEST_REPLY_TIMEOUT_S", default=5.0)

# --- Strategies (docs/strategies.md). ---
# Hosted strategies run code the server offers: the examples, and the `.py` files of this
# directory (the operator's; users choose one, never upload code).
STRATEGY_DIR = env.str("STRATEGY_DIR", default="")
STRATEGY_HOSTED_MAX = env.int("STRATEGY_HOSTED_MAX", default=20)  # running at once
STRATEGY_HOST_POLL_S = env.float("STRATEGY_HOST_POLL_S", default=1.0)  # start/stop delay

# --- Streaming (the Hub and websocket protocol v1). ---
STREAM_FLUSH_MS = env.int("STREAM_FLUSH_MS", default=100)  # 0: send each update at once
STREAM_HEARTBEAT_S = env.float("STREAM_HEARTBEAT_S", default=15.0)
# How often each web process checks the event log for messages of sequenced channels
# (orders, alerts, portfolios) whose publish the broker lost: the bound on their delay.
STREAM_AUDIT_S = env.float("STREAM_AUDIT_S", default=5.0)
STREAM_SLOW_CLOSE_S = env.float("STREAM_SLOW_CLOSE_S", default=30.0)
# permessage-deflate compresses every connection's frames separately: it saves bandwidth
# but costs most of the server's CPU at fan-out rates. Off unless bandwidth is scarcer.
STREAM_COMPRESSION = env.bool("STREAM_COMPRESSION", default=False)
# The tutorial pages never ask for a symbol: these stream until the client asks for another.
STREAM_DEFAULT_STOCK = env.str("STREAM_DEFAULT_STOCK", default="AAPL")
STREAM_DEFAULT_CRYPTO = env.str("STREAM_DEFAULT_CRYPTO", default="BTC-USD")

# --- Alerts: how soon a created or edited alert reaches the evaluator (seconds). ---
ALERTS_REFRESH_S = env.float("ALERTS_REFRESH_S", default=1.0)

# --- Portfolios: each process keeps the replayed history of this many recent ones. ---
PORTFOLIO_KEPT = env.int("PORTFOLIO_KEPT", default=64)
# A lot held more than this many days is long-term in the tax-lot report.
PORTFOLIO_LONG_TERM_DAYS = env.int("PORTFOLIO_LONG_TERM_DAYS", default=365)

# --- Paper trading (docs/configuration.md). Fees and slippage in basis points. ---
TRADING_MAKER_BPS = Decimal(env.str("TRADING_MAKER_BPS", default="10"))
TRADING_TAKER_BPS = Decimal(env.str("TRADING_TAKER_BPS", default="20"))
TRADING_SLIPPAGE_BPS = Decimal(env.str("TRADING_SLIPPAGE_BPS", default="5"))
TRADING_COLLAR_BPS = Decimal(env.str("TRADING_COLLAR_BPS", default="500"))  # market buys reserve
TRADING_PARTICIPATION = Decimal(env.str("TRADING_PARTICIPATION", default="1"))  # of each trade
TRADING_QUEUE_FACTOR = Decimal(env.str("TRADING_QUEUE_FACTOR", default="1"))  # x own quantity
TRADING_ORDERS_PER_SECOND = env.int("TRADING_ORDERS_PER_SECOND", default=10)  # per user
TRADING_MAX_OPEN_ORDERS = env.int("TRADING_MAX_OPEN_ORDERS", default=200)  # per user
TRADING_POLL_S = env.float("TRADING_POLL_S", default=0.2)  # how soon the engine sees orders
TRADING_ENGINE_TIMEOUT_S = env.float("TRADING_ENGINE_TIMEOUT_S", default=10.0)
TRADING_DEMO_DEPOSIT = Decimal(env.str("TRADING_DEMO_DEPOSIT", default="100000"))
# Paper cash a new account starts with (0: none), as a broker's paper account does.
TRADING_START_BALANCE = Decimal(env.str("TRADING_START_BALANCE", default="100000"))
