"""``python -m outbound.simulators.oauth --profile google --port 9400``."""

from outbound.simulators.oauth.serve import main

main()
