"""Espressif's ``esp_idf_nvs_partition_gen.nvs_partition_gen``, made by nvsforge.

The same names, arguments, return values, printed lines (through
``sys.stdout``) and exceptions as Espressif's module, for the tools that
import it (ESP-IDF's ``mfg_gen.py``, its NVS parser tests, Matter and
RainMaker factory scripts...). The images come from nvsforge's C library,
byte for byte what Espressif's generator writes.

Where Espressif's module is unsafe, nvsforge's rules hold: keys come from
the operating system's CSPRNG, key files are written owner-only and never
replaced, every output is complete or absent (written beside its name, then
renamed), and bad input is refused. A call that Espressif's module ends with
``SystemExit``, ``InputError`` or ``InsufficientSizeError`` ends with the
same here; input that it accepts wrongly or crashes on ends in
``SystemExit`` with a message.
"""
import datetime
import os
import sys
from pathlib import Path
from typing import Any, List, NoReturn, Optional, Tuple, Union

import nvsforge
from nvsforge import _native

VERSION1_PRINT = 'V1 - Multipage Blob Support Disabled'
VERSION2_PRINT = 'V2 - Multipage Blob Support Enabled'

_READ_ONLY_NOTE = ('\nMinimum partition size for read/write NVS is 0x3000 bytes. '
                   'Partitions smaller than this must be flagged as "readonly" in the '
                   'partition table CSV.')
_BIN_EXT = '.bin'


class Page(object):
    """The NVS page format's constants, under the reference module's names."""
    U8 = 0x01
    I8 = 0x11
    U16 = 0x02
    I16 = 0x12
    U32 = 0x04
    I32 = 0x14
    U64 = 0x08
    I64 = 0x18
    SZ = 0x21
    BLOB = 0x41
    BLOB_DATA = 0x42
    BLOB_IDX = 0x48

    HEADER_SIZE = 32
    BITMAPARRAY_OFFSET = 32
    BITMAPARRAY_SIZE_IN_BYTES = 32
    FIRST_ENTRY_OFFSET = 64
    SINGLE_ENTRY_SIZE = 32
    CHUNK_ANY = 0xFF
    ACTIVE = 0xFFFFFFFE
    FULL = 0xFFFFFFFC
    VERSION1 = 0xFF
    VERSION2 = 0xFE

    PAGE_PARAMS = {
        'max_size': 4096,
        'max_blob_size': {VERSION1: 1984, VERSION2: 4000},
        'max_entries': 126
    }


class PageFullError(RuntimeError):
    """A page has no room left for an entry (the reference raises it inside;
    nvsforge moves to the next page itself)."""

    def __init__(self) -> None:
        super(PageFullError, self).__init__()


class InputError(RuntimeError):
    """Input the generator refuses. Like the reference, making one prints
    an ``Error:`` line."""

    def __init__(self, e: Any) -> None:
        print('\nError:')
        super(InputError, self).__init__(e)


class InsufficientSizeError(RuntimeError):
    """The data does not fit in the partition size given."""

    def __init__(self, e: Any) -> None:
        super(InsufficientSizeError, self).__init__(e)


def _exit(message: str) -> NoReturn:
    """End as the reference ends on bad input: SystemExit, with a message."""
    raise SystemExit('Error: ' + message)


def _low_level_error(e: nvsforge.Error) -> NoReturn:
    """The reference's exception for a refusal of a low-level call."""
    if e.code == nvsforge.E_FULL:
        raise InsufficientSizeError(e.message) from None
    if e.code == nvsforge.E_INPUT:
        raise InputError(e.message) from None
    _exit(e.message)


def _value_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if value is None:  # the reference fails on it too (TypeError)
        raise TypeError('a value is needed: text, bytes or a number, not None')
    return str(value).encode('utf-8')


def _name(name: str, what: str = 'key') -> str:
    """A key or namespace name: a NUL would end it on flash, unseen."""
    if '\x00' in str(name):
        raise InputError('%s %r contains a NUL byte, which would end it' % (what, name))
    return name


def _format_version(version: Any) -> int:
    """1 or 2 from Page.VERSION1/VERSION2 (or 1/2 as given on a command line)."""
    if version in (Page.VERSION2, 2):
        return 2
    if version in (Page.VERSION1, 1, None):
        return 1  # a page header without a version byte reads as version 1
    _exit('version %r is neither Page.VERSION1 nor Page.VERSION2' % (version,))


def _xts_key(key: Any) -> bytes:
    """The reference's key argument: 64 bytes, or the key as 128 hex digits."""
    if isinstance(key, str):
        key = key.encode('ascii')
    key = bytes(key)
    if len(key) == 128:
        try:
            key = bytes.fromhex(key.decode('ascii'))
        except ValueError:
            _exit('the encryption key is neither 64 bytes nor 128 hex digits')
    if len(key) != 64:
        _exit('the encryption key is %d bytes; an NVS XTS key is 64' % len(key))
    return key


class NVS(object):
    """An NVS image being written, as the reference's NVS class: entries go
    in as they are told (a key written twice included), and the image is
    written to ``fout`` when the ``with`` block (or ``nvs_close``) ends."""

    def __init__(self, fout: Any, input_size: int, version: Any, encrypt: bool = False,
                 key_input: Any = None, read_only: bool = False) -> None:
        if not isinstance(input_size, int) or isinstance(input_size, bool):
            _exit('input_size must be the size check_size() returns first, not %r'
                  % (input_size,))
        if input_size == 0:
            raise InsufficientSizeError(
                'Error: Size parameter is less than the size of data in csv. '
                'Please increase the size.')
        if input_size < 0 or input_size % Page.PAGE_PARAMS['max_size']:
            _exit('input_size %r is not a multiple of 4096' % (input_size,))
        self.size = input_size
        self.version = version
        self.encrypt = encrypt
        self.encr_key = key_input if encrypt else None
        self.read_only = read_only
        self.fout = fout
        data_pages = input_size // Page.PAGE_PARAMS['max_size']
        # A read/write partition keeps one more page erased after the data.
        total = input_size + (0 if read_only else Page.PAGE_PARAMS['max_size'])
        try:
            self._builder = _native.Builder(total, data_pages, _format_version(version),
                                            _xts_key(key_input) if encrypt else None)
        except nvsforge.Error as e:
            _low_level_error(e)
        except ValueError as e:
            _exit(str(e))
        self._image: Optional[bytes] = None

    def __enter__(self) -> 'NVS':
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # Written once: a second nvs_close must not append the image again.
        if exc_type is None and exc_value is None and self._image is None:
            self.fout.write(self._finish())

    def _finish(self) -> bytes:
        if self._image is None:
            try:
                self._image = self._builder.finish()
            except nvsforge.Error as e:
                _low_level_error(e)
        return self._image

    @property
    def namespace_idx(self) -> int:
        return self._builder.index

    @property
    def namespace_count(self) -> int:
        return self._builder.count

    def get_namespace_idx(self) -> int:
        return self._builder.index

    def set_namespace_idx_unsafe(self, idx: int) -> None:
        try:
            self._builder.select_index(idx)
        except (nvsforge.Error, OverflowError, TypeError) as e:
            _exit('namespace index %r: %s' % (idx, e))

    def set_namespace_idx(self, idx: int) -> None:
        if isinstance(idx, int):
            if idx > 0 and idx <= self.namespace_count:
                self.set_namespace_idx_unsafe(idx)
            else:
                raise InputError('Namespace index out of range')
        else:
            raise InputError('Namespace index should be an integer')

    def get_namespace_count(self) -> int:
        return self._builder.count

    def write_namespace_unsafe(self, key: str) -> None:
        """Declare a namespace with a new index even if the name was
        declared before (for tests that build bad images)."""
        self._call(self._builder.namespace_new, _name(key, 'namespace'))

    def write_namespace(self, key: str) -> None:
        """Select the namespace; a name declared before keeps its index."""
        self._call(self._builder.namespace, _name(key, 'namespace'))

    def write_entry(self, key: str, value: Any, encoding: str,
                    namespace_idx: Optional[int] = None) -> None:
        """Write one value in its encoding (u8 ... i64, string, hex2bin,
        base64, binary, blob_fill(...)); a key already written is written
        again."""
        self._with_namespace(namespace_idx, self._builder.add_value, _name(key),
                             str(encoding), _value_bytes(value))

    def get_binary_data(self) -> bytearray:
        """The pages written so far (the whole image once closed)."""
        if self._image is not None:
            return bytearray(self._image)
        return bytearray(self._builder.peek(self._builder.pages_used))

    def _call(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except nvsforge.Error as e:
            _low_level_error(e)

    def _with_namespace(self, namespace_idx: Optional[int], fn: Any, *args: Any) -> None:
        if namespace_idx is None:
            self._call(fn, *args)
            return
        current = self._builder.index
        self.set_namespace_idx_unsafe(namespace_idx)
        try:
            self._call(fn, *args)
        finally:
            self._builder.select_index(current)


def nvs_open(result_obj: Any, input_size: int, version: Any = None, is_encrypt: bool = False,
             key: Any = None, read_only: bool = False) -> NVS:
    """Start an NVS image that nvs_close() writes to result_obj (any
    writable binary file object, io.BytesIO included).

    :param input_size: the first value check_size() returns
    """
    return NVS(result_obj, input_size, version, encrypt=is_encrypt, key_input=key,
               read_only=read_only)


def get_namespace_idx(nvs_instance: NVS) -> int:
    return nvs_instance.get_namespace_idx()


def set_namespace_idx_unsafe(nvs_instance: NVS, idx: int) -> None:
    nvs_instance.set_namespace_idx_unsafe(idx)


def set_namespace_idx(nvs_instance: NVS, idx: int) -> None:
    nvs_instance.set_namespace_idx(idx)


def get_namespace_count(nvs_instance: NVS) -> int:
    return nvs_instance.get_namespace_count()


def write_entry(nvs_instance: NVS, key: str, datatype: str, encoding: str, value: Any,
                namespace_idx: Optional[int] = None) -> None:
    """Write a partition-CSV row: a namespace, a data value, or a file's
    content (``datatype`` "file", ``value`` its path), with the reference's
    Wi-Fi items (sta.apinfo, sta.pmk, sta.apsw, ap.pmk_info)."""
    if datatype == 'namespace':
        nvs_instance.write_namespace(key)
        return
    if datatype != 'file':
        datatype = 'data'
    nvs_instance._with_namespace(namespace_idx, nvs_instance._builder.add_row, _name(key),
                                 datatype, str(encoding), _value_bytes(value))


def nvs_close(nvs_instance: NVS) -> None:
    """Finish the image and write it to the file object nvs_open() got."""
    nvs_instance.__exit__(None, None, None)


def _int_like_reference(text: str) -> Optional[int]:
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        return None


def check_size(size: Union[str, int]) -> Tuple[int, bool]:
    """Check a partition size; returns (the size for nvs_open, read_only).

    A read/write partition gives its size less the page NVS keeps erased;
    0x1000 and 0x2000 give themselves and ``read_only`` True, with the
    reference's note printed.
    """
    text = str(size) if isinstance(size, int) else size
    try:
        input_size = _native.parse_size(text)
    except (nvsforge.Error, TypeError) as e:
        value = _int_like_reference(text)
        if value is not None and value % 4096 != 0:
            sys.exit('Size of partition must be multiple of 4096')
        if value is not None and value < 4096:
            sys.exit('Minimum partition size for read/write NVS is 0x3000 bytes and for '
                     'read-only NVS is 0x1000 bytes.')
        _exit(str(e))
    page = Page.PAGE_PARAMS['max_size']
    if input_size - page < 2 * page:
        print(_READ_ONLY_NOTE)
        return input_size, True
    return input_size - page, False


def _make_folder(path: str, what: str) -> None:
    """Make folder `path` and its parents unless it is one; a file in the way
    ends the call with the reference's message, naming it as `what`."""
    if not os.path.isdir(path):
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            sys.exit("Error: %s `%s` path already exists and it's not a directory."
                     % (what, path))


def _folder_below(outdir: str, filepath: str) -> str:
    """The folder of <outdir>/<filepath>, with a separator at its end."""
    return os.path.join(outdir, os.path.split(filepath)[0], '')


def _is_folder_below(filedir: str, filepath: str) -> bool:
    """Whether filedir, the folder of a relative filepath under outdir,
    exists: then outdir exists too, and one stat answers for both (a
    per-device loop calls this for every file it writes)."""
    parts = filepath.replace(os.altsep, os.sep).split(os.sep) if os.altsep \
        else filepath.split(os.sep)
    return not os.path.isabs(filepath) and '..' not in parts and os.path.isdir(filedir)


def set_target_filepath(outdir: str, filepath: str) -> Tuple[str, str]:
    """<outdir>/<filepath>, folders made as needed: returns (outdir, path)."""
    outdir = os.path.expanduser(outdir)
    if filepath:
        name, ext = os.path.splitext(filepath)
        if not ext:
            filepath = name + _BIN_EXT
        elif _BIN_EXT not in ext:
            sys.exit('Error: `%s`. Only `%s` extension allowed.' % (filepath, _BIN_EXT))
    filedir = _folder_below(outdir, filepath)
    if not _is_folder_below(filedir, filepath):
        _make_folder(outdir, 'outdir')
        _make_folder(filedir, 'filedir')
    if os.path.isabs(filepath):
        if not outdir == os.getcwd():
            print('\nWarning: `%s` \n\t==> absolute path given so outdir is ignored for this file.'
                  % filepath)
        outdir = ''
    return outdir, os.path.join(outdir, '') + filepath


def _commit(files: List[Tuple[str, bytes, bool]]) -> None:
    """Write (path, data, is_key) files as the commands do: all or none,
    keys owner-only and never replacing a file, images replacing theirs."""
    try:
        _native.commit_files(files)
    except nvsforge.Error as e:
        _exit(e.message)


def _attr(args: Any, name: str, default: Any = None) -> Any:
    """An attribute the caller may leave out (SimpleNamespace callers do)."""
    return getattr(args, name, default)


def _outdir(args: Any) -> str:
    """args.outdir, or the working folder (the command line's default) when
    left out; an empty one stays empty, as the reference keeps it."""
    outdir = _attr(args, 'outdir')
    return os.getcwd() if outdir is None else outdir


def _read_file(path: str) -> bytes:
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as e:
        _exit("cannot read '%s': %s" % (path, e.strerror))


def _make_keys(args: Any) -> Tuple[str, List[Tuple[str, bytes, bool]], List[Tuple[str, str]]]:
    """The key of generate_key(): (its hex, the files to write, the lines to
    print once written)."""
    if not _attr(args, 'keyfile'):
        args.keyfile = 'keys-' + datetime.datetime.now().strftime('%m-%d_%H-%M') + _BIN_EXT
    keys_outdir = os.path.join(_outdir(args), 'keys', '')
    if not _is_folder_below(_folder_below(keys_outdir, args.keyfile), args.keyfile):
        _make_folder(keys_outdir, 'keys_outdir')
    keys_outdir, output_keyfile = set_target_filepath(keys_outdir, args.keyfile)
    files: List[Tuple[str, bytes, bool]] = []
    if _attr(args, 'key_protect_hmac'):
        if _attr(args, 'kp_hmac_keygen'):
            hmac_key = _native.random_bytes(32)
            hmac_keyfile = _attr(args, 'kp_hmac_keyfile') or 'hmac-' + args.keyfile
            files.append((set_target_filepath(keys_outdir, hmac_keyfile)[1], hmac_key, True))
        else:
            inputkey = _attr(args, 'kp_hmac_inputkey')
            if not inputkey:
                raise RuntimeError('HMAC Key input file (HMAC-based encryption scheme) missing!')
            hmac_key = _read_file(inputkey)
            if len(hmac_key) != 32:
                _exit("HMAC key file '%s' is %d bytes; an HMAC key is 32 bytes"
                      % (inputkey, len(hmac_key)))
        xts = _native.key_from_hmac(hmac_key)
    else:
        xts = _native.random_bytes(64)
    files.append((output_keyfile, _native.key_partition(xts), True))
    return xts.hex(), files, [('\nCreated encryption keys: ===> ', output_keyfile)]


def generate_key(args: Any) -> str:
    """Make an encryption key partition file under <outdir>/keys/ (and an
    HMAC key with --kp_hmac_keygen); returns the XTS key as hex."""
    key, files, lines = _make_keys(args)
    _commit(files)
    for line in lines:
        print(*line)
    return key


def _bin_ext_or_exit(path: str) -> None:
    if _BIN_EXT not in os.path.splitext(path)[1]:
        sys.exit('Error: `%s`. Only `%s` extension allowed.' % (path, _BIN_EXT))


def generate(args: Any, is_encr_enabled: bool = False, encr_key: Any = None) -> None:
    """Generate an NVS partition image from args.input (a CSV path or a list
    of them) into <args.outdir>/<args.output>, replacing it atomically."""
    input_size, read_only = check_size(args.size)
    version = _attr(args, 'version', 2)
    if version == 1:
        version = args.version = Page.VERSION1
    elif version == 2:
        version = args.version = Page.VERSION2
    if _BIN_EXT not in os.path.splitext(args.output)[1]:
        sys.exit('Error: `%s`. Only `.bin` extension allowed.' % args.output)
    args.outdir, args.output = set_target_filepath(_outdir(args), args.output)
    files: List[Tuple[str, bytes, bool]] = []
    lines: List[Tuple[str, str]] = []
    if is_encr_enabled and not encr_key:
        encr_key, files, lines = _make_keys(args)
    inputs = args.input if isinstance(args.input, list) else [args.input]
    total = input_size + (0 if read_only else Page.PAGE_PARAMS['max_size'])
    creating = ('\nCreating NVS binary with version:',
                VERSION2_PRINT if version == Page.VERSION2 else VERSION1_PRINT)
    # The reference prints this line before it reads the CSV, so a failing
    # call shows it too; but after a new key's line, which comes once the
    # key file exists.
    if not lines:
        print(*creating)
    try:
        image = _native.build_csv_files([os.fspath(i) for i in inputs], total,
                                        _format_version(version),
                                        _xts_key(encr_key) if is_encr_enabled else None)
    except nvsforge.Error as e:
        if e.code == nvsforge.E_FULL:
            raise InsufficientSizeError(e.message) from None
        _exit(e.message)
    _commit(files + [(args.output, image, False)])
    for line in lines:
        print(*line)
    if lines:
        print(*creating)
    print('\nCreated NVS binary: ===>', args.output)


def encrypt(args: Any) -> None:
    """Generate an XTS-encrypted NVS partition: with a new key (args.keygen)
    or the key file args.inputkey."""
    check_size(args.size)
    keygen, inputkey = _attr(args, 'keygen', False), _attr(args, 'inputkey')
    if keygen is False and not inputkey:
        sys.exit('Error. --keygen or --inputkey argument needed.')
    elif keygen and inputkey:
        sys.exit('Error. --keygen and --inputkey both are not allowed.')
    elif not keygen and _attr(args, 'keyfile'):
        print('\nWarning:', '--inputkey argument is given. --keyfile argument will be ignored...')
    key = None
    if inputkey:
        _bin_ext_or_exit(inputkey)
        try:
            key = _native.key_partition_read(_read_file(inputkey))
        except nvsforge.Error as e:
            _exit("'%s': %s" % (inputkey, e.message))
    generate(args, is_encr_enabled=True, encr_key=key)


def decrypt(args: Any) -> None:
    """Decrypt args.input with the key file args.key into <outdir>/<output>."""
    for path in (args.input, args.key, args.output):
        _bin_ext_or_exit(path)
    try:
        key = _native.key_partition_read(_read_file(args.key))
    except nvsforge.Error as e:
        _exit("'%s': %s" % (args.key, e.message))
    args.outdir, args.output = set_target_filepath(_outdir(args), args.output)
    data = _read_file(args.input)
    if not data or len(data) % Page.PAGE_PARAMS['max_size']:
        _exit("'%s' is %d bytes, not a whole number of 4096-byte pages: not an NVS "
              'partition image' % (args.input, len(data)))
    try:
        image = _native.image_decrypt(data, key)
    except nvsforge.Error as e:
        _exit(e.message)
    _commit([(args.output, image, False)])
    print('\nCreated NVS decrypted binary: ===>', args.output)


def main() -> None:
    """The nvs_partition_gen command line (nvsforge's, with its options and
    messages), on sys.argv. Returns on success, raises SystemExit otherwise."""
    sys.stdout.flush()
    sys.stderr.flush()
    rc = _native.partition_main(['nvs_partition_gen'] + sys.argv[1:])
    if rc:
        raise SystemExit(rc)


if __name__ == '__main__':
    main()
