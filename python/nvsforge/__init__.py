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
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from . import _native

__all__ = ['Error', 'make_image', 'read_image', 'version', 'E_INPUT', 'E_RANGE',
           'E_FULL', 'E_IO', 'E_FORMAT']

__version__: str = _native.VERSION

E_INPUT: int = _native.E_INPUT
E_RANGE: int = _native.E_RANGE
E_FULL: int = _native.E_FULL
E_IO: int = _native.E_IO
E_FORMAT: int = _native.E_FORMAT

Row = Sequence[Union[str, bytes]]


class Error(Exception):
    """Input, an image or a key that nvsforge refuses.

    ``code`` is the library's status (``E_INPUT``, ``E_RANGE``, ``E_FULL``,
    ``E_IO``, ``E_FORMAT``...); ``message`` is one line that names what is
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


def _rows_csv(rows: Iterable[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(['key', 'type', 'encoding', 'value'])
    for row in rows:
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
    if isinstance(rows_or_csv_text, str):
        text = rows_or_csv_text.encode('utf-8')
    elif isinstance(rows_or_csv_text, (bytes, bytearray, memoryview)):
        text = bytes(rows_or_csv_text)
    else:
        text = _rows_csv(rows_or_csv_text)
    return _native.build_csv_text('<csv>', text, int(size), int(version), _key_bytes(key))


def read_image(data: bytes, key: Optional[bytes] = None) -> List[Dict[str, Any]]:
    """The items an NVS partition image holds, as ESP-IDF reads them.

    :param data: the image (any length; an image read back from a device too).
    :param key: for an encrypted image, its XTS key (64 bytes) or key file bytes.
    :returns: one dict per item, in on-flash order, with ``namespace``,
        ``namespace_index``, ``key``, ``type`` (``u8`` ... ``i64``,
        ``string``, ``blob``), ``value`` (``int``, ``str`` (``bytes`` if not
        UTF-8) or ``bytes``), ``page`` and ``entry``: what ``nvsforge dump``
        lists.
    """
    _version, items, _problems = _native.read_image(bytes(data), _key_bytes(key))
    return items
