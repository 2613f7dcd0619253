"""The environment the benchmark's scripts share: database, keys and the accounts the generator creates.

The keys below are for the benchmark database only. They are derived from fixed strings so that the
generator (which encrypts the roster) and the load run (which serves it with DEBUG=0) agree without any
setup; a real deployment generates its own and keeps them secret.
"""

import base64
import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
OUT_DIR = ROOT / "bench" / "out"

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gongzhi_bench")
# A Redis database of its own, so that the benchmark's sessions and cache do not mix with anyone else's.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")

# The staff accounts the generator creates (printed at the end of a run): a community worker of the largest
# community, the street officer and the district officer above it, and the leader of its first compound.
WORKER_MOBILE = "13900000001"
OFFICER_MOBILE = "13900000002"
DISTRICT_MOBILE = "13900000003"
COMPOUND_MOBILE = "13900000004"
# A resident of that community with a long passbook (bench/generate_ledger.py creates the account).
RESIDENT_MOBILE = "13900000005"
PASSWORD = "bench-Gongzhi-2026"


def _derived_key(purpose: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"gongzhi-bench:{purpose}".encode()).digest()).decode()


SECRET_KEY = _derived_key("secret-key")
FIELD_ENCRYPTION_KEYS = _derived_key("field-encryption")
LOOKUP_HASH_KEY = _derived_key("lookup-hash")


def environment(database_url: str = DATABASE_URL) -> dict[str, str]:
    """What the app needs to run in production mode against the benchmark database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gongzhi.settings",
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": FIELD_ENCRYPTION_KEYS,
        "LOOKUP_HASH_KEY": LOOKUP_HASH_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
    }
