"""python -m classifier COMMAND ...  (see `python -m classifier --help`)"""

import sys

from classifier.cli import main

sys.exit(main())
