"""Step templates: ``{{first_name}}``, ``{{ company }}``, custom variables, and a fallback
``{{first_name|there}}``. A variable with no value and no fallback blocks the contact with a
clear error instead of sending "Hi ,". Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^}]*))?\}\}")
# Any "{{" or "}}" left once the well-formed variables are removed is a typo in the template.
STRAY_BRACES = re.compile(r"\{\{|\}\}")

# Contact fields every template may use; custom variables add to these per contact.
STANDARD_VARIABLES = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "title",
    "company",
    "phone",
    "location",
    "linkedin_url",
    "sender_name",
    "sender_first_name",
)


class MissingVariables(Exception):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        listed = ", ".join(f"{{{{{n}}}}}" for n in names)
        super().__init__(f"no value for {listed}")


def syntax_error(template: str) -> str | None:
    """Why a template cannot be rendered at all, or None (checked when a step is saved)."""
    leftover = VARIABLE.sub("", template)
    stray = STRAY_BRACES.search(leftover)
    if stray is not None:
        snippet = leftover[max(0, stray.start() - 15) : stray.end() + 15].strip()
        return f'unbalanced or malformed variable near "{snippet}"; write {{{{name}}}}'
    return None


def variables_in(template: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in VARIABLE.finditer(template)))


def render(template: str, values: Mapping[str, str | None]) -> str:
    """Fill the variables in; raises MissingVariables naming every one without a value."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = values.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
        if fallback is not None:
            return fallback.strip()
        if name not in missing:
            missing.append(name)
        return ""

    out = VARIABLE.sub(fill, template)
    if missing:
        raise MissingVariables(missing)
    return out
