import sys

from dlfa.orchestration.cli import main

sys.exit(main())
