"""A small, bounded reader of the protobuf wire format (for ONNX models and TensorFlow SavedModels).

It knows no schema: callers walk the fields they need by number and everything else is skipped
(seeking past large payloads such as tensor data). Every length is checked against the enclosing
message, the number of fields read is capped, and any malformed input raises :class:`WireError`
(or :class:`~.bytestream.TruncatedError`), which readers turn into problems.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .bytestream import ByteReader, TruncatedError

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

#: Fields read from one file before giving up (a field costs a few microseconds).
MAX_FIELDS = 5_000_000


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class Field:
    """One field: its number and wire type; ``value`` is the integer of a VARINT/FIXED field or
    the byte length of a LEN field, whose payload ends at ``end`` (absolute offset)."""

    number: int
    wire_type: int
    value: int
    end: int


class WireReader:
    """Walks messages field by field. For a LEN field the caller may descend into it with
    :meth:`fields` (up to ``field.end``), take its bytes with :meth:`take`, or do nothing: what
    it leaves unread is skipped when the walk resumes."""

    def __init__(self, reader: ByteReader, *, max_fields: int = MAX_FIELDS) -> None:
        self.reader = reader
        self.max_fields = max_fields
        self.count = 0

    def varint(self) -> int:
        result = 0
        for shift in range(0, 70, 7):
            byte = self.reader.read_byte()
            if byte is None:
                raise TruncatedError(f"stream ends inside a varint at offset {self.reader.offset}")
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if result >> 64:
                    raise WireError(f"varint over 64 bits at offset {self.reader.offset}")
                return result
        raise WireError(f"varint longer than 10 bytes at offset {self.reader.offset}")

    def fields(self, end: int | None) -> Iterator[Field]:
        """The fields of the message that ends at ``end`` (None: at the end of the stream)."""
        reader = self.reader
        while True:
            offset = reader.offset
            if end is None:
                if reader.at_eof():
                    return
            elif offset == end:
                return
            elif offset > end:
                raise WireError(f"a field runs past the end of its message (offset {offset}, message ends at {end})")
            self.count += 1
            if self.count > self.max_fields:
                raise WireError(f"more than {self.max_fields} fields; not read to its end")
            key = self.varint()
            number, wire_type = key >> 3, key & 7
            if number == 0:
                raise WireError(f"field number 0 at offset {offset}")
            if wire_type == VARINT:
                yield Field(number, wire_type, self.varint(), reader.offset)
            elif wire_type == FIXED64:
                yield Field(number, wire_type, int.from_bytes(reader.read(8), "little"), reader.offset)
            elif wire_type == FIXED32:
                yield Field(number, wire_type, int.from_bytes(reader.read(4), "little"), reader.offset)
            elif wire_type == LEN:
                length = self.varint()
                field_end = reader.offset + length
                if end is not None and field_end > end:
                    raise WireError(
                        f"field {number} at offset {offset} is {length} bytes long, past the end of its message"
                    )
                size = reader.size
                if size is not None and field_end > size:
                    raise WireError(
                        f"field {number} at offset {offset} is {length} bytes long, past the end of the data"
                    )
                yield Field(number, wire_type, length, field_end)
                position = reader.offset
                if position < field_end:
                    reader.skip(field_end - position)
                elif position > field_end:
                    raise WireError(f"field {number} at offset {offset} was read past its end")
            else:
                raise WireError(f"unsupported wire type {wire_type} (field {number}) at offset {offset}")

    def take(self, field: Field, cap: int) -> bytes | None:
        """The payload of a LEN field, or None when it is longer than ``cap`` (then left unread)."""
        if field.wire_type != LEN:
            raise WireError(f"field {field.number} should be length-delimited, has wire type {field.wire_type}")
        if field.value > cap:
            return None
        return self.reader.read(field.value)

    def text(self, field: Field, cap: int) -> str:
        """A string field, cut to ``cap`` bytes (with a marker) when longer; invalid UTF-8 is
        shown escaped."""
        data = self.take(field, cap)
        if data is None:
            data = self.reader.read(cap)
            return data.decode("utf-8", "backslashreplace") + f"... ({field.value} bytes)"
        return data.decode("utf-8", "backslashreplace")


def expect_message(field: Field) -> None:
    """A field the schema declares as a message must be length-delimited."""
    if field.wire_type != LEN:
        raise WireError(f"field {field.number} should be a message, has wire type {field.wire_type}")
