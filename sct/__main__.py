"""``python -m sct FILE:FUNCTION SHAPE ...`` prints the generated code (see sct.cli)."""
import sys

from .cli import main

sys.exit(main())
