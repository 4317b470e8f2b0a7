from __future__ import annotations

import stat

import pytest

from loopsy.config import default_config, load_config, parse_config, save_config
from loopsy.home import LoopsyHome
from loopsy.protocol.errors import ConfigError


def test_defaults_round_trip(home: LoopsyHome) -> None:
    config = default_config(home)
    assert parse_config(config.to_yaml()) == config
    assert config.server.port == 19532
    assert config.server.host == "127.0.0.1"
    assert config.execution.denylist == [
        "rm",
        "rmdir",
        "format",
        "mkfs",
        "dd",
        "shutdown",
        "reboot",
    ]
    assert config.rate_limits.execute == 30
    assert str(home.root) in config.transfer.denied_paths
    assert len(config.auth.api_key) >= 43


def test_saved_private(home: LoopsyHome) -> None:
    save_config(home, default_config(home))
    assert stat.S_IMODE(home.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("port: 19532", "port: '80'"), "server.port"),
        (("port: 19532", "port: 70000"), "server.port"),
        (("maxConcurrent: 10", "maxConcurent: 10"), "execution.maxConcurent: unknown key"),
        (("rateLimits:", "rateLimit:"), "rateLimit: unknown key"),
        (("  host: 127.0.0.1", "  host: [1, 2]"), "server.host"),
        (("allowedKeys: {}", "allowedKeys: {ci: plaintext-key}"), "allowedKeys.ci"),
    ],
)
def test_errors_name_the_key(home: LoopsyHome, change: tuple[str, str], named: str) -> None:
    text = default_config(home).to_yaml()
    assert change[0] in text
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace(change[0], change[1], 1))
    assert named in info.value.message
    assert info.value.hint


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("server: [unclosed")
    with pytest.raises(ConfigError, match="mapping"):
        parse_config("- a list")


def test_missing_config_hints_init(tmp_path: object) -> None:
    from pathlib import Path

    with pytest.raises(ConfigError) as info:
        load_config(LoopsyHome(Path(str(tmp_path)) / "nothing"))
    assert "loopsy init" in (info.value.hint or "")
