"""Reader for ONNX models: recognised by a ModelProto's leading fields, read with a bounded
protobuf walk (the ``onnx`` package is not needed) that records every tensor whose data lives in
an external file, and where that file is said to be.

ModelProto fields walked: graph (7), training_info (20: initialization 1, algorithm 2) and
functions (25: node 7). In a GraphProto: node (1), initializer (5), sparse_initializer (15:
values 1, indices 2). In a NodeProto: attribute (5), whose AttributeProto holds tensors (t 5,
tensors 10, sparse_tensor 22, sparse_tensors 23) and subgraphs (g 6, graphs 11). In a
TensorProto: name (8), external_data (13: StringStringEntryProto key 1, value 2) and
data_location (14, 1 = EXTERNAL).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

from .bytestream import ByteReader, TruncatedError
from .core import ReadContext
from .protobuf import LEN, VARINT, Field, WireError, WireReader, expect_message

# Field tags a serialized onnx.ModelProto starts with after ir_version (field 1, varint).
_ONNX_SECOND_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xCA}

#: Subgraphs (If/Loop/Scan bodies) nested deeper than this are not read (a problem is recorded).
MAX_GRAPH_DEPTH = 32
#: Tensor names and external-data values longer than this are cut in reports.
MAX_STRING = 4096
DATA_LOCATION_EXTERNAL = 1


@dataclass(frozen=True)
class ExternalTensor:
    """A tensor whose data ``location`` is a file outside the model (None: no location given).
    A tensor with several ``location`` entries is recorded once for each."""

    where: str
    name: str
    location: str | None


@dataclass
class OnnxModel:
    """What the walk of one ONNX model found."""

    where: str
    ir_version: int = 0
    tensors: int = 0
    external: list[ExternalTensor] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_DRIVE = re.compile(r"\A[A-Za-z]:")


def location_problem(location: str) -> str | None:
    """Why an external-data location does not name a file inside the model's folder (None: it
    does, as far as the text goes). onnx joins it to the model's folder as given, on any OS, so
    both ``/`` and ``\\`` count as separators."""
    if not location:
        return "is empty"
    if "\x00" in location:
        return "contains a NUL byte"
    if location.startswith(("/", "\\")) or _DRIVE.match(location):
        return "is an absolute path"
    if location.startswith("~"):
        return "starts with '~' (a home directory)"
    depth = 0
    for part in re.split(r"[/\\]", location):
        if part == "..":
            depth -= 1
            if depth < 0:
                return "has '..' segments that escape the model folder"
        elif part not in ("", "."):
            depth += 1
    return None


class OnnxReader:
    """ONNX models are protobuf (no magic): recognised by a ModelProto's leading fields."""

    name = "onnx"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        if len(head) < 4 or head[0] != 0x08:
            return False
        position = 1
        version = 0
        shift = 0
        while position < len(head) and position < 6:
            byte = head[position]
            version |= (byte & 0x7F) << shift
            position += 1
            shift += 7
            if not byte & 0x80:
                break
        else:
            return False
        return 1 <= version <= 32 and position < len(head) and head[position] in _ONNX_SECOND_TAGS

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        model = read_onnx(ByteReader(raw, size=size), size, ctx.where)
        ctx.add_detail("onnx", model)


def read_onnx(reader: ByteReader, size: int | None, where: str = "") -> OnnxModel:
    """Walk a serialized ModelProto; malformed or oversized input becomes a problem."""
    model = OnnxModel(where)
    walk = _Walk(WireReader(reader), model)
    try:
        for item in walk.wire.fields(size):
            if item.number == 1 and item.wire_type == VARINT:
                model.ir_version = item.value
            elif item.number == 7:
                walk.graph(item, "graph", 0)
            elif item.number == 20:
                expect_message(item)
                for part in walk.wire.fields(item.end):
                    if part.number in (1, 2):
                        label = "initialization" if part.number == 1 else "algorithm"
                        walk.graph(part, f"training_info > {label}", 0)
            elif item.number == 25:
                expect_message(item)
                for part in walk.wire.fields(item.end):
                    if part.number == 7:
                        walk.node(part, "functions", 0)
    except (WireError, TruncatedError) as exc:
        model.problems.append(f"not a readable ONNX model: {exc}")
    return model


class _Walk:
    def __init__(self, wire: WireReader, model: OnnxModel) -> None:
        self.wire = wire
        self.model = model

    def graph(self, item: Field, where: str, depth: int) -> None:
        expect_message(item)
        if depth > MAX_GRAPH_DEPTH:
            raise WireError(f"subgraphs nested deeper than {MAX_GRAPH_DEPTH} levels")
        for part in self.wire.fields(item.end):
            if part.number == 5:
                self.tensor(part, f"{where} > initializer")
            elif part.number == 15:
                self.sparse(part, f"{where} > sparse_initializer")
            elif part.number == 1:
                self.node(part, where, depth)

    def node(self, item: Field, where: str, depth: int) -> None:
        expect_message(item)
        name = ""
        for part in self.wire.fields(item.end):
            if part.number == 3 and part.wire_type == LEN:
                name = self.wire.text(part, MAX_STRING)
            elif part.number == 5:
                self.attribute(part, f"{where} > node {name!r}" if name else f"{where} > node", depth)

    def attribute(self, item: Field, where: str, depth: int) -> None:
        expect_message(item)
        for part in self.wire.fields(item.end):
            if part.number in (5, 10):
                self.tensor(part, f"{where} > attribute")
            elif part.number in (22, 23):
                self.sparse(part, f"{where} > attribute")
            elif part.number in (6, 11):
                self.graph(part, f"{where} > subgraph", depth + 1)

    def sparse(self, item: Field, where: str) -> None:
        expect_message(item)
        for part in self.wire.fields(item.end):
            if part.number in (1, 2):
                self.tensor(part, where)

    def tensor(self, item: Field, where: str) -> None:
        expect_message(item)
        self.model.tensors += 1
        name = ""
        locations: list[str] = []
        external = False
        for part in self.wire.fields(item.end):
            if part.number == 8 and part.wire_type == LEN:
                name = self.wire.text(part, MAX_STRING)
            elif part.number == 14 and part.wire_type == VARINT:
                external = part.value == DATA_LOCATION_EXTERNAL
            elif part.number == 13:
                expect_message(part)
                external = True
                key, value = "", ""
                for entry in self.wire.fields(part.end):
                    if entry.number == 1 and entry.wire_type == LEN:
                        key = self.wire.text(entry, MAX_STRING)
                    elif entry.number == 2 and entry.wire_type == LEN:
                        value = self.wire.text(entry, MAX_STRING)
                if key == "location":
                    locations.append(value)
        if external:
            found: list[str | None] = [*locations] if locations else [None]
            for location in found:
                self.model.external.append(ExternalTensor(where, name, location))
