"""Seals on recorded commands: ``arena resume`` replays only what this user recorded in this store's folder.

A run records the ``arena`` command that started it, and ``arena resume`` runs that command again.
A store is data (downloaded, copied, received), so a recorded command is replayed only when it
carries a seal: an HMAC-SHA256 of the command and the store's folder, keyed by a secret of this
user (``$XDG_CONFIG_HOME/firearena/secret``, by default ``~/.config/firearena/secret``, created on
first use with mode 0600). A command written into a store by hand, recorded by another user or on
another machine, or carried to another folder with its store has no valid seal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path


def secret_path() -> Path:
    """Where this user's secret lives."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "firearena" / "secret"


def _secret() -> bytes:
    """This user's secret, created (mode 0600, atomically: concurrent first uses agree) when missing."""
    path = secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = path.with_name(f".secret.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(scratch, path)  # fails when another process made it first: theirs counts
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_bytes().strip()


def seal(command: dict, store: str | Path) -> str:
    """The seal of ``command`` (``{"argv", "cwd"}``) recorded in the store at ``store``."""
    message = json.dumps(
        {"argv": command["argv"], "cwd": command["cwd"], "folder": str(Path(store).resolve().parent)}, sort_keys=True
    )
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()


def is_sealed(command: dict, store: str | Path) -> bool:
    """Whether ``command`` carries this user's seal for the store at ``store``."""
    given = command.get("seal")
    return isinstance(given, str) and hmac.compare_digest(given, seal(command, store))
