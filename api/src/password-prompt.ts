// Asks for a password at the terminal without echoing it. node:readline has no silent mode, so
// the terminal goes into raw mode and the keystrokes are read here (Enter, Backspace, Ctrl-C/D).

/** Thrown when the person at the terminal gives up (Ctrl-C, or Ctrl-D on an empty line). */
export class PromptCancelled extends Error {
  override name = "PromptCancelled"
  constructor() {
    super("cancelled; nothing was changed")
  }
}

export function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin
  // Raw mode before the prompt shows: whatever is typed after it must not echo.
  stdin.setRawMode(true)
  stdin.resume()
  process.stderr.write(prompt)
  return new Promise((resolve, reject) => {
    let typed = ""
    const finish = (error?: Error) => {
      stdin.off("data", onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write("\n")
      if (error) reject(error)
      else resolve(typed)
    }
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish()
        if (char === "\u0003" || (char === "\u0004" && typed === ""))
          return finish(new PromptCancelled())
        if (char === "\u007f" || char === "\b") typed = [...typed].slice(0, -1).join("")
        else if (char >= " ") typed += char
      }
    }
    stdin.on("data", onData)
  })
}
