from ourvidz_cli.cli.main import entry

entry()
