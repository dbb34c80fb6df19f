"""Settings from the environment, read once by the entry points and passed down."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

default_database_path = Path("var") / "loanbook.db"
default_key_path = Path("var") / "encryption.key"
log = logging.getLogger(__name__)
seal_modes = ("commit", "background")


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    # URL-safe base64 of 32 bytes; encrypts borrowers' national ID, phone and bank account at rest.
    encryption_key: str | None = field(default=None, repr=False)
    # "commit": a request returns once its audit events are sealed into the hash chain;
    # "background": it returns at commit and the server's sealer thread chains them moments later.
    seal_mode: str = "commit"
    # LOANBOOK_NO_DEMO=1: `serve` on an empty database creates the demo tenant without its sample loan book.
    no_demo: bool = False

    def __post_init__(self) -> None:
        if self.seal_mode not in seal_modes:
            raise ValueError(f"LOANBOOK_SEAL_MODE must be one of {', '.join(seal_modes)}, not {self.seal_mode!r}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("LOANBOOK_DATABASE_URL") or f"sqlite:///{default_database_path}"
        return cls(
            database_url=url,
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            debug=env.get("LOANBOOK_DEBUG", "") in ("1", "true", "yes"),
            encryption_key=env.get("LOANBOOK_ENCRYPTION_KEY") or None,
            seal_mode=env.get("LOANBOOK_SEAL_MODE") or "commit",
            no_demo=env.get("LOANBOOK_NO_DEMO", "") in ("1", "true", "yes"),
        )


def field_cipher(settings: Settings):  # -> loans.pii.FieldCipher
    """The cipher for sensitive borrower fields.

    Without LOANBOOK_ENCRYPTION_KEY (a development machine), a key is generated once into
    ./var/encryption.key (mode 0600) so `make serve` works from a fresh clone; production sets the
    variable from a secret store. Losing the key loses the encrypted fields: back it up.
    """
    from loans.pii import FieldCipher, key_from_text, new_key_text

    text = settings.encryption_key
    if text is None:
        if not default_key_path.exists():
            default_key_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(default_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key_text())
            log.warning("generated a development encryption key at %s; set LOANBOOK_ENCRYPTION_KEY in production", default_key_path)
        text = default_key_path.read_text()
    return FieldCipher(key_from_text(text))


def configured_field_cipher(settings: Settings):  # -> loans.pii.FieldCipher | None
    """The cipher when a key is configured (LOANBOOK_ENCRYPTION_KEY, or the development key file that
    `field_cipher` wrote), else None: for commands that only read encrypted fields (migrate,
    auto-reconcile), which must not mint a key that could never decrypt what is stored."""
    if settings.encryption_key is None and not default_key_path.exists():
        return None
    return field_cipher(settings)
