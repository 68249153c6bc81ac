"""`python -m bench`: run the whole benchmark."""

import sys

from bench.run import main

sys.exit(main())
