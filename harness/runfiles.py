"""The files of a run directory that more than one part reads: named here, below the parts that write them."""

SAMPLES_FILE = "samples.jsonl"  # one line per load request (harness.load)
REREADS_FILE = "rereads.jsonl"  # one line per read of an acknowledged write during the run (harness.load)
READBACK_FILE = "readback.jsonl"  # one line per acknowledged write read back at the end (harness.stack.writes)
CONNECTIONS_FILE = "connections.jsonl"  # one line per connection a node's kube-proxy translated (service-switch)
