"""A child process of ``ct-ometria sync --workers``: see ``ct_ometria.cli.sync.part_from_parent``."""

import sys

if __name__ == "__main__":
    from ct_ometria.cli import guarded
    from ct_ometria.cli.sync import part_from_parent

    sys.exit(guarded(part_from_parent))
