"""Grading on a Ray cluster: the driver (driver.py) hands submissions as bytes (bundle.py) to long-lived
grading slots on the nodes (actor.py). Needs the kit's cluster extra; nothing else of the kit imports Ray."""
