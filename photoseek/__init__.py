"""photoseek: text-to-image search over photo collections with CLIP and Qdrant.

The code lives in three subpackages: ``photoseek.config`` (settings),
``photoseek.retrieval`` (encoder, store, search client) and ``photoseek.ingest``
(the ingest worker and the ``photoseek`` command line).
"""

__version__ = "0.1.0"
