"""Hypothesis properties beside the sources fuzz target: whatever a person types into the sources
file, load_sources() either loads it or reports problems that each name the file and a line of it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.oracles import check_sources

_FIELDS = st.sampled_from(
    ["name", "url", "kind", "poll_interval", "min_interval", "max_interval", "tags", "language", "enabled",
     "allow_hosts", "scrape", "poll_intervall"]
)
_VALUES = st.sampled_from(
    ["ok", "https://news.example/rss.xml", "file:feed.xml", "page", "15m", "5 minutes", "10s", "[a, b]", "en",
     "maybe", "'10.0.0.0/8:80'", "{include: ['(']}", "{link_selector: 'a[', max_new_links: 0}", "''", "~", "1h30m",
     "{extra_domains: ['http://x']}", "[127.0.0.1:99999]"]
) | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=15)
_SOURCE = st.dictionaries(_FIELDS, _VALUES, max_size=6)


def _yaml(sources: list[dict[str, str]]) -> str:
    lines = ["sources:"]
    for source in sources:
        lines.append("  -" if source else "  - {}")
        lines.extend(f"    {key}: {value}" for key, value in source.items())
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.lists(_SOURCE, max_size=4))
def test_any_sources_file_loads_or_names_file_and_line_of_each_problem(sources: list[dict[str, str]], tmp_path: Path) -> None:
    check_sources(_yaml(sources).encode("utf-8"), tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_sources_file_name_file_and_line(data: bytes, tmp_path: Path) -> None:
    check_sources(data, tmp_path)
