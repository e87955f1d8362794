// Command lines that cannot hurt: each command declares its own options, `node:util` parseArgs
// parses them strictly (an unknown or misspelt option is an error, never ignored), and --help is
// answered before anything else runs. Shared by db-cli.ts, admin.ts and scripts/dev.ts.
import { parseArgs } from "node:util"

export interface OptionSpec {
  type: "string" | "boolean"
  short?: string
  /** Placeholder for the value in help text, e.g. "U". */
  value?: string
  /** May be given more than once (the values come as an array). */
  multiple?: boolean
  description: string
}

export interface CommandSpec {
  /** How a user types it, e.g. "bun run admin create-user". */
  usage: string
  /** One paragraph under the usage line. */
  description: string
  options: Record<string, OptionSpec>
}

/** A mistake in how the command was typed: print the message and exit 1. */
export class UsageError extends Error {
  override name = "UsageError"
}

const HELP: OptionSpec = { type: "boolean", short: "h", description: "show this help and exit" }

/** The help text of one command: usage, description, one aligned line per option. */
export function helpText(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, help: HELP }).map(([name, option]) => {
    const long = `--${name}${option.value ? ` ${option.value}` : ""}`
    return [option.short ? `-${option.short}, ${long}` : `    ${long}`, option.description]
  })
  const width = Math.max(...rows.map(([left]) => (left as string).length))
  const lines = rows.map(([left, right]) => `  ${(left as string).padEnd(width)}   ${right}`)
  return `Usage: ${spec.usage}\n\n${spec.description}\n\nOptions:\n${lines.join("\n")}`
}

// Edit distance for "did you mean": a dozen lines, not worth a dependency in every image.
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      )
    }
    previous = current
  }
  return previous[b.length] as number
}

/** Candidates `word` is probably a typo or an abbreviation of: the closest one, or every prefix match. */
export function closest(word: string, candidates: readonly string[]): string[] {
  const prefixed = candidates.filter((c) => word.length >= 3 && c.startsWith(word))
  if (prefixed.length > 0) return prefixed
  let best: string[] = []
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1
  for (const candidate of candidates) {
    const d = distance(word, candidate)
    if (d < bestDistance) {
      best = [candidate]
      bestDistance = d
    }
  }
  return best
}

export const didYouMean = (word: string, candidates: readonly string[]) => {
  const matches = closest(word, candidates)
  return matches.length ? ` (did you mean ${matches.join(" or ")}?)` : ""
}

export type Values = Record<string, string | boolean | string[] | undefined>

/**
 * Parses `args` against the command's own options. Returns "help" when --help/-h was given (the
 * caller prints helpText and does nothing else); throws UsageError for anything it does not know.
 * Messages name options, never the values typed (one of them may be a password).
 */
export function parseCommand(args: string[], spec: CommandSpec): Values | "help" {
  const options = { ...spec.options, help: HELP }
  let values: Values
  try {
    values = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          {
            type: o.type,
            ...(o.short && { short: o.short }),
            ...(o.multiple && { multiple: true }),
          },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }).values as Values
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const message = error instanceof Error ? error.message : String(error)
    // Bun's messages quote the option: '--name', '-x', '-h, --help' or (in a group) 'x'.
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? ""
    const named = (/--[\w-]+/.exec(quoted) ?? /-?\w+/.exec(quoted))?.[0] ?? ""
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const known = Object.entries(options).flatMap(([name, o]) =>
        o.short ? [`--${name}`, `-${o.short}`] : [`--${name}`],
      )
      const option = named.startsWith("-") ? named : `-${named}`
      throw new UsageError(`unknown option ${option}${didYouMean(option, known)}`)
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
      throw new UsageError(
        /does not take/.test(message) ? `${named} takes no value` : `${named} needs a value`,
      )
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
      throw new UsageError(
        "unexpected argument: this command takes only options (quote a value that contains spaces)",
      )
    throw error
  }
  return values.help ? "help" : values
}

/**
 * For an entry point whose only option is --help: prints its help and exits 0, or names the
 * mistake and exits 1; returns only when the command line is empty.
 */
export function answerCommandLine(spec: CommandSpec, name: string, helpCommand: string): void {
  try {
    if (parseCommand(process.argv.slice(2), spec) === "help") {
      console.log(helpText(spec))
      process.exit(0)
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`${name}: ${error.message}\nRun ${helpCommand} for usage.`)
    process.exit(1)
  }
}
