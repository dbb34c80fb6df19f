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
