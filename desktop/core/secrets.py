"""Secrets in the OS keychain through keyring: the Hugging Face token, API keys for
OpenAI-compatible servers (one per base URL, for ``huacaya-generate-data``), and the key of
Huacaya's own local API server.

The Hugging Face token follows the Hub client's conventions too: ``HF_TOKEN`` in the environment
wins, and without a usable keychain the token goes where the Hugging Face tools keep theirs (the
Hub client's token file, readable only by its owner), so it outlives the command that stored it;
``token_location()`` says where, in words. An API key without a keychain is kept in memory for
this session only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets as random_secrets
from pathlib import Path

import keyring
import keyring.errors

from conversion.errors import ApiKeyError, TokenError
from conversion.output import atomic_write_text

log = logging.getLogger(__name__)

SERVICE = "Huacaya"
ACCOUNT = "huggingface-token"
API_KEY_ACCOUNT = "api-key:{base_url}"  # an OpenAI-compatible server's key, by its base URL
LOCAL_API_ACCOUNT = "local-api-key"  # the key clients must send to `huacaya serve`
_session: dict[str, str] = {}


def _backend_usable() -> bool:
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    return not type(backend).__module__.startswith("keyring.backends.fail") and priority > 0


def keychain_available() -> bool:
    """Whether secrets outlive this process (an API key without a keychain does not)."""
    return _backend_usable()


def hub_token_file() -> Path:
    """The Hub client's token file (``HF_TOKEN_PATH``; ``~/.cache/huggingface/token``)."""
    from huggingface_hub import constants

    return Path(constants.HF_TOKEN_PATH)


def _token_from_file() -> str | None:
    try:
        return hub_token_file().read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read the Hugging Face token file: %s", exc)
        return None


def token_location() -> str:
    """Where the token in use comes from, in words for the user ("" without one)."""
    if os.environ.get("HF_TOKEN", "").strip():
        return "from the HF_TOKEN environment variable"
    if _get(ACCOUNT):
        return "in the keychain" if ACCOUNT not in _session else "for this session only"
    if _token_from_file():
        return f"in {hub_token_file()} (the Hugging Face tools' token file)"
    return ""


def _get(account: str) -> str | None:
    if account in _session:
        return _session[account]
    if not _backend_usable():
        return None
    try:
        return keyring.get_password(SERVICE, account)
    except keyring.errors.KeyringError as exc:
        log.warning("cannot read the keychain: %s", exc)
        return None


def _set(account: str, secret: str) -> bool:
    """Store ``secret``; True if it went to the keychain, False if only into this session."""
    if _backend_usable():
        try:
            keyring.set_password(SERVICE, account, secret)
            _session.pop(account, None)
            return True
        except keyring.errors.KeyringError as exc:
            log.warning("cannot write the keychain (%s); keeping it for this session", exc)
    _session[account] = secret
    return False


def get_token() -> str | None:
    """``HF_TOKEN``, else the token we stored (keychain), else the Hub client's token file."""
    return os.environ.get("HF_TOKEN", "").strip() or _get(ACCOUNT) or _token_from_file()


def set_token(token: str) -> str:
    """Store ``token`` where it lasts; returns where, in words (see ``token_location``)."""
    token = token.strip()
    if not token:
        raise TokenError("The token is empty.")
    if _backend_usable() and _set(ACCOUNT, token):
        return "in the keychain"
    _session.pop(ACCOUNT, None)
    path = hub_token_file()
    try:
        atomic_write_text(path, token)  # a new file readable only by its owner (mode 600)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
        _session[ACCOUNT] = token
        return "for this session only (no keychain, and the token file could not be written)"
    return f"in {path} (the Hugging Face tools' token file, readable only by you; no keychain)"


def delete_token() -> list[str]:
    """Forget the stored token: the keychain's entry, and the token file when there is no
    keychain (where ``set_token`` put it). Returns what was removed, in words."""
    removed = []
    if _session.pop(ACCOUNT, None):
        removed.append("this session's token")
    if _backend_usable():
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            if keyring.get_password(SERVICE, ACCOUNT) is not None:
                keyring.delete_password(SERVICE, ACCOUNT)
                removed.append("the keychain's token")
    elif hub_token_file().is_file():
        hub_token_file().unlink()
        removed.append(str(hub_token_file()))
    return removed


class ApiKeys:
    """API keys of OpenAI-compatible servers by base URL: the key store of generate-data."""

    @staticmethod
    def _account(base_url: str) -> str:
        return API_KEY_ACCOUNT.format(base_url=base_url.strip().rstrip("/"))

    def get(self, base_url: str) -> str | None:
        return _get(self._account(base_url))

    def set(self, base_url: str, key: str) -> bool:
        """Store ``key``; True if it went to the keychain, False if only into this session."""
        key = key.strip()
        if not key:
            raise ApiKeyError("The API key is empty.")
        return _set(self._account(base_url), key)


def local_api_key() -> str:
    """The bearer key of the local API server; a new random one is made and stored the first
    time. Kept in the keychain, it stays the same across starts, so clients keep working."""
    key = _get(LOCAL_API_ACCOUNT)
    if key:
        return key
    key = "hk-" + random_secrets.token_urlsafe(32)
    _set(LOCAL_API_ACCOUNT, key)
    return key
