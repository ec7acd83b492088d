"""The loaders whose reading the verdicts follow, and what each reads: one table.

A verdict answers "what would each loader run?", so the readers follow the loaders, not the
file's looks. Each line names the library code it mirrors and the reader that follows it here;
``docs/rules/no-pickle.md`` shows this table, and ``tests/formats/test_loaders.py`` proves each line
with a file the loader really runs (in a subprocess) that the plugin fails.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoaderReading:
    """One way a loader reads bytes: what it reads, the library code, and how it is followed."""

    loader: str
    reads: str
    mirrors: str
    followed_by: str


LOADER_TABLE: tuple[LoaderReading, ...] = (
    LoaderReading(
        "pickle.load / pickle.loads",
        "a pickle stream from byte 0, whatever the file looks like; stops at the first error, after "
        "running every import and call before it",
        "CPython Modules/_pickle.c (load_int: strtol base 0 then PyLong_FromString; load_inst: MARK "
        "first; load_frame: a read-ahead hint; load_persid: fails without persistent_load)",
        "core.probe_pickle on every file, member and decompressed stream; pickle.py's walker",
    ),
    LoaderReading(
        "pickle._Unpickler (Python's own: joblib.load, pandas.read_pickle's fallback)",
        "as pickle.load, except: a FRAME longer than the data is the bytes left; the line the data "
        "ends in, without a newline, is taken without its last byte (GLOBAL imports it, INST calls it); "
        "an empty global name still imports the module",
        "CPython Lib/pickle.py (_Unframer.load_frame; _Unpickler.load_global, load_inst: "
        "readline()[:-1]); joblib/numpy_pickle_utils.py (Unpickler = pickle._Unpickler)",
        "pickle.py's walker reads the superset of both unpicklers; bytestream.ByteReader.read_line (unterminated)",
    ),
    LoaderReading(
        "torch.load (zip)",
        "archive/data.pkl of a zip whose first bytes are a local header, at the central directory "
        "offset the end record gives (no shift for bytes in front)",
        "torch/serialization.py (_is_zipfile, _load); caffe2/serialize/inline_container.cc over "
        "miniz mz_zip_reader_read_central_dir",
        "archives.ZipReader (every member probed from byte 0); archives._check_end_record fails on "
        "a directory zipfile places elsewhere",
    ),
    LoaderReading(
        "torch.load (legacy)",
        "a tar with sys_info/pickle/storages/tensors members, else five consecutive pickles (magic, "
        "protocol, sys_info, the main stream with persistent ids, storage keys)",
        "torch/serialization.py (_legacy_load: tarfile.open(mode='r:'), then pickle_module.load x5)",
        "archives.TarReader (ustar and V7 headers); pickles.record_pickles reads every stream",
    ),
    LoaderReading(
        "joblib.load",
        "a pickle, raw or compressed (zlib, gzip, bz2, xz, lzma, lz4 by magic; 'ZF' files of joblib "
        "before 0.10: a hex length, then zlib), with numpy array "
        "data after each NumpyArrayWrapper BUILD: count x dtype.itemsize bytes after an optional "
        "padding byte, or a nested pickle for object arrays",
        "joblib/numpy_pickle.py (NumpyUnpickler.load_build, NumpyArrayWrapper.read_array); "
        "joblib/numpy_pickle_utils.py (_detect_compressor); joblib/numpy_pickle_compat.py (read_zfile)",
        "compression.compressed_readers; pickle.py's joblib_array (numpy's itemsize, fail closed "
        "where unknown); pickles._record_plain_readings reads the same bytes as pickle.load does",
    ),
    LoaderReading(
        "joblib.load (before 0.10)",
        "an NDArrayWrapper names a side file holding the array, opened with "
        "numpy.load(allow_pickle=True) (any pickle in it runs), anywhere on disk; a ZNDArrayWrapper "
        "a zlib side file",
        "joblib/numpy_pickle_compat.py (NDArrayWrapper.read, ZNDArrayWrapper.read)",
        "pickles.record_stream: a problem naming the wrapper (what it reads cannot be checked from "
        "the file; fails closed)",
    ),
    LoaderReading(
        "numpy.load(allow_pickle=True)",
        ".npy (object arrays: a pickle after the header), .npz (zip, by the PK magic at byte 0), "
        "and anything else as a pickle from byte 0",
        "numpy/lib/_npyio_impl.py (load); numpy/lib/format.py (read_array)",
        "numpy.NpyReader; archives.ZipReader; core.probe_pickle",
    ),
    LoaderReading(
        "pandas.read_pickle",
        "a pickle after decompression chosen by the file name (.gz, .bz2, .zip, .xz, .zst, .tar, "
        ".tar.gz ...): a zip or tar found wherever zipfile/tarfile find it (a zip behind a prefix)",
        "pandas/io/pickle.py (read_pickle); pandas/io/common.py (get_handle, infer_compression)",
        "every compressed stream and archive member is probed; core.ReadContext._zip_at_end reads a "
        "zip that ends a file, member or decompressed stream that looks like something else (or "
        "like nothing known); a stream cut short is read up to the damage, then reported",
    ),
)
