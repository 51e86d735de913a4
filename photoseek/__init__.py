"""photoseek: text-to-image search over photo collections with CLIP and Qdrant.

The program (the ``photoseek`` command line, evaluation, contact sheets) lives here; the code it
is built on lives in three subpackages: ``photoseek.ingest`` (the ingest job),
``photoseek.retrieval`` (encoder, store, search client: the library services import) and
``photoseek.config`` (settings).
"""

__version__ = "0.1.0"
