"""What scripts/cgdiff.py and scripts/cgatomics.py share: running a tool for its output."""

import subprocess
import sys


def tool_output(argv, package):
    """The standard output of `argv`; exits with a message if the tool is missing (naming the
    Debian `package` that has it) or fails."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        sys.exit(f"{argv[0]} is missing (apt-get install {package})")
    except subprocess.CalledProcessError as e:
        sys.exit(f"{argv[0]} failed on {argv[-1]}: {e.stderr.strip()}")
