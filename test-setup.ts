import { setDefaultTimeout } from "bun:test"

// Some suites boot real processes and databases (PGlite's first boot takes seconds here).
setDefaultTimeout(30_000)
