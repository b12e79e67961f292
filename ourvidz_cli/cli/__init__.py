"""The `ourvidz` command line: one module per command group (the noun), each parsing its options,
calling the package, and printing. Entry point: `ourvidz_cli.cli.main:entry`."""
