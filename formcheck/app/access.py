"""Who may use this server, and whose history they see.

On this computer only (the default: Streamlit listens on 127.0.0.1) there is one user and
one history. Serving a team on the LAN is a choice (``formcheck app --lan``) and then needs
access keys: a TOML file naming each athlete's key (``ann = "…"``), whose path the server gets
in ``FORMCHECK_ACCESS_KEYS``. A visitor enters a key once per browser session; the key says
who they are, and each athlete's sessions go to their own history file. A server listening
on the network without keys serves nothing.
"""

from __future__ import annotations

import hmac
import os

import secrets
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from formcheck.errors import ConfigError

KEYS_ENV = "FORMCHECK_ACCESS_KEYS"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MIN_KEY_CHARS = 12

@dataclass(frozen=True)
class Visitor:
    athlete: str | None  # None: the one user of a server on this computer

def load_keys(path: str | Path) -> dict[str, str]:
    """key -> athlete, from a TOML file of ``athlete = "key"`` lines."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The access keys file {path} cannot be read: {exc}.") from exc
    table = data.get("keys", data)
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"The access keys file {path} must have one line per athlete: name = \"key\".")
    keys: dict[str, str] = {}
    for athlete, key in table.items():
        if not isinstance(key, str) or len(key) < MIN_KEY_CHARS:
            raise ConfigError(f"The key of '{athlete}' in {path} must be text of at least {MIN_KEY_CHARS} "
                              "characters (make one with: python -c 'import secrets; print(secrets.token_urlsafe())').")
        if key in keys:
            raise ConfigError(f"'{athlete}' and '{keys[key]}' share a key in {path}: give each athlete their own.")
        keys[key] = str(athlete)
    return keys

def new_keys_file(path: Path, athlete: str = "team") -> str:
    """Write a keys file with one fresh key (readable by its owner only); returns the key."""
    key = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'# formcheck access keys: one line per athlete, name = "key"\n{athlete} = "{key}"\n')
    return key

def athlete_for(key: str, keys: dict[str, str]) -> str | None:
    """The athlete whose key this is, compared in constant time; None for a wrong key."""
    given = key.strip().encode()
    found = None
    for known, athlete in keys.items():
        if hmac.compare_digest(given, known.encode()):
            found = athlete
    return found

def listens_on_network(address: str | None) -> bool:
    """Streamlit's ``server.address``: empty or unset means every interface."""
    return not address or address not in LOOPBACK
