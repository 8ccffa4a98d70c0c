"""The eight OAI-PMH error conditions as exceptions; the view turns them into <error> elements."""
from __future__ import annotations

from enum import Enum


class Code(str, Enum):
    BAD_ARGUMENT = "badArgument"
    BAD_RESUMPTION_TOKEN = "badResumptionToken"
    BAD_VERB = "badVerb"
    CANNOT_DISSEMINATE_FORMAT = "cannotDisseminateFormat"
    ID_DOES_NOT_EXIST = "idDoesNotExist"
    NO_RECORDS_MATCH = "noRecordsMatch"
    NO_METADATA_FORMATS = "noMetadataFormats"
    NO_SET_HIERARCHY = "noSetHierarchy"


class OAIError(Exception):
    """One or more protocol errors; several may be reported in one response."""

    def __init__(self, code: Code, message: str, *more: tuple[Code, str], response_date: str | None = None) -> None:
        self.errors: list[tuple[Code, str]] = [(code, message), *more]
        # An empty list answers as of its watermark, like a full one: a harvester that takes
        # this responseDate as its next `from` must not skip a change still being written.
        self.response_date = response_date
        super().__init__("; ".join(f"{c.value}: {m}" for c, m in self.errors))

    @property
    def echo_request(self) -> bool:
        """Spec 3.2: the request's arguments are echoed unless it was a badVerb or badArgument."""
        return not any(c in (Code.BAD_VERB, Code.BAD_ARGUMENT) for c, _ in self.errors)
