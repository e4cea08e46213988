"""The ingest side's exceptions: one family, each carrying what it is about and reading as one line."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the ingest side raises on purpose."""


class SourcesFileError(IngestError):
    """The sources file is unreadable or invalid; `problems` lists every one, with its line."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(path, problems)
        self.path = path
        self.problems = problems

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"{self.path}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([header, *self.problems])


class DaemonAlreadyRunning(IngestError):
    """Another daemon holds the data directory's lock (ingest/lifecycle.py)."""

    def __init__(self, lock_path: str, pid: int | None) -> None:
        super().__init__(lock_path, pid)
        self.lock_path, self.pid = lock_path, pid

    def __str__(self) -> str:
        holder = f"process {self.pid}" if self.pid else "another process"
        return (
            f"another daemon is running on this data directory: {holder} holds the lock {self.lock_path} "
            "(stop it first, or give this one its own NEWSINGEST_DATA_DIR)"
        )


class _UrlError(IngestError):
    """An error about one URL, read as one line: `<reason>: <url> (source=<name>)`."""

    prefix = ""

    def __init__(self, url: str, reason: str, source: str | None = None) -> None:
        super().__init__(url, reason, source)
        self.url, self.reason, self.source = url, reason, source

    def __str__(self) -> str:
        return f"{self.prefix}{self.reason}: {self.url}{_about(self.source)}"


class FeedParseError(_UrlError):
    prefix = "feed could not be parsed: "


class FetchError(_UrlError):
    """A request that did not produce a usable response."""


class FetchTimeout(FetchError):
    pass


class OversizedResponse(FetchError):
    pass


class BlockedAddress(FetchError):
    pass


class TruncatedResponse(FetchError):
    """The connection closed before the body was complete (fewer bytes than Content-Length)."""


class RedirectError(FetchError):
    """Too many redirects, or a redirect back to a URL already visited."""


class UnsupportedContentType(FetchError):
    """The server answered with a type this request cannot use (HTML for a feed, a PDF for a page)."""


class RobotsDisallowed(FetchError):
    """The host's robots.txt forbids this URL to our User-Agent."""


class BadStatus(FetchError):
    """An HTTP error status; `retry_after_s` is the server's Retry-After, when it sent one."""

    def __init__(
        self, url: str, status: int, source: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(url, f"HTTP {status}", source)
        self.status = status
        self.retry_after_s = retry_after_s
        self.args = (url, status, source, retry_after_s)


def _about(source: str | None) -> str:
    return f" (source={source})" if source else ""
