"""``python -m training.cloud <command>``."""

from training.cloud.cli import main

main()
