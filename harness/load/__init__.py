"""Client load: Locust in a process of its own (it patches everything with gevent)."""
