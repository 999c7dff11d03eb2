"""Step templates: variables, fallbacks, and a clear refusal instead of "Hi ,"."""

from __future__ import annotations

import pytest

from outbound.domain.templates import MissingVariables, render, syntax_error, variables_in


def test_fills_standard_and_custom_variables_with_spacing_tolerated() -> None:
    out = render(
        "Hi {{first_name}}, how is {{ company }}? ({{ team_size }})",
        {"first_name": "Ada", "company": "Hooli", "team_size": "40"},
    )
    assert out == "Hi Ada, how is Hooli? (40)"


def test_fallback_is_used_for_blank_values_only() -> None:
    assert render("Hi {{first_name|there}}", {"first_name": "  "}) == "Hi there"
    assert render("Hi {{first_name|there}}", {"first_name": "Ada"}) == "Hi Ada"


def test_every_missing_variable_is_named_once() -> None:
    with pytest.raises(MissingVariables) as info:
        render("{{first_name}} {{company}} {{first_name}}", {"company": None})
    assert info.value.names == ["first_name", "company"]
    assert "{{first_name}}, {{company}}" in str(info.value)


def test_malformed_braces_are_reported_with_context() -> None:
    assert syntax_error("Hi {{first_name}") is not None
    assert "first_name" in (syntax_error("Hi {{first_name}") or "")
    assert syntax_error("Hi {{ first name }}") is not None
    assert syntax_error("Hi {{first_name|there}}, {{company}}") is None
    assert variables_in("{{a}} {{b|x}} {{a}}") == ["a", "b"]
