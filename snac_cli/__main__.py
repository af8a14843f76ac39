from snac_cli.cli import main

main()
