"""stackswitch.wasm.binary: the Reader both the component decoder and asyncify's checks use.

LEB128 limits as the core spec sets them, names, vectors, the preamble and
section framing; every error names its offset in the whole binary, which
never exceeds the binary's length.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackswitch.wasm.binary import (
    COMPONENT_LAYER,
    COMPONENT_VERSION,
    DecodeError,
    Reader,
    core_section_label,
    encode_name,
    encode_section,
    encode_uleb,
    iter_sections,
    read_preamble,
    read_section,
)

CORE_PREAMBLE = b"\x00asm\x01\x00\x00\x00"


# -- LEB128 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "encoded", "value"),
    [
        ("u32", b"\x00", 0),
        ("u32", b"\xe5\x8e\x26", 624485),
        ("u32", b"\xff\xff\xff\xff\x0f", 2**32 - 1),
        ("u32", b"\x80\x80\x80\x80\x00", 0),  # padded but within 5 bytes
        ("s32", b"\x7f", -1),
        ("s32", b"\x80\x80\x80\x80\x78", -(2**31)),
        ("s32", b"\xff\xff\xff\xff\x07", 2**31 - 1),
        ("s33", b"\xff\xff\xff\xff\x0f", 2**32 - 1),
        ("s33", b"\x80\x80\x80\x80\x70", -(2**32)),
        ("u64", b"\xff" * 9 + b"\x01", 2**64 - 1),
        ("s64", b"\x80" * 9 + b"\x7f", -(2**63)),
        ("s64", b"\xff" * 9 + b"\x00", 2**63 - 1),
    ],
)
def test_leb128_values(method: str, encoded: bytes, value: int) -> None:
    r = Reader(encoded)
    assert getattr(r, method)() == value
    assert r.at_end()


@pytest.mark.parametrize(
    ("method", "encoded", "message"),
    [
        ("u32", b"\xff\xff\xff\xff\x1f", "integer too large for u32"),
        ("u32", b"\x80\x80\x80\x80\x80\x00", "integer representation too long for u32"),
        ("s32", b"\xff\xff\xff\xff\x4f", "integer too large for s32"),
        ("s32", b"\x80\x80\x80\x80\x08", "integer too large for s32"),
        ("s33", b"\x80\x80\x80\x80\x20", "integer too large for s33"),
        ("u64", b"\xff" * 9 + b"\x02", "integer too large for u64"),
        ("s64", b"\xff" * 9 + b"\x01", "integer too large for s64"),
        ("u32", b"\x80\x80", "unexpected end of input"),
    ],
)
def test_leb128_limits(method: str, encoded: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        getattr(Reader(encoded), method)()
    assert info.value.offset <= len(encoded)


def test_a_bad_leb_is_reported_where_it_starts_not_where_it_was_noticed() -> None:
    data = b"\x01\x02" + b"\xff\xff\xff\xff\x1f"
    r = Reader(data, 2)
    with pytest.raises(DecodeError) as info:
        r.u32()
    assert info.value.offset == 2
    assert str(info.value) == "offset 0x2: integer too large for u32"


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_encoded_ulebs_read_back(n: int) -> None:
    encoded = encode_uleb(n)
    r = Reader(encoded)
    assert r.u64() == n and r.at_end()
    assert len(encoded) == max(1, -(-n.bit_length() // 7))


def test_a_negative_number_has_no_unsigned_leb() -> None:
    with pytest.raises(ValueError, match="-1"):
        encode_uleb(-1)


# -- names, vectors, windows ------------------------------------------------------------


def test_names_and_vectors() -> None:
    assert Reader(encode_name("héllo")).name() == "héllo"
    with pytest.raises(DecodeError, match="malformed UTF-8") as info:
        Reader(b"\x03ab\xff").name()
    assert info.value.offset == 3
    with pytest.raises(DecodeError, match="unexpected end"):
        Reader(b"\x05ab").name()
    # A forged count is refused before anything is built.
    with pytest.raises(DecodeError, match="count 4294967295 exceeds the 2 byte"):
        Reader(b"\xff\xff\xff\xff\x0f\x00\x00").vec(lambda: None, "things")


def test_a_sub_window_reports_offsets_in_the_whole_binary_and_stops_at_its_end() -> None:
    r = Reader(b"\x10\x11\x12\x13\x14\x15", 1)
    window = r.sub(3, "the window")
    assert r.pos == 4 and window.take(2) == b"\x11\x12"
    with pytest.raises(DecodeError) as info:
        window.take(2)
    assert info.value.offset == 3
    assert "unexpected end of the window: need 2 byte(s), 1 left" in str(info.value)


def test_flags_and_unknown_bytes() -> None:
    assert Reader(b"\x01").flag("async?") is True
    with pytest.raises(DecodeError, match=r"expected async\? \(0x00 or 0x01\), found byte 0x02"):
        Reader(b"\x02").flag("async?")
    r = Reader(b"\x00\x7a")
    r.pos = 2
    with pytest.raises(DecodeError, match="expected a sort, found byte 0x7a") as info:
        r.bad_byte(0x7A, "a sort")
    assert info.value.offset == 1


# -- the preamble -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"", "unexpected end of input: an 8-byte preamble needs 8 more", 0),
        (b"\x00as", "an 8-byte preamble needs 5 more", 0),
        (b"junk", "not a WebAssembly binary", 0),
        (b"\x7fELF\x01\x00\x00\x00", "not a WebAssembly binary", 0),
    ],
)
def test_a_bad_preamble(data: bytes, message: str, offset: int) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        read_preamble(Reader(data))
    assert info.value.offset == offset


def test_the_preamble_gives_version_and_layer() -> None:
    r = Reader(CORE_PREAMBLE)
    assert read_preamble(r) == (1, 0) and r.at_end()
    component = b"\x00asm" + bytes([COMPONENT_VERSION, 0, COMPONENT_LAYER, 0])
    assert read_preamble(Reader(component)) == (COMPONENT_VERSION, COMPONENT_LAYER)


# -- sections ---------------------------------------------------------------------------


def test_sections_are_framed_with_their_offsets() -> None:
    memory = encode_section(5, b"\x01\x00\x01")
    custom = encode_section(0, encode_name("x") + b"data")
    data = CORE_PREAMBLE + memory + custom
    r = Reader(data)
    read_preamble(r)
    first, second = iter_sections(r)
    assert (first.id, first.start, first.content_start, first.size) == (5, 8, 10, 3)
    assert first.raw == memory and first.end == 13
    assert first.label == "memory section at 0x8"
    assert first.body.u32() == 1
    assert second.raw == custom and second.body.name() == "x"
    assert r.at_end()


def test_a_section_longer_than_the_binary_is_refused_at_its_start() -> None:
    data = CORE_PREAMBLE + b"\x07\x20\x00"
    r = Reader(data, 8)
    with pytest.raises(DecodeError) as info:
        read_section(r)
    assert info.value.offset == 8
    assert "export section at 0x8 declares 32 byte(s) but only 1 remain" in str(info.value)


def test_reading_past_a_section_names_it() -> None:
    r = Reader(CORE_PREAMBLE + encode_section(2, b"\x05"), 8)
    section = read_section(r)
    section.body.u32()
    with pytest.raises(DecodeError, match=r"unexpected end of import section at 0x8 "
                                          r"\(declared size 1\)") as info:
        section.body.byte()
    assert info.value.offset == 11


def test_expect_end_refuses_unread_content() -> None:
    section = read_section(Reader(encode_section(1, b"\x00\x00")))
    section.body.byte()
    with pytest.raises(DecodeError, match="type section at 0x0 declares 2 byte"
                                          "s?.* but its content ends after 1") as info:
        section.expect_end()
    assert info.value.offset == 3


def test_the_label_may_refuse_an_id_before_the_size_is_read() -> None:
    r = Reader(b"\x2a\xff")

    def label(section_id: int) -> str:
        r.bad_byte(section_id, "a known section id")

    with pytest.raises(DecodeError, match="found byte 0x2a") as info:
        read_section(r, label)
    assert info.value.offset == 0


def test_core_section_labels() -> None:
    assert core_section_label(12) == "data count section"
    assert core_section_label(13) == "tag section"
    assert core_section_label(99) == "section 99"
