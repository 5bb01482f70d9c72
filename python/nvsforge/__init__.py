"""nvsforge for Python: ESP-IDF NVS partition images made by nvsforge's C library.

    >>> import nvsforge
    >>> image = nvsforge.make_image([('storage', 'namespace', '', ''),
    ...                              ('serial', 'data', 'string', 'SN-0001')], 0x3000)
    >>> [(i['namespace'], i['key'], i['value']) for i in nvsforge.read_image(image)]
    [('storage', 'serial', 'SN-0001')]

Every function raises :class:`nvsforge.Error` for input nvsforge refuses; its
``code`` says what kind of problem it is (``nvsforge.E_INPUT``, ``E_RANGE``,
``E_FULL``, ``E_IO``, ``E_FORMAT``...) and ``message`` names the row and key.
"""
import csv
import io
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _native

__all__ = ['Error', 'MfgResult', 'apply_changes', 'make_image', 'mfg_generate', 'read_image', 'version', 'E_INPUT',
           'E_RANGE', 'E_FULL', 'E_IO', 'E_FORMAT', 'E_KEY']

__version__: str = _native.VERSION

E_INPUT: int = _native.E_INPUT
E_RANGE: int = _native.E_RANGE
E_FULL: int = _native.E_FULL
E_IO: int = _native.E_IO
E_FORMAT: int = _native.E_FORMAT
E_KEY: int = _native.E_KEY

Row = Sequence[Union[str, bytes]]


class Error(Exception):
    """Input, an image or a key that nvsforge refuses.

    ``code`` is the library's status (``E_INPUT``, ``E_RANGE``, ``E_FULL``,
    ``E_IO``, ``E_FORMAT``, ``E_KEY`` for a key that does not fit an image...); ``message`` is one line that names what is
    wrong (file, line and key where there are some).
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


_native.set_error_class(Error)


def version() -> str:
    """The nvsforge version the package was built from."""
    return _native.VERSION


def _key_bytes(key: Optional[bytes]) -> Optional[bytes]:
    """An XTS key (64 bytes) from raw bytes or a key partition file's bytes."""
    if key is None:
        return None
    key = bytes(key)
    if len(key) == 64:
        return key
    return _native.key_partition_read(key)


def _csv_bytes(rows_or_csv_text: Union[str, bytes, Iterable[Row]]) -> bytes:
    """A partition CSV as UTF-8 bytes, from its text or from its rows."""
    if isinstance(rows_or_csv_text, str):
        return rows_or_csv_text.encode('utf-8')
    if isinstance(rows_or_csv_text, (bytes, bytearray, memoryview)):
        return bytes(rows_or_csv_text)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(['key', 'type', 'encoding', 'value'])
    for row in rows_or_csv_text:
        writer.writerow([c.decode('utf-8') if isinstance(c, bytes) else c for c in row])
    return out.getvalue().encode('utf-8')


def make_image(rows_or_csv_text: Union[str, bytes, Iterable[Row]], size: int,
               version: int = 2, key: Optional[bytes] = None) -> bytes:
    """Build an NVS partition image in memory, with no file written.

    :param rows_or_csv_text: a partition CSV (``key,type,encoding,value``
        header, as ``str`` or UTF-8 ``bytes``), or its rows as tuples
        ``(key, type, encoding, value)`` without the header.
        ``file`` rows name files relative to the working folder.
    :param size: partition size in bytes (a multiple of 4096; 0x1000 and
        0x2000 make read-only partitions).
    :param version: NVS format version, 1 (single-page blobs) or 2.
    :param key: encrypt with this XTS key: 64 bytes, or the bytes of a key
        partition file (``keys/*.bin``).
    :returns: the image, exactly ``size`` bytes, as ``nvs_partition_gen``
        writes it.
    :raises Error: for a row or value nvsforge refuses, or data that does not
        fit (``code == E_FULL``).
    """
    text = _csv_bytes(rows_or_csv_text)
    return _native.build_csv_text('<csv>', text, int(size), int(version), _key_bytes(key))


def read_image(data: bytes, key: Optional[bytes] = None) -> List[Dict[str, Any]]:
    """The items an NVS partition image holds, as ESP-IDF reads them.

    :param data: the image (any length; an image read back from a device too).
    :param key: for an encrypted image, its XTS key (64 bytes) or key file bytes.
    :returns: one dict per item, in on-flash order, with ``namespace``,
        ``namespace_index``, ``key``, ``type`` (``u8`` ... ``i64``,
        ``float``, ``double``, ``string``, ``blob``), ``value`` (``int``,
        ``float``, ``str`` (``bytes`` if not UTF-8) or ``bytes``), ``page``
        and ``entry``: what ``nvsforge dump`` lists.
    :raises Error: ``code == E_KEY`` when the key does not fit the image.
    """
    _version, items, _problems = _native.read_image(bytes(data), _key_bytes(key))
    return items



def apply_changes(data: bytes, rows_or_csv_text: Union[str, bytes, Iterable[Row]],
                  key: Optional[bytes] = None) -> bytes:
    """Change an existing image the way the device's own NVS library would.

    The changes are a partition CSV (or its rows, as for :func:`make_image`):
    ``data`` and ``file`` rows set their key (a new value goes into the
    active page, the old one is erased; garbage collection when a page is
    needed), a row ``key,erase,,`` erases the key, and ``ns,namespace,erase,``
    every item of the namespace: what ``nvsforge apply`` does.

    :param data: the image (plain, or encrypted with ``key``).
    :param key: the XTS key (64 bytes or key file bytes) of an encrypted
        image; written entries are encrypted with it.
    :returns: the changed image, the same size; ``data`` is not changed.
    :raises Error: for a change refused (``E_INPUT``, ``E_FULL``...), a key
        that does not fit (``E_KEY``), or an image the device would not
        open for writing (``E_FORMAT``); nothing is applied then.
    """
    text = _csv_bytes(rows_or_csv_text)
    image, _log = _native.apply_changes(bytes(data), '<changes>', text, _key_bytes(key))
    return image

class MfgResult(NamedTuple):
    """What mfg_generate() made."""
    devices_total: int   #: device lines in the values file
    devices_made: int    #: images made (those of this shard)
    manifest: str        #: path of the manifest CSV
    warnings: List[str]  #: one line each, as ``mfg_gen`` prints them


def _size(size: Union[int, str]) -> int:
    return _native.parse_size(size if isinstance(size, str) else str(int(size)))


def _process_command_line() -> List[str]:
    """This process's command line: sys.orig_argv (Python 3.10 and later)."""
    return list(getattr(sys, 'orig_argv', [sys.executable] + sys.argv))


def mfg_generate(conf: str, values: str, prefix: str, size: Union[int, str], *,
                 outdir: str = '.', version: int = 2, fileid: Optional[str] = None,
                 prefix_num: Optional[Tuple[int, int]] = None, keygen: bool = False,
                 inputkey: Optional[str] = None, key_protect_hmac: bool = False,
                 kp_hmac_keygen: bool = False, kp_hmac_keyfile: Optional[str] = None,
                 kp_hmac_inputkey: Optional[str] = None,
                 shard: Optional[Tuple[int, int]] = None, jobs: Optional[int] = None,
                 progress: Optional[Callable[[str, int, int, bool], Any]] = None,
                 command_line: Optional[Sequence[str]] = None) -> MfgResult:
    """The manufacturing batch of ``mfg_gen generate``, for Python callers.

    From a config CSV (``key,type,encoding``, ``REPEAT`` allowed) and a
    values CSV (a line per device), writes under ``outdir`` what ESP-IDF's
    ``mfg_gen.py`` writes: ``csv/<prefix>-<id>.csv``, ``bin/<prefix>-<id>.bin``
    and, with ``keygen``, ``keys/keys-<prefix>-<id>.bin``; plus a manifest.
    The batch checks every line first, then builds the images on ``jobs``
    threads (default: every core); it is all or nothing: on any failure, or
    an exception from ``progress`` (Ctrl-C included), every file it made is
    removed. Key files are written owner-only and never replaced.

    :param size: partition size, bytes or text (``0x6000``).
    :param fileid: the values column whose value names each device's files
        (default: 1, 2, 3...).
    :param prefix_num: ``(start, digits)``: a zero-padded counter in the
        names, ``<prefix>-<counter>-<id>``.
    :param keygen: a new encryption key per device (CSPRNG); ``inputkey``:
        one key file for all. The ``kp_hmac_*`` options derive keys from an
        HMAC key, as ``mfg_gen --key_protect_hmac`` does.
    :param shard: ``(k, n)``: make only the devices i with i % n == k, to split
        a batch across machines.
    :param progress: called as ``progress(phase, done, total, final)`` with
        phase ``"checking"`` or ``"writing"``; an exception from it stops
        the batch.
    :param command_line: what ``run.json`` records as the command that made
        the run (default: this process's own, interpreter and script
        included).
    :returns: an :class:`MfgResult`.
    :raises Error: for anything the batch refuses (file, line and key named).
    """
    start, digits = prefix_num if prefix_num is not None else (-1, 0)
    if prefix_num is not None and (int(start) < 0 or not 0 <= int(digits) <= 32):
        raise ValueError('prefix_num must be (start >= 0, digits from 0 to 32)')
    shard_k, shard_n = shard if shard is not None else (0, 1)
    if not 0 <= int(shard_k) < int(shard_n):
        raise ValueError('shard must be (k, n) with 0 <= k < n')
    if jobs is None:
        jobs = min(os.cpu_count() or 1, 64)
    if not 1 <= int(jobs) <= 256:
        raise ValueError('jobs must be from 1 to 256')
    if int(version) not in (1, 2):
        raise ValueError('version must be 1 or 2')
    total, made, manifest, warnings = _native.mfg_generate(
        os.fspath(conf), os.fspath(values), prefix, _size(size),
        os.path.expanduser(os.fspath(outdir)), int(version), fileid, int(start), int(digits),
        int(shard_k), int(shard_n), int(jobs), bool(keygen),
        None if inputkey is None else os.fspath(inputkey), bool(key_protect_hmac),
        bool(kp_hmac_keygen), kp_hmac_keyfile,
        None if kp_hmac_inputkey is None else os.fspath(kp_hmac_inputkey), progress,
        [os.fsdecode(word) for word in (_process_command_line() if command_line is None
                                        else command_line)])
    return MfgResult(total, made, manifest, warnings)
