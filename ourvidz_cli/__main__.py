from ourvidz_cli.cli import main

main()
