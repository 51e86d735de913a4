"""``python -m photoseek.ingest`` is the ``photoseek`` command."""

import sys

from photoseek.ingest.cli import main

sys.exit(main())
