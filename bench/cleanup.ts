// What an interrupted benchmark must undo — throwaway databases, servers, child benchmarks — in
// one list that Ctrl-C (SIGINT), SIGTERM and the normal end all run. A task is added before the
// thing it undoes exists (a database's drop before its CREATE), so no signal finds a gap.
export interface Cleanup {
  /** Runs `task` at the end or on a signal; later tasks run first. */
  add(task: () => Promise<unknown> | unknown): void
  /** Runs every task once (each failure is reported and the rest still run). */
  run(): Promise<void>
}

export function createCleanup(report: (text: string) => void): Cleanup {
  const tasks: (() => Promise<unknown> | unknown)[] = []
  let running: Promise<void> | undefined
  const cleanup: Cleanup = {
    add: (task) => void tasks.push(task),
    run: () => {
      running ??= (async () => {
        for (const task of tasks.reverse()) {
          try {
            await task()
          } catch (error) {
            report(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`)
          }
        }
      })()
      return running
    },
  }
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      report(`${signal}: stopping and dropping the throwaway database`)
      void cleanup.run().finally(() => process.exit(code))
    })
  }
  return cleanup
}
