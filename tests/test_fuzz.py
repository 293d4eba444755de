"""Property-based fuzzing of every door hostile bytes can come through: CSV files of every
adapter's layout (ingested into a real workspace), XML, zip archives, mapping and definition YAML.
Any input must end in success or an svduty error, never another exception. The inputs that once
crashed the coverage-guided fuzzer (`svduty bench fuzz`) are replayed from tests/fuzz-corpus/."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svduty.fuzz import PARTNER_ROWS, TARGETS, FuzzTarget, replay, seeds
from svduty.sources import adapters

CORPUS = Path(__file__).parent / "fuzz-corpus"
FAST = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def runners(tmp_path_factory) -> dict[str, FuzzTarget]:
    root = tmp_path_factory.mktemp("fuzz")
    made = {target: FuzzTarget(root / target) for target in TARGETS}
    yield made
    for runner in made.values():
        runner.close()


HEADERS = [
    [c.strip() for c in adapter.expected_headers()[0].replace(" [, CSP Name]", "").split(",")]
    for adapter in adapters().values()
] + [header for header, _ in PARTNER_ROWS]
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "2025-01", "8N", "-2.1", "52.4", "E01009160", "Y", '"', ",", "\r\n"]),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A header of some adapter, sometimes with a column renamed or an extra column (empty,
    repeated, or repeated in other letter case), then rows of text with quotes, separators and
    line breaks, or bytes that are not text at all."""
    header = list(draw(st.sampled_from(HEADERS)))
    index = draw(st.integers(0, len(header) - 1))
    variant = draw(st.sampled_from(["", header[index].upper(), header[index], " "]))
    change = draw(st.sampled_from(["none", "rename", "add"]))
    if change == "rename":
        header[index] = variant
    elif change == "add":
        header.insert(draw(st.integers(0, len(header))), variant)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 6))):
        width = len(header) + draw(st.integers(-2, 2))
        writer.writerow(draw(st.lists(cells, min_size=max(width, 0), max_size=max(width, 0))))
    data = buffer.getvalue().encode()
    for _ in range(draw(st.integers(0, 3))):  # a stray quote, carriage return, byte ...
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b'"', b"\r", b",", b"\n", b"\xff", b"\x00"]))
            + data[at:]
        )
    return data + draw(st.binary(max_size=8))


@FAST
@given(data=st.one_of(csv_files(), st.binary(max_size=200)))
def test_any_csv_file_is_ingested_or_refused_cleanly(runners, data):
    runners["csv"].run("csv", data)


@st.composite
def xml_files(draw: st.DrawFn) -> bytes:
    """The seed ISTV document with a field's text replaced, or raw bytes spliced in."""
    seed = seeds("xml")[0]
    if draw(st.booleans()):
        text = draw(st.text(max_size=20)).encode("utf-8", "replace")
        return seed.replace(b"The Crown", text, 1)
    at = draw(st.integers(0, len(seed)))
    return seed[:at] + draw(st.binary(max_size=12)) + seed[at:]


@FAST
@given(data=xml_files())
def test_any_xml_file_is_ingested_or_refused_cleanly(runners, data):
    runners["xml"].run("xml", data)


names = st.one_of(
    st.sampled_from(
        ["2025-01/2025-01-west-mercia-street.csv", "../x.csv", "/etc/x.csv", "C:\\x.csv", "a.csv"]
    ),
    st.text(min_size=1, max_size=10).map(lambda s: s.replace("\x00", "") + ".csv"),
)


@st.composite
def zip_files(draw: st.DrawFn) -> bytes:
    """A zip built member by member (any name, mode bits, compression), or a sound archive with
    bytes overwritten."""
    if draw(st.booleans()):
        seed = draw(st.sampled_from(seeds("zip")))
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for _ in range(draw(st.integers(0, 3))):
            info = zipfile.ZipInfo(draw(names) or "x.csv")
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            info.external_attr = draw(st.integers(0, 0xFFFF)) << 16
            zipped.writestr(info, draw(st.one_of(st.binary(max_size=64), csv_files())))
    return buffer.getvalue()


@settings(FAST, max_examples=40)
@pytest.mark.filterwarnings("ignore:Duplicate name")
@given(data=zip_files())
def test_any_zip_archive_is_ingested_or_refused_cleanly(runners, data):
    runners["zip"].run("zip", data)


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def yaml_files(draw: st.DrawFn) -> bytes:
    """A shipped mapping or definition with one part replaced by any YAML value, any YAML
    document, or text that is barely YAML."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        document = yaml.safe_load(draw(st.sampled_from(seeds("yaml"))))
        key = draw(st.sampled_from(sorted(document)))
        document[key] = draw(yaml_values)
        return yaml.safe_dump(document).encode()
    if choice == 1:
        return yaml.safe_dump(draw(yaml_values)).encode()
    return draw(st.text(max_size=60)).encode("utf-8", "surrogatepass")


@settings(FAST, max_examples=60)
@given(data=yaml_files())
def test_any_mapping_or_definition_file_loads_or_is_refused_cleanly(runners, data):
    runners["yaml"].run("yaml", data)


def test_inputs_that_once_crashed_the_fuzzer_now_end_cleanly(tmp_path):
    kept = [path for target in TARGETS for path in (CORPUS / target).glob("crash-*")]
    assert kept, f"no kept inputs under {CORPUS}"
    assert replay(CORPUS, tmp_path) == []
