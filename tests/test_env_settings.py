"""Settings from the environment with strict helpers (foundation issue, item 2)."""

import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from devops_console.env import env_bool, env_int, env_list, env_str, generate_fernet_key, key_from_env_or_file


@pytest.mark.parametrize("raw, expected", [("true", True), ("false", False), ("TRUE", True), ("False", False)])
def test_env_bool_accepts_only_true_and_false(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["1", "yes", "on", "0", "no", "treu"])
def test_env_bool_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("X_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be 'true' or 'false'"):
        env_bool("X_FLAG", False)


def test_env_bool_default_when_unset(monkeypatch):
    monkeypatch.delenv("X_FLAG", raising=False)
    assert env_bool("X_FLAG", True) is True


def test_env_int_is_strict(monkeypatch):
    monkeypatch.setenv("X_NUM", "12")
    assert env_int("X_NUM", 1) == 12
    monkeypatch.setenv("X_NUM", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_NUM must be an integer"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_NUM", 5, minimum=1)


def test_env_list(monkeypatch):
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    assert env_list("X_LIST", []) == ["a", "b", "c"]


def test_file_variant_for_secrets(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_str("X_SECRET") == "from-file"
    monkeypatch.setenv("X_SECRET", "both")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_str("X_SECRET")
    monkeypatch.delenv("X_SECRET")
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("X_SECRET")


def test_embedded_key_is_generated_once_with_mode_0600(monkeypatch, tmp_path):
    monkeypatch.delenv("X_KEY", raising=False)
    path = tmp_path / "var" / "x_key"
    first = key_from_env_or_file("X_KEY", path, generate=generate_fernet_key, allow_generate=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key_from_env_or_file("X_KEY", path, generate=generate_fernet_key, allow_generate=True) == first


def test_missing_key_stops_start_up_when_not_allowed(monkeypatch, tmp_path):
    """With DEBUG off and a real database, a missing key is an error, never a silent default."""
    monkeypatch.delenv("X_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_KEY is not set"):
        key_from_env_or_file("X_KEY", tmp_path / "k", generate=generate_fernet_key, allow_generate=False)
    assert not (tmp_path / "k").exists()


def test_settings_refuse_to_start_without_keys_in_production(tmp_path):
    """The real settings, imported in a clean process with DATABASE_URL and no keys, stop with a clear message."""
    import subprocess
    import sys

    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": "postgres://u@127.0.0.1:1/x",
        "DEVOPS_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "devops_console.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr
    env["DEBUG"] = "maybe"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert "DEBUG must be 'true' or 'false'" in result.stderr
