"""The worker side's exceptions. Policy follows the type: transient is retried, permanent is dead-lettered.

Every constructor argument goes to Exception.__init__ so the errors survive Celery's serialization.
"""

from __future__ import annotations


class ProcessingError(Exception):
    """Base of every error the workers raise on purpose."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(reason, url)
        self.reason, self.url = reason, url

    def __str__(self) -> str:
        return f"{self.reason}: {self.url}" if self.url else self.reason


class TransientError(ProcessingError):
    """Worth retrying: the same input may succeed later."""


class IndexUnavailable(TransientError):
    """The index cannot be reached; retried without limit, never dead-lettered."""


class IndexAccessDenied(IndexUnavailable):
    """The cluster refused our identity (401, 403) or we do not trust its certificate: a configuration error.

    Commands and start-up stop on it with one line (workers/index/connect.py). A worker that meets it
    mid-run keeps the batch and retries it like an outage: a revoked role loses nothing while a person
    fixes it, and the batch is not the batch's fault, so it is never dead-lettered.
    """


class PermanentError(ProcessingError):
    """Retrying cannot help: the input itself is the problem. Becomes a dead letter."""


class NotAnArticle(PermanentError):
    """The page holds no article text, e.g. `NotAnArticle("text too short: 42 chars", url)`."""


class UnsupportedContent(PermanentError):
    pass


class ReuseWithheld(PermanentError):
    """The publisher reserves reuse and the source's policy is `skip`: nothing is stored, and that is not a
    failure (workers/batch.py drops it without a dead letter)."""


class InvalidJob(PermanentError):
    pass


class InvalidQuery(PermanentError):
    """What a person asked of the index cannot be answered as given (a bad date, a backwards range)."""


class IndexMissing(IndexUnavailable):
    """The index (alias) does not exist yet: nothing was ingested, or the alias was removed."""


class IndexOutdated(ProcessingError):
    """The index was built with an older mapping than this code's: `newsingest index migrate` fixes it."""
