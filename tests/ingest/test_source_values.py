"""Reading single dataset values: timestamps as PostgreSQL writes them, EXIF texts, coordinate pairs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from photoseek.ingest.sources import values
from photoseek.ingest.sources.unsplash import Problems, photo_payload
from photoseek.ingest.sources.values import BadValue

INSTANT = datetime(2020, 4, 9, 18, 13, 34, 316000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2020-04-09 18:13:34.316",
        "2020-04-09T18:13:34.316",
        "2020-04-09 18:13:34.316+00",
        "2020-04-09 18:13:34.316+00:00",
        "2020-04-09 18:13:34.316 +0000",
        "2020-04-09T18:13:34.316Z",
        "2020-04-09 18:13:34.316 UTC",
        "2020-04-09 18:13:34.316 utc",
        "2020-04-09 18:13:34.316+00 UTC",
        "2020-04-09 20:13:34.316+02",
        "2020-04-09 11:13:34.316-07:00",
        " 2020-04-09 18:13:34.316000 ",
    ],
)
def test_timestamps_in_every_form_a_postgresql_export_writes_read_as_utc(text: str) -> None:
    moment = values.parse_timestamp(text)
    assert moment == INSTANT and moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("text", ["yesterday", "2020-13-01 00:00:00", "infinity", "18:13:34", ""])
def test_a_text_that_is_no_timestamp_is_a_bad_value_naming_the_column(text: str) -> None:
    row = {"photo_submitted_at": text}
    if not text:
        assert values.timestamp(row, "photo_submitted_at") is None
        return
    with pytest.raises(BadValue) as caught:
        values.timestamp(row, "photo_submitted_at")
    assert caught.value.column == "photo_submitted_at" and caught.value.reason == "not_a_timestamp"


@pytest.mark.parametrize(
    ("read", "text", "number"),
    [
        (values.aperture, "f/2.8", 2.8),
        (values.aperture, "F2.8", 2.8),
        (values.aperture, "ƒ/1.4", 1.4),
        (values.aperture, "2,8", 2.8),
        (values.aperture, "4", 4.0),
        (values.aperture, "wide open", None),
        (values.focal_length, "50 mm", 50.0),
        (values.focal_length, "50mm", 50.0),
        (values.focal_length, "35.0", 35.0),
        (values.focal_length, "24-70mm", None),
        (values.exposure_seconds, "1/250", 0.004),
        (values.exposure_seconds, "1/250 s", 0.004),
        (values.exposure_seconds, "0.5", 0.5),
        (values.exposure_seconds, '2"', 2.0),
        (values.exposure_seconds, "30 sec", 30.0),
        (values.exposure_seconds, "1/0", None),
        (values.exposure_seconds, "bulb", None),
        (values.iso, "ISO 200", 200.0),
    ],
)
def test_exif_texts_give_the_number_they_hold(read: object, text: str, number: float | None) -> None:
    assert read(text) == (pytest.approx(number) if number is not None else None)  # type: ignore[operator]


def test_exif_text_is_kept_beside_its_number_and_text_without_one_is_kept_with_a_warning() -> None:
    problems = Problems()
    payload = photo_payload(
        {"photo_id": "abc", "exif_aperture_value": "f/2.8", "exif_focal_length": "24-70mm",
         "exif_exposure_time": "1/250", "exif_iso": "0"},
        problems,
    )
    assert payload["camera"] == {
        "aperture": 2.8, "aperture_text": "f/2.8", "focal_length_text": "24-70mm",
        "exposure_time": "1/250", "exposure_seconds": 0.004,
    }, "ISO 0 is how the export writes unknown"
    assert [(p.column, p.reason) for p in problems] == [("exif_focal_length", "not_a_number")]


def test_swapped_coordinates_are_stored_swapped_and_anything_else_off_earth_is_dropped() -> None:
    def geo(lat: str, lon: str) -> tuple[object, list[tuple[str, str]]]:
        problems = Problems()
        payload = photo_payload(
            {"photo_id": "gXSFnk2a9V4", "photo_location_latitude": lat, "photo_location_longitude": lon}, problems
        )
        return payload.get("location", {}).get("geo"), [(p.column, p.reason) for p in problems]

    pair = "photo_location_latitude/photo_location_longitude"
    # unsplash/datasets#63: this photo's latitude and longitude were written the wrong way round.
    assert geo("-123.97116667", "45.4655") == ({"lat": 45.4655, "lon": -123.97116667}, [(pair, "swapped")])
    assert geo("45.4655", "-123.97116667") == ({"lat": 45.4655, "lon": -123.97116667}, [])
    assert geo("200", "300") == (None, [(pair, "out_of_range")])
    assert geo("45.1", "") == (None, [(pair, "half_pair")])
    assert geo("north", "3") == (None, [("photo_location_latitude", "not_a_number")])
    assert geo("", "") == (None, [])


def test_a_bad_value_costs_its_field_only() -> None:
    problems = Problems()
    payload = photo_payload(
        {"photo_id": "abc", "photo_width": "wide", "photo_height": "800", "photo_aspect_ratio": "1.5",
         "photo_featured": "maybe", "stats_views": "12.5", "stats_downloads": "7", "blur_hash": "LEHLe6WB2y"},
        problems,
    )
    assert payload == {"source": "unsplash", "photo_id": "abc", "height": 800, "aspect_ratio": 1.5,
                       "orientation": "landscape", "downloads": 7, "blur_hash": "LEHLe6WB2y"}
    assert sorted((p.column, p.reason) for p in problems) == [
        ("photo_featured", "not_a_flag"), ("photo_width", "not_a_number"), ("stats_views", "not_a_whole_number"),
    ]
