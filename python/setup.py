"""Build of the nvsforge extension from the project's own C sources.

The extension compiles libnvsforge (lib/), the batch pipeline (pipeline/)
and the nvs_partition_gen command code straight from the checkout this
folder sits in, so the package needs no installed nvsforge: only a C compiler, the
Python headers, OpenSSL's libcrypto and zlib (Debian: build-essential
python3-dev libssl-dev zlib1g-dev).
"""
import os
import re
from pathlib import Path

from setuptools import Extension, setup

# setuptools wants paths relative to this folder, / separated.
HERE = Path(__file__).resolve().parent


def project_version():
    """The library's version, the one number the project has."""
    header = (HERE.parent / 'include' / 'nvsforge' / 'nvsforge.h').read_text()
    return re.search(r'#define NVSF_VERSION_STRING "([^"]+)"', header).group(1)


def c_sources():
    def folder(name, skip=()):
        return sorted('../%s/%s' % (name, p.name) for p in (HERE.parent / name).glob('*.c')
                      if p.name not in skip)
    programs = ['../programs/cli.c', '../programs/cmd_partition.c']
    return (['src/nvsforge_native.c'] + folder('lib') +
            folder('pipeline', skip=('platform_win.c',)) + programs)


native = Extension(
    'nvsforge._native',
    sources=c_sources(),
    include_dirs=['../include', '../lib', '../pipeline', '../programs'],
    define_macros=[('_POSIX_C_SOURCE', '200809L')],
    extra_compile_args=['-std=c11', '-fvisibility=hidden', '-Wall', '-Wextra',
                        '-Werror=implicit-function-declaration'],
    libraries=['crypto', 'z', 'pthread'],
)

setup(version=project_version(), ext_modules=[native],
      options={'build_ext': {'parallel': os.cpu_count() or 1}})
