"""Reader for TensorFlow SavedModels (``saved_model.pb``): a bounded protobuf walk of every graph
and function body that records the ops reaching files, the shell or the Python interpreter.

Fields walked: SavedModel > meta_graphs (2) > MetaGraphDef.graph_def (2) > GraphDef.node (1) and
GraphDef.library (2) > FunctionDefLibrary.function (1) > FunctionDef.signature (1: OpDef.name 1)
and FunctionDef.node_def (3); a NodeDef has name (1) and op (2). Everything else (constants,
signatures, the object graph) is skipped.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from .bytestream import ByteReader, TruncatedError
from .core import ReadContext
from .protobuf import LEN, Field, WireError, WireReader, expect_message

#: Ops that reach outside the graph's tensors, and what they do. Save/Restore ops (checkpoints)
#: are part of every SavedModel and are not listed.
UNSAFE_OPS = {
    "ReadFile": "reads any file named by a string tensor",
    "WriteFile": "writes any file named by a string tensor",
    "MatchingFiles": "lists the files matching a pattern",
    "ImmutableConst": "memory-maps a file named in its attributes",
    "PyFunc": "calls a Python function of the loading process",
    "PyFuncStateless": "calls a Python function of the loading process",
    "EagerPyFunc": "calls a Python function of the loading process",
}
MAX_NAME = 1024
#: Op occurrences kept per file (the count goes on).
MAX_RECORDED = 200


@dataclass(frozen=True)
class OpUse:
    op: str
    node: str
    where: str


@dataclass
class SavedModelGraph:
    """What the walk of one saved_model.pb found."""

    where: str
    meta_graphs: int = 0
    nodes: int = 0
    functions: int = 0
    unsafe: list[OpUse] = field(default_factory=list)
    unsafe_count: int = 0
    problems: list[str] = field(default_factory=list)


def looks_like_saved_model(head: bytes, size: int | None) -> bool:
    """SavedModel starts with saved_model_schema_version = 1 (``08 01``), then the first
    MetaGraphDef (``12 <length>``) whose first field is a message (field 1 to 7)."""
    if head[:3] != b"\x08\x01\x12":
        return False
    position, length = 3, 0
    for shift in range(0, 35, 7):
        if position >= len(head):
            return False
        byte = head[position]
        position += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    else:
        return False
    if size is not None and position + length > size:
        return False
    return length == 0 or (position < len(head) and head[position] in (0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A))


class SavedModelReader:
    """``any_content=True`` reads whatever it is given as a SavedModel (for a file named
    ``saved_model.pb`` whose first bytes are not the usual ones)."""

    name = "savedmodel"
    artifact = True

    def __init__(self, any_content: bool = False) -> None:
        self._any = any_content

    def sniff(self, head: bytes, size: int | None) -> bool:
        return self._any or looks_like_saved_model(head, size)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.add_detail("savedmodel", read_saved_model(ByteReader(raw, size=size), size, ctx.where))


def read_saved_model(reader: ByteReader, size: int | None, where: str = "") -> SavedModelGraph:
    graph = SavedModelGraph(where)
    walk = _Walk(WireReader(reader), graph)
    try:
        for item in walk.wire.fields(size):
            if item.number == 2:
                expect_message(item)
                index = graph.meta_graphs
                graph.meta_graphs += 1
                for part in walk.wire.fields(item.end):
                    if part.number == 2:
                        walk.graph_def(part, f"meta_graphs[{index}] > graph_def")
    except (WireError, TruncatedError) as exc:
        graph.problems.append(f"not a readable SavedModel: {exc}")
    return graph


class _Walk:
    def __init__(self, wire: WireReader, graph: SavedModelGraph) -> None:
        self.wire = wire
        self.graph = graph

    def graph_def(self, item: Field, where: str) -> None:
        expect_message(item)
        for part in self.wire.fields(item.end):
            if part.number == 1:
                self.node(part, where)
            elif part.number == 2:
                expect_message(part)
                for function in self.wire.fields(part.end):
                    if function.number == 1:
                        self.function(function, f"{where} > library")

    def function(self, item: Field, where: str) -> None:
        expect_message(item)
        self.graph.functions += 1
        name = ""
        uses: list[tuple[str, str]] = []
        for part in self.wire.fields(item.end):
            if part.number == 1:
                expect_message(part)
                for signature in self.wire.fields(part.end):
                    if signature.number == 1 and signature.wire_type == LEN:
                        name = self.wire.text(signature, MAX_NAME)
            elif part.number == 3:
                use = self.node_def(part)
                if use is not None:
                    uses.append(use)
        label = f"{where} > function {name!r}" if name else f"{where} > function"
        for op, node in uses:
            self.record(op, node, f"{label} > node_def")

    def node(self, item: Field, where: str) -> None:
        use = self.node_def(item)
        if use is not None:
            self.record(use[0], use[1], f"{where} > node")

    def node_def(self, item: Field) -> tuple[str, str] | None:
        expect_message(item)
        self.graph.nodes += 1
        name, op = "", ""
        for part in self.wire.fields(item.end):
            if part.number == 1 and part.wire_type == LEN:
                name = self.wire.text(part, MAX_NAME)
            elif part.number == 2 and part.wire_type == LEN:
                op = self.wire.text(part, MAX_NAME)
        return (op, name) if op in UNSAFE_OPS else None

    def record(self, op: str, node: str, where: str) -> None:
        self.graph.unsafe_count += 1
        if len(self.graph.unsafe) < MAX_RECORDED:
            self.graph.unsafe.append(OpUse(op, node, where))
