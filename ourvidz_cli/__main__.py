from ourvidz_cli.cli import entry

entry()
