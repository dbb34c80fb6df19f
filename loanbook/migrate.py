"""Apply the alembic migrations shipped in the `migrations` package."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

import migrations


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def upgrade(engine: Engine, revision: str = "head", *, cipher=None) -> None:  # noqa: ANN001 (a loans.pii.FieldCipher)
    """Migrate to `revision`. `cipher` decrypts stored borrower fields for migrations that index them
    (needed only when such rows exist; a migration that needs it and lacks it stops with a message)."""
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        config.attributes["field_cipher"] = cipher
        command.upgrade(config, revision)
        conn.commit()
