"""Build of the nvsforge extension over the project's own C code.

libnvsforge (lib/) and the batch pipeline (pipeline/) are built by the
project's CMake files, as static position-independent libraries, from the
checkout this folder sits in; the extension links them with the
nvs_partition_gen command code (programs/). The package needs no installed
nvsforge: only CMake, a C compiler, the Python headers, OpenSSL's libcrypto
and zlib (Debian: cmake build-essential python3-dev libssl-dev zlib1g-dev).
"""
import os
import re
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# setuptools wants the extension's paths relative to this folder.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def project_version():
    """The library's version, the one number the project has."""
    header = (ROOT / 'include' / 'nvsforge' / 'nvsforge.h').read_text()
    return re.search(r'#define NVSF_VERSION_STRING "([^"]+)"', header).group(1)


class BuildWithCMake(build_ext):
    """Build the static libraries with CMake first, then link them in."""

    def run(self):
        tree = Path(self.build_temp).resolve() / 'cmake'
        subprocess.check_call(['cmake', '-S', str(ROOT), '-B', str(tree),
                               '-DCMAKE_BUILD_TYPE=Release', '-DNVSF_TESTS=OFF'],
                              stdout=subprocess.DEVNULL)
        subprocess.check_call(['cmake', '--build', str(tree), '-j', str(os.cpu_count() or 1),
                               '--target', 'nvsf_pipeline', 'nvsforge'],
                              stdout=subprocess.DEVNULL)
        for ext in self.extensions:
            # The pipeline before the library it calls.
            ext.extra_objects = [str(tree / 'pipeline' / 'libnvsf_pipeline.a'),
                                 str(tree / 'lib' / 'libnvsforge.a')]
        super().run()


native = Extension(
    'nvsforge._native',
    sources=['src/nvsforge_native.c', '../programs/cli.c', '../programs/cmd_partition.c'],
    include_dirs=['../include', '../lib', '../pipeline', '../programs'],
    define_macros=[('_POSIX_C_SOURCE', '200809L')],
    extra_compile_args=['-std=c11', '-fvisibility=hidden', '-Wall', '-Wextra',
                        '-Werror=implicit-function-declaration'],
    libraries=['crypto', 'z', 'pthread'],
)

setup(version=project_version(), ext_modules=[native], cmdclass={'build_ext': BuildWithCMake})
