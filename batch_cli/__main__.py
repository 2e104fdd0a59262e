"""`python -m batch_cli`, the same as the `batch-service` script."""

from batch_cli.app import main

main()
