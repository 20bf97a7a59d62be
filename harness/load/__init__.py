"""Client load: Locust on an open schedule, every request recorded as a sample.

The limits hold for every rate a scenario or profile may ask for: a request
rate, and how many requests may be in flight at once when the stack stops
answering (rate x client timeout; each is an open connection).
"""

MIN_RATE = 1.0  # requests per second; below it an outage of seconds may see no request at all
MAX_RATE = 5000.0  # requests per second
MAX_IN_FLIGHT = 5000  # requests waiting on their timeout at once (rate x timeout)
