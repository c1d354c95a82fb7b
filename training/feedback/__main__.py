import sys

from training.feedback.cli import main

sys.exit(main())
