"""``python -m photoseek`` is the ``photoseek`` command."""

import sys

from photoseek.cli import main

sys.exit(main())
