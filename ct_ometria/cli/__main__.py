import sys

from ct_ometria.cli import main

sys.exit(main())
