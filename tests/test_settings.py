"""Settings come from the environment; a bad value stops a command with a clear message."""
import pytest

from loanbook.cli import main as cli_main
from loanbook.settings import Settings


def test_defaults_and_seal_mode():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///") and settings.seal_mode == "commit"
    assert Settings.from_env({"LOANBOOK_SEAL_MODE": "background"}).seal_mode == "background"


def test_an_unknown_seal_mode_is_refused_by_every_command(monkeypatch, capsys):
    with pytest.raises(ValueError, match="LOANBOOK_SEAL_MODE"):
        Settings.from_env({"LOANBOOK_SEAL_MODE": "later"})
    monkeypatch.setenv("LOANBOOK_SEAL_MODE", "later")
    assert cli_main(["seal"]) == 2
    assert "LOANBOOK_SEAL_MODE must be one of commit, background" in capsys.readouterr().err


def test_the_demo_book_is_skipped_by_flag_or_environment(monkeypatch):
    from loanbook import server
    from loanbook.cli import build_parser

    assert Settings.from_env({}).no_demo is False and Settings.from_env({"LOANBOOK_NO_DEMO": "1"}).no_demo is True
    calls = []
    monkeypatch.setattr(server, "serve", lambda settings, **options: calls.append(options["demo"]) or 0)
    monkeypatch.setenv("LOANBOOK_NO_DEMO", "")
    assert cli_main(["serve"]) == 0 and cli_main(["serve", "--no-demo"]) == 0
    monkeypatch.setenv("LOANBOOK_NO_DEMO", "1")
    assert cli_main(["serve"]) == 0
    assert calls == [True, False, False]
    assert build_parser().parse_args(["demo"]).loans == 300


def test_commands_that_only_read_encrypted_fields_never_mint_a_key(monkeypatch, tmp_path):
    from loanbook import settings as settings_module
    from loanbook.settings import configured_field_cipher
    from loans.pii import new_key_text

    monkeypatch.setattr(settings_module, "default_key_path", tmp_path / "var" / "encryption.key")
    assert configured_field_cipher(Settings.from_env({})) is None
    assert not (tmp_path / "var").exists()
    key = new_key_text()
    cipher = configured_field_cipher(Settings.from_env({"LOANBOOK_ENCRYPTION_KEY": key}))
    assert cipher is not None and cipher.blind_index("6222 0202") == cipher.blind_index("62220202")
