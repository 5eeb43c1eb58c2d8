"""Business rules: ``check_*`` validates and checks permissions, ``do_*`` changes state in one transaction."""
