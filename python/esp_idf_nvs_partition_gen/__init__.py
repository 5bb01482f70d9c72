"""esp-idf-nvs-partition-gen, backed by nvsforge: see nvs_partition_gen."""
from nvsforge import __version__

__all__ = ['__version__']
