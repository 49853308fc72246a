"""Settings: a misspelt CDS_* variable is named at start-up instead of silently ignored."""

from __future__ import annotations

from cds_service.settings import unknown_variables


def test_a_misspelt_variable_is_named_with_the_closest_setting() -> None:
    notes = unknown_variables({"CDS_AUTH_REQURED": "false", "HOME": "/root"})
    assert notes == [
        "CDS_AUTH_REQURED is not a setting and is ignored (did you mean CDS_AUTH_REQUIRED?)"
    ]


def test_an_unrelated_variable_is_named_without_a_guess() -> None:
    assert unknown_variables({"CDS_ZZZ": "1"}) == ["CDS_ZZZ is not a setting and is ignored"]


def test_settings_the_env_file_and_the_test_suites_variables_are_known() -> None:
    environ = {
        "CDS_AUTH_REQUIRED": "false",
        "CDS_DATABASE_URL": "sqlite://",
        "CDS_API_DOCS": "true",
        "CDS_ENV_FILE": "x.env",
        "CDS_TEST_POSTGRES_URL": "postgresql+psycopg://localhost/test",
        "PATH": "/usr/bin",
    }
    assert unknown_variables(environ) == []
