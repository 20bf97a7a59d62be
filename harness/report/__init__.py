"""Reports rendered from an analysed run (report.json)."""
