"""The nvsforge module's own API: make_image, read_image, and no leaks."""
import os
import subprocess

import pytest
from conftest import copy_inputs, expected, load_case

import nvsforge

GOOD = b'key,type,encoding,value\nns,namespace,,\nsn,data,string,SN-0001\n' \
       b'mac,data,hex2bin,a0b1c2d3e4f5\nn,data,u32,7\n'


def resident_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def test_make_image_matches_the_command(in_tmp):
    """make_image of a case's CSV is the case's expected image."""
    name = 'nvs_101_010'
    copy_inputs(name, in_tmp)
    text = (in_tmp / 'in.csv').read_bytes()
    assert nvsforge.make_image(text, 0x3000) == expected(name, 'out.bin')
    assert nvsforge.make_image(text.decode('utf-8'), 0x3000, version=2) == \
        expected(name, 'out.bin')


def test_make_image_encrypted(in_tmp):
    name = 'nvs_101_018'  # encrypt --inputkey key.bin, 0x7000
    case = load_case(name)
    assert case['argv'][1] == 'encrypt'
    copy_inputs(name, in_tmp)
    key_file = (in_tmp / 'key.bin').read_bytes()
    text = (in_tmp / 'in.csv').read_bytes()
    assert nvsforge.make_image(text, 0x7000, key=key_file) == expected(name, 'out.bin')
    assert nvsforge.make_image(text, 0x7000, key=key_file[:64]) == expected(name, 'out.bin')
    plain = nvsforge.make_image(text, 0x7000)
    assert nvsforge.read_image(expected(name, 'out.bin'), key_file) == nvsforge.read_image(plain)


def test_rows_and_read_back():
    rows = [('storage', 'namespace', '', ''),
            ('u', 'data', 'u32', '4000000000'),
            ('i', 'data', 'i8', '-5'),
            ('s', 'data', 'string', 'héllo'),
            ('h', 'data', 'hex2bin', 'deadbeef'),
            ('b', 'data', 'base64', 'AAEC'),
            ('other', 'namespace', '', ''),
            ('u', 'data', 'u8', '1')]
    image = nvsforge.make_image(rows, 0x4000, version=1)
    assert len(image) == 0x4000
    assert [(i['namespace'], i['key'], i['type'], i['value'])
            for i in nvsforge.read_image(image)] == [
        ('storage', 'u', 'u32', 4000000000), ('storage', 'i', 'i8', -5),
        ('storage', 's', 'string', 'héllo'), ('storage', 'h', 'blob', b'\xde\xad\xbe\xef'),
        ('storage', 'b', 'blob', b'\x00\x01\x02'), ('other', 'u', 'u8', 1)]


def test_errors_name_the_row_and_key():
    with pytest.raises(nvsforge.Error) as e:
        nvsforge.make_image('key,type,encoding,value\nns,namespace,,\nk,data,u8,256\n', 0x3000)
    assert e.value.code == nvsforge.E_RANGE
    assert str(e.value) == "<csv>:3: key 'k': value 256 is out of range for u8 (0..255)"
    with pytest.raises(nvsforge.Error) as e:
        nvsforge.make_image([('ns', 'namespace', '', '')] +
                            [('k%d' % i, 'data', 'u8', '1') for i in range(300)], 0x3000)
    assert e.value.code == nvsforge.E_FULL
    with pytest.raises(nvsforge.Error) as e:
        nvsforge.make_image([('ns', 'namespace', '', ''), ('k', 'data', 'u8', '1'),
                             ('k', 'data', 'u8', '2')], 0x3000)
    assert e.value.code == nvsforge.E_INPUT and "key 'k'" in e.value.message


def test_no_temporary_files(in_tmp):
    """make_image writes nothing: callers no longer need a temporary CSV."""
    nvsforge.make_image(GOOD, 0x6000)
    assert list(in_tmp.iterdir()) == []


def test_no_leak_over_100000_calls():
    """100 000 make_image calls, a tenth of them refused and a tenth
    encrypted, do not grow the process."""
    bad = b'key,type,encoding,value\nns,namespace,,\nn,data,u8,300\n'
    key = bytes(range(64))

    def calls(n):
        for i in range(n):
            if i % 10 == 0:
                with pytest.raises(nvsforge.Error):
                    nvsforge.make_image(bad, 0x3000)
            elif i % 10 == 1:
                nvsforge.make_image(GOOD, 0x3000, key=key)
            else:
                nvsforge.make_image(GOOD, 0x3000)
    calls(5000)  # allocator and interpreter caches settle
    before = resident_bytes()
    calls(100000)
    grown = resident_bytes() - before
    # A leak of 64 bytes a call would be 6.4 MB.
    assert grown < 2 * 1024 * 1024, grown


def test_version_matches_the_library():
    cli = subprocess.run([os.path.join(os.environ['NVSF_BIN'], 'nvsforge'), '--version'],
                         capture_output=True, text=True)
    assert cli.stdout == 'nvsforge %s\n' % nvsforge.__version__


def test_float_and_double():
    """ESP-IDF v6.1's float and double items, written and read back."""
    image = nvsforge.make_image([('ns', 'namespace', '', ''), ('f', 'data', 'float', '1.5'),
                                 ('d', 'data', 'double', '-0.1')], 0x3000)
    assert [(i['key'], i['type'], i['value']) for i in nvsforge.read_image(image)] == [
        ('f', 'float', 1.5), ('d', 'double', -0.1)]


def test_wrong_key_is_refused():
    key = bytes(range(64))
    image = nvsforge.make_image(GOOD, 0x3000, key=key)
    assert [i['key'] for i in nvsforge.read_image(image, key)] == ['sn', 'mac', 'n']
    with pytest.raises(nvsforge.Error) as e:
        nvsforge.read_image(image, bytes(64))
    assert e.value.code == nvsforge.E_KEY


def test_apply_changes_as_the_device_would():
    key = bytes(range(64))
    image = nvsforge.make_image(GOOD, 0x4000, key=key)
    changed = nvsforge.apply_changes(image, [('ns', 'namespace', '', ''),
                                             ('n', 'data', 'u32', '8'),
                                             ('mac', 'erase', '', ''),
                                             ('new', 'data', 'string', 'added')], key=key)
    assert len(changed) == len(image) and changed != image
    assert [(i['key'], i['value']) for i in nvsforge.read_image(changed, key)] == [
        ('sn', 'SN-0001'), ('n', 8), ('new', 'added')]
    # The first page keeps what did not change: the old entries are only
    # marked erased, as the device's library does.
    assert changed[64:] != image[64:] and changed[:32] == image[:32]
    with pytest.raises(nvsforge.Error) as e:
        nvsforge.apply_changes(image, 'key,type,encoding,value\nns,namespace,,\nnope,erase,,\n',
                               key=key)
    assert e.value.code == nvsforge.E_INPUT and 'nope' in e.value.message
