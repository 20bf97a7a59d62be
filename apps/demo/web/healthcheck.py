"""Container health check: exit 0 only when /healthz answers 200."""
import sys
import urllib.request

try:
    with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=1) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:  # any failure to answer is unhealthy
    sys.exit(1)
