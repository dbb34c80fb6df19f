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
