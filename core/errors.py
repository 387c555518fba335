"""The error hierarchy of Leximind.

LeximindError
 +-- InvalidQuestion        bad input from a user (maps to 4xx)
 +-- UnknownKnowledgeBase   a knowledge base nobody indexed (maps to 404)
 +-- SourceError            an index SOURCE that cannot be read or cloned
 +-- ServiceUnavailable     a backing service failed (maps to 503)
      +-- StoreUnavailable  the vector store or object store
      +-- ModelUnavailable  the chat model server
"""


class LeximindError(Exception):
    """Root of every error Leximind raises on purpose."""


class InvalidQuestion(LeximindError, ValueError):
    """The question is empty, whitespace only, or too long."""


class UnknownKnowledgeBase(LeximindError, LookupError):
    """No knowledge base of that name has been indexed."""


class SourceError(LeximindError):
    """An index source cannot be read, found or cloned."""


class ServiceUnavailable(LeximindError):
    """A backing service could not be reached or failed."""


class StoreUnavailable(ServiceUnavailable):
    """The vector store or the object store failed."""


class ModelUnavailable(ServiceUnavailable):
    """The chat model server failed or timed out."""
