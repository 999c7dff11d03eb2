"""Custom field mapping: Outbound contact fields → ATS fields, with a per-field write policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outbound.domain.vocabulary import CONTACT_FIELDS, WRITE_POLICIES


@dataclass(frozen=True)
class MappedValue:
    target: str
    value: Any
    policy: str


def validate_mapping(mapping: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Problems as (field path, message); empty when the mapping is well-formed."""
    problems: list[tuple[str, str]] = []
    targets: set[str] = set()
    for i, entry in enumerate(mapping):
        source = str(entry.get("source", ""))
        target = str(entry.get("target", ""))
        policy = entry.get("policy", "always")
        if source not in CONTACT_FIELDS and not (
            source.startswith("custom.") and len(source) > len("custom.")
        ):
            problems.append((f"field_mapping[{i}].source", f"unknown contact field {source!r}"))
        if not target.strip():
            problems.append((f"field_mapping[{i}].target", "target ATS field is required"))
        elif target in targets:
            problems.append((f"field_mapping[{i}].target", f"{target!r} is mapped twice"))
        targets.add(target)
        if policy not in WRITE_POLICIES:
            problems.append(
                (f"field_mapping[{i}].policy", f"must be one of {', '.join(WRITE_POLICIES)}")
            )
    return problems


def contact_value(contact: dict[str, Any], source: str) -> Any:
    if source.startswith("custom."):
        return (contact.get("custom_variables") or {}).get(source.removeprefix("custom."))
    return contact.get(source)


def mapped_values(contact: dict[str, Any], mapping: list[dict[str, Any]]) -> list[MappedValue]:
    values = []
    for entry in mapping:
        value = contact_value(contact, entry["source"])
        if value in (None, ""):
            continue
        values.append(MappedValue(entry["target"], value, entry.get("policy", "always")))
    return values


def values_to_write(
    values: list[MappedValue], existing: dict[str, Any], is_new_record: bool
) -> dict[str, Any]:
    """Apply write policies against what the ATS record already holds."""
    out: dict[str, Any] = {}
    for mv in values:
        if mv.policy == "never" and not is_new_record:
            continue
        if mv.policy == "fill_blank" and not is_new_record and existing.get(mv.target):
            continue
        out[mv.target] = mv.value
    return out
