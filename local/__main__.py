"""`python -m local` starts the local stack."""

from local.server import main

main()
