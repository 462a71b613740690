"""`python -m pixseek.cli`: the `pixseek` command."""

import sys

from pixseek.cli.entry import main

sys.exit(main())
