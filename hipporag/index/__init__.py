"""The self-describing on-disk index format (see :mod:`hipporag.index.format`)."""

from hipporag.index.format import FORMAT_VERSION, read_meta
from hipporag.index.reader import Index
from hipporag.index.writer import IndexWriter

__all__ = ["FORMAT_VERSION", "Index", "IndexWriter", "read_meta"]
