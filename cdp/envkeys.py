"""Secrets for the embedded demo: generated once and kept under var/.

Production (DEBUG off) never uses this module's generation path; settings refuse to
start without keys in the environment instead.
"""

import base64
import json
import os
import secrets
from pathlib import Path


def demo_secrets(var_dir: Path) -> dict[str, str]:
    """Return the demo's secrets, creating var/secrets.json (mode 0600) on first use."""
    path = var_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    var_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CDP_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "CDP_BLIND_INDEX_KEY": secrets.token_urlsafe(48),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values
