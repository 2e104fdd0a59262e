"""One module per command (or pair of commands), registered in `batch_cli.app`."""
