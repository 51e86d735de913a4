"""The source names: what the ingest sources write is the one list the schema, the filters and the CLI use."""

from __future__ import annotations

from photoseek.cli import build_parser
from photoseek.ingest.sources import folder, unsplash
from photoseek.retrieval.filters import WHERE_KEYS
from photoseek.retrieval.schema import FIELDS, SOURCES


def test_the_sources_write_exactly_the_schema_source_names() -> None:
    assert sorted(SOURCES) == sorted({unsplash.SOURCE, folder.SOURCE})


def test_the_descriptions_and_the_cli_name_every_source() -> None:
    source_field = next(field for field in FIELDS if field.path == "source")
    search = next(a for a in build_parser()._actions if a.dest == "command").choices["search"]
    option = next(a for a in search._actions if a.dest == "source")
    assert list(option.choices) == list(SOURCES)
    for name in SOURCES:
        assert repr(name) in source_field.description and repr(name) in WHERE_KEYS["source"].help
        assert name in search.format_help()
        assert name in option.choices
    assert "elsewhere" not in option.choices
