"""What Outbound needs to know about one ATS, in one place (the Meltano SDK's idea: a connector
is a few hooks plus a description). The API schemas, the web forms, the CLI's `simulate` and
`doctor`, the worker's pacing and the shared connector test suite are all made from these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from outbound.connectors.base import Connector
from outbound.connectors.probes import ProbeFn
from outbound.http import AsyncClient

# Printable ASCII without spaces: what every ATS key and secret seen so far looks like.
KEY_PATTERN = r"^[\x21-\x7e]+$"


@dataclass(frozen=True)
class CredentialField:
    name: str
    help: str  # where the user finds it (shown beside the field)
    secret: bool = True  # typed into a password field, never shown back
    pattern: str = KEY_PATTERN
    max_length: int = 200


ConnectorFactory = Callable[[str, Mapping[str, str], AsyncClient | None, float], Connector]


@dataclass(frozen=True)
class AtsSpec:
    provider: str  # the stored name: "crelate"
    title: str  # what people read: "Crelate"
    credentials: tuple[CredentialField, ...]
    # (base URL, credentials, shared HTTP client or None, timeout) → a connector.
    build: ConnectorFactory
    default_base_url: str
    # Requests per second per credential the worker allows itself (neither ATS publishes one).
    default_rate_per_second: float = 5.0
    # Capabilities the product adapts to.
    list_import: bool = False  # people can be imported from the ATS's lists
    # The email is written by a call of its own after the record (Clockwork): a lost answer can
    # leave a record without it, which recover_create finds by name and creation time.
    writes_email_separately: bool = False
    record_types: tuple[str, ...] = ()  # what a contact may be created as (empty: one kind)
    flags_do_not_contact: bool = False  # every person carries a do-not-contact flag to read back
    # Contact fields the ATS refuses a person without ("first_name", "last_name"): checked
    # before people are added to a sequence that syncs there.
    required_person_fields: tuple[str, ...] = ()
    job_word: str = "Job"  # what the ATS calls the thing people are put on
    activity_word: str = "activity type"  # what a logged email is filed as
    # `outbound doctor`: one probe per fact in the connector's unverified module.
    probes: Mapping[str, ProbeFn] = field(default_factory=dict)
    # The simulator, as "module:factory" (connectors never import simulators), where its API is
    # mounted on its server, and credentials that open its seeded organisation.
    simulator: str = ""
    simulator_api_root: str = ""
    simulator_credentials: Mapping[str, str] = field(default_factory=dict)

    def credential_help(self) -> dict[str, str]:
        return {f.name: f.help for f in self.credentials}
