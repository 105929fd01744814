"""``python -m tooldojo.cli``: the same as the ``tooldojo`` command."""

import sys

from tooldojo.cli.app import main

sys.exit(main())
