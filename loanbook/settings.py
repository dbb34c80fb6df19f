"""Settings from the environment, read once by the entry points and passed down."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

default_database_path = Path("var") / "loanbook.db"


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("LOANBOOK_DATABASE_URL") or f"sqlite:///{default_database_path}"
        return cls(
            database_url=url,
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            debug=env.get("LOANBOOK_DEBUG", "") in ("1", "true", "yes"),
        )
