"""The Hugging Face token: in the OS keychain through keyring, never in a file.

Without a usable keychain backend the token is kept in memory for this session only, and
``token_is_persistent()`` says so, so the window can tell the user.
"""

from __future__ import annotations

import contextlib
import logging

import keyring
import keyring.errors

from desktop.core.errors import TokenError

log = logging.getLogger(__name__)

SERVICE = "Huacaya"
ACCOUNT = "huggingface-token"
_session: dict[str, str] = {}


def _backend_usable() -> bool:
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    return not type(backend).__module__.startswith("keyring.backends.fail") and priority > 0


def token_is_persistent() -> bool:
    return _backend_usable()


def get_token() -> str | None:
    if "token" in _session:
        return _session["token"]
    if not _backend_usable():
        return None
    try:
        return keyring.get_password(SERVICE, ACCOUNT)
    except keyring.errors.KeyringError as exc:
        log.warning("cannot read the keychain: %s", exc)
        return None


def set_token(token: str) -> bool:
    """Store ``token``; True if it went to the keychain, False if only into this session."""
    token = token.strip()
    if not token:
        raise TokenError("The token is empty.")
    if _backend_usable():
        try:
            keyring.set_password(SERVICE, ACCOUNT, token)
            _session.pop("token", None)
            return True
        except keyring.errors.KeyringError as exc:
            log.warning("cannot write the keychain (%s); keeping the token for this session", exc)
    _session["token"] = token
    return False


def delete_token() -> None:
    _session.pop("token", None)
    if _backend_usable():
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(SERVICE, ACCOUNT)
