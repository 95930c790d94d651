#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    from django.core.management import execute_from_command_line

    from crm_platform.env import ConfigurationRefused

    try:
        execute_from_command_line(sys.argv)
    except ConfigurationRefused as refused:  # a missing or weak secret: one sentence, no traceback
        sys.exit(f"Refusing to start: {refused}")


if __name__ == "__main__":
    main()
