"""`python -m devstack`: what `make dev` runs."""

import sys

from devstack.launcher import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the launcher took over the signal
        sys.exit(130)
