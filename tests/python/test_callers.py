"""Clients written in the style of each known caller of Espressif's module,
run unchanged against this package."""
import argparse
import contextlib
import importlib
import importlib.metadata
import io
import os
import stat
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import EXAMPLES
from packaging.version import Version

import esp_idf_nvs_partition_gen.nvs_partition_gen as nvs_partition_gen
import nvsforge

CONFIG = '''key,type,encoding,value
app,namespace,,
serial,data,string,{serial}
mac,data,hex2bin,{mac}
calib,data,u32,{calib}
'''


def items(image, key=None):
    return {(i['namespace'], i['key']): i['value'] for i in nvsforge.read_image(image, key)}


def test_version_gate():
    """ESP-IDF's parser tests skip below 0.1.9; Espressif's own is 0.2.0."""
    version = importlib.metadata.version('esp-idf-nvs-partition-gen')
    assert Version(version) >= Version('0.2.0')
    assert version == nvsforge.__version__
    assert importlib.import_module('esp_idf_nvs_partition_gen').__version__ == version


def test_import_nvs_partition_gen():
    """Scripts written for the module's old place do `import nvs_partition_gen`."""
    import nvs_partition_gen as old
    assert old is nvs_partition_gen
    assert old.generate is nvs_partition_gen.generate


def test_mfg_gen_style(in_tmp):
    """ESP-IDF's mfg_gen.py: one argparse Namespace reused for every device,
    input/output/keyfile set each time, encrypt() once per device."""
    os.mkdir('csv')
    args = argparse.Namespace(conf='c.csv', values='v.csv', size='0x6000', version=2,
                              outdir=os.getcwd(), keygen=True, inputkey=None, keyfile=None,
                              key_protect_hmac=False, kp_hmac_keygen=False,
                              kp_hmac_keyfile=None, kp_hmac_inputkey=None)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for n in range(1, 4):
            device_csv = os.path.join('csv', 'dev-%d.csv' % n)
            with open(device_csv, 'w') as f:
                f.write(CONFIG.format(serial='SN-%d' % n, mac='a0b1c2d3e4f%d' % n, calib=n))
            args.input = device_csv
            args.output = os.path.join('bin', 'dev-%d.bin' % n)
            args.keyfile = 'keys-dev-%d' % n
            nvs_partition_gen.encrypt(args)
    assert args.version == nvs_partition_gen.Page.VERSION2  # as the reference leaves it
    for n in range(1, 4):
        key_path = in_tmp / 'keys' / ('keys-dev-%d.bin' % n)
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        key = key_path.read_bytes()
        assert len(key) == 4096
        image = (in_tmp / 'bin' / ('dev-%d.bin' % n)).read_bytes()
        assert items(image, key[:64]) == {('app', 'serial'): 'SN-%d' % n,
                                          ('app', 'mac'): bytes.fromhex('a0b1c2d3e4f%d' % n),
                                          ('app', 'calib'): n}
        assert ('\nCreated encryption keys: ===>  %s\n' % key_path) in out.getvalue()
    # Each key is its own: made by the CSPRNG.
    keys = {(in_tmp / 'keys' / ('keys-dev-%d.bin' % n)).read_bytes() for n in range(1, 4)}
    assert len(keys) == 3
    # generate_key() alone returns the key as hex, as mfg_gen's keygen uses it.
    key_args = SimpleNamespace(keyfile='one.bin', outdir=os.getcwd(), key_protect_hmac=False,
                               kp_hmac_keygen=False, kp_hmac_keyfile=None,
                               kp_hmac_inputkey=None)
    with contextlib.redirect_stdout(io.StringIO()):
        hex_key = nvs_partition_gen.generate_key(key_args)
    assert (in_tmp / 'keys' / 'one.bin').read_bytes()[:64].hex() == hex_key
    # A key file is never replaced, and a refused run leaves it as it was.
    with pytest.raises(SystemExit) as e, contextlib.redirect_stdout(io.StringIO()):
        nvs_partition_gen.generate_key(key_args)
    assert 'never replaces a key' in str(e.value.code)
    assert (in_tmp / 'keys' / 'one.bin').read_bytes()[:64].hex() == hex_key


def test_esp_idf_build_style(in_tmp):
    """nvs_create_partition_image(): `python -m esp_idf_nvs_partition_gen
    generate` into the same output whenever the CSV changes; idf.py's
    secure-generate-nvs-partition-key and secure-encrypt-nvs-partition."""
    def run(*argv):
        done = subprocess.run([sys.executable, '-m', 'esp_idf_nvs_partition_gen'] + list(argv),
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done
    os.mkdir('build')
    for calib in (1, 2):  # the build runs it again whenever the CSV changes
        (in_tmp / 'part.csv').write_text(CONFIG.format(serial='SN', mac='00', calib=calib))
        run('generate', 'part.csv', 'build/part.bin', '0x3000')
        assert items((in_tmp / 'build' / 'part.bin').read_bytes())[('app', 'calib')] == calib
    run('generate-key', '--keyfile', 'nvs_key.bin', '--outdir', 'build')
    key = (in_tmp / 'build' / 'keys' / 'nvs_key.bin').read_bytes()
    run('encrypt', 'part.csv', 'enc.bin', '0x3000', '--inputkey', 'build/keys/nvs_key.bin',
        '--outdir', 'build')
    assert items((in_tmp / 'build' / 'enc.bin').read_bytes(), key[:64])[('app', 'calib')] == 2
    done = subprocess.run([sys.executable, '-m', 'esp_idf_nvs_partition_gen', '--help'],
                          capture_output=True, text=True)
    assert done.returncode == 0 and 'generate-key' in done.stdout
    # Some tools run the module itself, or the old top-level name.
    for module in ('esp_idf_nvs_partition_gen.nvs_partition_gen', 'nvs_partition_gen'):
        done = subprocess.run([sys.executable, '-m', module, 'generate', 'part.csv',
                               module + '.bin', '0x3000'], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert (in_tmp / (module + '.bin')).read_bytes() == \
            (in_tmp / 'build' / 'part.bin').read_bytes()
    # A failing run: non-zero, a message naming the line and key, no file.
    (in_tmp / 'bad.csv').write_text('key,type,encoding,value\napp,namespace,,\nk,data,i8,200\n')
    done = subprocess.run([sys.executable, '-m', 'esp_idf_nvs_partition_gen', 'generate',
                           'bad.csv', 'bad.bin', '0x3000'], capture_output=True, text=True)
    assert done.returncode != 0
    assert "bad.csv:3: key 'k'" in done.stderr
    assert not (in_tmp / 'bad.bin').exists()


def test_temporary_file_style(in_tmp):
    """Tools that make an empty temporary .bin and have generate() fill it."""
    import tempfile
    (in_tmp / 'cfg.csv').write_text(CONFIG.format(serial='T', mac='01', calib=3))
    with tempfile.NamedTemporaryFile(suffix='.bin', delete=False, dir=in_tmp) as tmp:
        tmp_path = tmp.name
    with contextlib.redirect_stdout(io.StringIO()):
        nvs_partition_gen.generate(argparse.Namespace(
            input='cfg.csv', output=os.path.basename(tmp_path), outdir=os.path.dirname(tmp_path),
            size='0x3000', version=2))
    with open(tmp_path, 'rb') as f:
        assert items(f.read())[('app', 'serial')] == 'T'


def test_parser_tests_style():
    """ESP-IDF's NVS parser tests: images with duplicates built on purpose."""
    size, read_only = nvs_partition_gen.check_size(str(0x4000))
    assert (size, read_only) == (0x3000, False)
    out = io.BytesIO()
    nvs = nvs_partition_gen.nvs_open(result_obj=out, input_size=size,
                                     version=nvs_partition_gen.Page.VERSION2,
                                     is_encrypt=False, key=None, read_only=read_only)
    nvs_partition_gen.write_entry(nvs, 'storage', 'namespace', '', '')
    nvs_partition_gen.write_entry(nvs, 'same_key', 'data', 'i32', str(42))
    nvs_partition_gen.write_entry(nvs, 'same_key', 'data', 'u32', str(24))
    nvs_partition_gen.write_entry(nvs, 'same_str', 'data', 'string', 'Hello')
    nvs_partition_gen.write_entry(nvs, 'same_str', 'data', 'string', 'world!')
    nvs.write_namespace_unsafe('storage')
    assert nvs_partition_gen.get_namespace_count(nvs) == 2
    nvs_partition_gen.write_entry(nvs, 'blob', 'file', 'binary',
                                  str(EXAMPLES / 'testdata' / 'sample_multipage_blob.bin'))
    nvs_partition_gen.write_entry(nvs, 'storage', 'namespace', '', '')  # the first index
    assert nvs_partition_gen.get_namespace_idx(nvs) == 1
    nvs_partition_gen.set_namespace_idx_unsafe(nvs, 9)
    nvs_partition_gen.write_entry(nvs, 'orphan', 'data', 'u8', '1')
    with pytest.raises(nvs_partition_gen.InputError), \
            contextlib.redirect_stdout(io.StringIO()) as printed:
        nvs_partition_gen.set_namespace_idx(nvs, 3)
    assert printed.getvalue() == '\nError:\n'
    nvs_partition_gen.nvs_close(nvs)
    image = out.getvalue()
    assert len(image) == 0x4000
    raw = [(e[0], e[1], bytes(e[8:24]).rstrip(b'\0'))
           for page in range(4) for e in (image[page * 4096 + 64 + 32 * i:][:32]
                                          for i in range(126))
           if e[1] in (0x01, 0x14, 0x04, 0x21, 0x48)]
    assert raw[:8] == [(0, 0x01, b'storage'), (1, 0x14, b'same_key'), (1, 0x04, b'same_key'),
                       (1, 0x21, b'same_str'), (1, 0x21, b'same_str'), (0, 0x01, b'storage'),
                       (2, 0x48, b'blob'), (9, 0x01, b'orphan')]
    multipage = (EXAMPLES / 'testdata' / 'sample_multipage_blob.bin').read_bytes()
    assert any(i['key'] == 'blob' and i['value'] == multipage
               for i in nvsforge.read_image(image))


def test_parser_tests_long_keys():
    """ESP-IDF's parser tests also use keys of 16 and 17 bytes (short_string_key,
    unique_string_key), which Espressif's write_entry writes from offset 8
    on, over the data field: 16 bytes fill the key field with no NUL, and a
    string's header overwrites the 17th."""
    size, read_only = nvs_partition_gen.check_size(str(0x4000))
    out = io.BytesIO()
    nvs = nvs_partition_gen.nvs_open(result_obj=out, input_size=size,
                                     version=nvs_partition_gen.Page.VERSION2,
                                     is_encrypt=False, key=None, read_only=read_only)
    nvs_partition_gen.write_entry(nvs, 'storage', 'namespace', '', '')
    nvs_partition_gen.write_entry(nvs, 'short_string_key', 'data', 'string', 'Hello world!')
    nvs_partition_gen.write_entry(nvs, 'unique_string_key', 'data', 'string', 'I am unique!')
    nvs_partition_gen.write_entry(nvs, 'another_same_key', 'data', 'u16', str(321))
    nvs_partition_gen.write_entry(nvs, 'another_same_key', 'data', 'u16', str(456))
    nvs_partition_gen.nvs_close(nvs)
    image = out.getvalue()
    entry = [image[64 + 32 * i:][:32] for i in range(7)]
    assert [e[8:24] for e in entry[1::2]] == [b'short_string_key', b'unique_string_ke',
                                              b'another_same_key']
    assert (entry[5][:2], entry[5][24:], entry[6][24:]) == (
        b'\x01\x02', (321).to_bytes(2, 'little') + b'\xff' * 6,
        (456).to_bytes(2, 'little') + b'\xff' * 6)
    # As the device sees it: the older of the two u16 is erased at start-up.
    assert [(i['key'], i['value']) for i in nvsforge.read_image(image)] == [
        ('short_string_key', 'Hello world!'), ('unique_string_ke', 'I am unique!'),
        ('another_same_key', 456)]


def test_factory_script_style(in_tmp):
    """Matter / RainMaker / esp_secure_cert tools: SimpleNamespace with only
    what they need, input a path or a list, stdout captured, SystemExit
    caught around a failing call."""
    (in_tmp / 'a.csv').write_text('key,type,encoding,value\nfctry,namespace,,\nsn,data,string,X\n')
    (in_tmp / 'b.csv').write_text('key,type,encoding,value\nfctry,namespace,,\nid,data,u16,7\n')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        nvs_partition_gen.generate(SimpleNamespace(input=['a.csv', 'b.csv'],
                                                   output='factory.bin', size=hex(0x6000),
                                                   outdir=os.getcwd(), version=2))
    assert out.getvalue() == ('\nCreating NVS binary with version: V2 - Multipage Blob Support '
                              'Enabled\n\nCreated NVS binary: ===> %s/factory.bin\n' % in_tmp)
    assert items((in_tmp / 'factory.bin').read_bytes()) == {('fctry', 'sn'): 'X',
                                                           ('fctry', 'id'): 7}
    # A bad value: SystemExit, nothing printed as created, no file.
    (in_tmp / 'bad.csv').write_text('key,type,encoding,value\nfctry,namespace,,\nid,data,u8,300\n')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            nvs_partition_gen.generate(SimpleNamespace(input='bad.csv', output='bad.bin',
                                                       size='0x3000', outdir=os.getcwd(),
                                                       version=2))
            failed = None
        except SystemExit as e:
            failed = e
    assert failed is not None and failed.code
    assert "bad.csv:3: key 'id'" in str(failed.code)
    assert 'Created' not in out.getvalue()
    assert not (in_tmp / 'bad.bin').exists()
    assert sorted(p.name for p in in_tmp.iterdir()) == ['a.csv', 'b.csv', 'bad.csv',
                                                         'factory.bin']
    # Data larger than the partition: the reference's InsufficientSizeError,
    # after the line it prints before reading the CSV.
    (in_tmp / 'big.csv').write_text('key,type,encoding,value\nn,namespace,,\n' +
                                    ''.join('k%d,data,u8,1\n' % i for i in range(300)))
    out = io.StringIO()
    with pytest.raises(nvs_partition_gen.InsufficientSizeError), contextlib.redirect_stdout(out):
        nvs_partition_gen.generate(SimpleNamespace(input='big.csv', output='small.bin',
                                                   size='0x3000', outdir=os.getcwd(),
                                                   version=2))
    assert out.getvalue() == '\nCreating NVS binary with version: V2 - Multipage Blob ' \
                             'Support Enabled\n'
    assert not (in_tmp / 'small.bin').exists()
    # The reference's own exits, with its own messages.
    with pytest.raises(SystemExit) as e:
        nvs_partition_gen.generate(SimpleNamespace(input='a.csv', output='f.img', size='0x3000'))
    assert e.value.code == 'Error: `f.img`. Only `.bin` extension allowed.'
    with pytest.raises(SystemExit) as e:
        nvs_partition_gen.encrypt(SimpleNamespace(input='a.csv', output='f.bin', size='0x3000'))
    assert e.value.code == 'Error. --keygen or --inputkey argument needed.'
    with pytest.raises(SystemExit) as e:
        nvs_partition_gen.check_size('0x3001')
    assert e.value.code == 'Size of partition must be multiple of 4096'
    # Where the reference exits 0 on a size it cannot read, this fails.
    with pytest.raises(SystemExit) as e:
        nvs_partition_gen.check_size('twelve')
    assert e.value.code and 'twelve' in str(e.value.code)


def test_main_called_from_python(in_tmp, monkeypatch, capfd):
    """Scripts that set sys.argv and call main(): it returns on success,
    raises SystemExit otherwise, and leaves Python's Ctrl-C handling."""
    import signal
    before = signal.getsignal(signal.SIGINT)
    (in_tmp / 'p.csv').write_text(CONFIG.format(serial='M', mac='02', calib=4))
    monkeypatch.setattr(sys, 'argv', ['nvs_partition_gen.py', 'generate', 'p.csv', 'p.bin',
                                      '0x3000'])
    assert nvs_partition_gen.main() is None
    assert items((in_tmp / 'p.bin').read_bytes())[('app', 'calib')] == 4
    assert signal.getsignal(signal.SIGINT) is before
    monkeypatch.setattr(sys, 'argv', ['nvs_partition_gen.py', 'generate', 'none.csv', 'q.bin',
                                      '0x3000'])
    with pytest.raises(SystemExit) as e:
        nvs_partition_gen.main()
    assert e.value.code == 1
    assert "none.csv" in capfd.readouterr().err


def test_nvs_as_context_manager_with_a_hex_key(in_tmp):
    """`with NVS(...)` writes the image when the block ends (not when it
    raises), and takes the key as generate_key() returns it: hex."""
    key_args = SimpleNamespace(keyfile='k.bin', outdir=str(in_tmp))
    with contextlib.redirect_stdout(io.StringIO()):
        hex_key = nvs_partition_gen.generate_key(key_args)
    key = bytes.fromhex(hex_key)
    out = io.BytesIO()
    with nvs_partition_gen.NVS(out, 0x2000, nvs_partition_gen.Page.VERSION2, encrypt=True,
                               key_input=hex_key) as nvs:
        nvs.write_namespace('app')
        nvs.write_entry('serial', 'SN-9', 'string')
        nvs.write_entry('count', '12', 'u16')
        assert out.getvalue() == b''
    assert len(out.getvalue()) == 0x3000
    assert items(out.getvalue(), key) == {('app', 'serial'): 'SN-9', ('app', 'count'): 12}
    unused = io.BytesIO()
    with pytest.raises(KeyError):
        with nvs_partition_gen.NVS(unused, 0x2000, nvs_partition_gen.Page.VERSION2):
            raise KeyError('the caller fails')
    assert unused.getvalue() == b''


def test_decrypt_with_a_wrong_key(in_tmp):
    """Espressif's decrypt() writes garbage with a wrong key; this one ends
    in SystemExit and writes nothing."""
    (in_tmp / 'p.csv').write_text(CONFIG.format(serial='W', mac='03', calib=5))
    with contextlib.redirect_stdout(io.StringIO()):
        nvs_partition_gen.generate_key(SimpleNamespace(keyfile='right.bin', outdir=str(in_tmp)))
        nvs_partition_gen.generate_key(SimpleNamespace(keyfile='wrong.bin', outdir=str(in_tmp)))
        nvs_partition_gen.encrypt(SimpleNamespace(input='p.csv', output='enc.bin', size='0x3000',
                                                  inputkey='keys/right.bin'))
        nvs_partition_gen.decrypt(SimpleNamespace(input='enc.bin', key='keys/right.bin',
                                                  output='plain.bin'))
    assert items((in_tmp / 'plain.bin').read_bytes())[('app', 'serial')] == 'W'
    with pytest.raises(SystemExit) as e:
        nvs_partition_gen.decrypt(SimpleNamespace(input='enc.bin', key='keys/wrong.bin',
                                                  output='bad.bin'))
    assert e.value.code and 'key' in str(e.value.code)
    assert not (in_tmp / 'bad.bin').exists()


def test_empty_outdir_is_kept_as_the_reference_keeps_it(in_tmp):
    """outdir='' names the working folder without making paths absolute:
    the printed lines and args.outdir stay relative, as Espressif's."""
    (in_tmp / 'p.csv').write_text(CONFIG.format(serial='E', mac='04', calib=6))
    args = argparse.Namespace(input=['p.csv'], output='nvs.bin', size='0x3000', version=2,
                              outdir='')
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        nvs_partition_gen.generate(args)
    assert printed.getvalue().endswith('\nCreated NVS binary: ===> nvs.bin\n')
    assert (args.outdir, args.output) == ('', 'nvs.bin')
    args = argparse.Namespace(input=['p.csv'], output=str(in_tmp / 'abs.bin'), size='0x3000',
                              version=2, outdir='', keygen=True, keyfile='mykeys.bin',
                              inputkey=None, key_protect_hmac=False)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        nvs_partition_gen.encrypt(args)
    assert printed.getvalue().startswith(
        '\nWarning: `%s` \n\t==> absolute path given so outdir is ignored for this file.\n'
        % (in_tmp / 'abs.bin'))
    assert '\nCreated encryption keys: ===>  keys/mykeys.bin\n' in printed.getvalue()
    assert (in_tmp / 'keys' / 'mykeys.bin').is_file() and (in_tmp / 'abs.bin').is_file()


def test_low_level_calls_refuse_what_would_go_wrong_unseen():
    """A second nvs_close writes nothing more; a NUL in a name and a None
    value are refused rather than cut short or stored as nothing; NVS's own
    write_entry reads encodings as write_entry() does."""
    out = io.BytesIO()
    nvs = nvs_partition_gen.nvs_open(out, 0x3000, nvs_partition_gen.Page.VERSION2)
    nvs_partition_gen.write_entry(nvs, 'app', 'namespace', '', '')
    with contextlib.redirect_stdout(io.StringIO()):
        for name, call in (('key', lambda: nvs_partition_gen.write_entry(
                               nvs, 'k\x00y', 'data', 'u8', '1')),
                           ('namespace', lambda: nvs.write_namespace('a\x00b')),
                           ('namespace', lambda: nvs.write_namespace_unsafe('a\x00b'))):
            with pytest.raises(nvs_partition_gen.InputError) as e:
                call()
            assert str(e.value) == "%s %r contains a NUL byte, which would end it" % (
                name, 'k\x00y' if name == 'key' else 'a\x00b')
    with contextlib.redirect_stdout(io.StringIO()):
        for call in (lambda: nvs.write_entry('h', 'ab', 'HEX2BIN'),
                     lambda: nvs_partition_gen.write_entry(nvs, 'h', 'data', 'HEX2BIN', 'ab')):
            with pytest.raises(nvs_partition_gen.InputError) as e:
                call()
            assert "encoding 'HEX2BIN' must be written 'hex2bin'" in str(e.value)
    with pytest.raises(TypeError):
        nvs_partition_gen.write_entry(nvs, 's', 'data', 'string', None)
    with pytest.raises(TypeError):
        nvs.write_entry('s', None, 'string')
    nvs_partition_gen.nvs_close(nvs)
    nvs_partition_gen.nvs_close(nvs)
    assert len(out.getvalue()) == 0x4000
    assert items(out.getvalue()) == {}


@pytest.mark.parametrize('text', ['0o30000', '0b11000000000000', '12_288', '0x3_000',
                                  '+0x3000', ' 0x3000\n'])
def test_check_size_reads_sizes_as_int_does(text):
    """Every spelling Python's int(text, 0) reads, as Espressif's reads it."""
    assert int(text, 0) == 0x3000
    with contextlib.redirect_stdout(io.StringIO()):
        assert nvs_partition_gen.check_size(text) == (0x2000, False)
