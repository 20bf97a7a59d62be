module chaos-harness.invalid/pause

go 1.21
