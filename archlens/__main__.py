from archlens.cli import run

run()
