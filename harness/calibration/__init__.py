"""Calibration: outages of known length at the load balancer, measured with the analysis every run uses.

    plan      what to inject (kinds, lengths, rates, repeats), refused when the load cannot resolve it
    measure   known outage against measured downtime, per trial and per table cell (pure)
    session   the trials on a running cluster, under load, each outage recorded in a heal ledger
    render    the table on the terminal, calibration.json and calibration.md
"""
