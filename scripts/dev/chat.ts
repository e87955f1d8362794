// The terminal as a Telegram chat: what you type becomes a private-chat message on the local Bot
// API stand-in, and what the bot sends back is printed, its formatting shown with ANSI styles.
import { createInterface } from "node:readline"
import type { TelegramMessageEntity } from "@gramio/types"
import type { BotApiStandIn } from "@nps/testing/stand-in"

const STYLES: Partial<Record<TelegramMessageEntity["type"], string>> = {
  bold: "1",
  italic: "3",
  underline: "4",
  strikethrough: "9",
  code: "36",
  pre: "36",
  bot_command: "34",
  text_link: "4;34",
  url: "4;34",
}

/** Telegram entities (UTF-16 offsets, like JS strings) as ANSI styles. */
export function renderEntities(text: string, entities: TelegramMessageEntity[] | undefined) {
  if (!entities?.length) return text
  let out = ""
  let active = ""
  for (let i = 0; i <= text.length; i++) {
    const codes = entities
      .filter((e) => i < text.length && e.offset <= i && i < e.offset + e.length)
      .map((e) => STYLES[e.type])
      .filter(Boolean)
      .join(";")
    if (codes !== active) {
      out += `\x1b[0m${codes ? `\x1b[${codes}m` : ""}`
      active = codes
    }
    out += text[i] ?? ""
  }
  return active ? `${out}\x1b[0m` : out
}

/** `bot › first line` with the following lines indented under it. */
export function formatTurn(who: "you" | "bot", text: string) {
  const [first = "", ...rest] = text.split("\n")
  return [`${who} › ${first}`, ...rest.map((line) => (line ? `      ${line}` : ""))].join("\n")
}

/**
 * The `/start <token>` Telegram sends when a user opens t.me/<this bot>?start=<token>, or
 * undefined when `text` is not such a link.
 */
export function followLink(text: string, botUsername: string | undefined): string | undefined {
  const match = /^(?:https?:\/\/)?(?:t|telegram)\.me\/(\w+)\?start=([\w-]{1,64})$/i.exec(text)
  if (!match || !botUsername || match[1]?.toLowerCase() !== botUsername.toLowerCase()) return
  return `/start ${match[2]}`
}

export interface ChatOptions {
  standIn: BotApiStandIn
  chatId: number
  input: NodeJS.ReadableStream & { isTTY?: boolean }
  print: (text: string) => void
  colour: boolean
  /** Where the bot's log is, for the hint when it does not answer. */
  botLog: string
  /** Resolves once the bot has finished with this update (or gave up waiting). */
  handled: (updateId: number) => Promise<boolean>
}

/** Runs the chat until the input ends (Ctrl-D, or the end of piped input). */
export async function runChat(options: ChatOptions): Promise<void> {
  const { standIn, chatId, input, print, colour } = options
  const interactive = Boolean(input.isTTY)
  const unsubscribe = standIn.onCall((call) => {
    if (Number(call.params.chat_id) !== chatId || call.status !== 200) return
    if (call.method === "sendMessage") {
      const text = String(call.params.text)
      const entities = call.params.entities as TelegramMessageEntity[] | undefined
      print(formatTurn("bot", colour ? renderEntities(text, entities) : text))
    } else if (call.method === "deleteMessage") {
      print("      (the bot deleted your message)")
    }
  })
  const rl = createInterface({
    input,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
  })
  rl.setPrompt("you › ")
  if (interactive) rl.prompt()
  try {
    for await (const raw of rl) {
      const text = raw.trim()
      if (text) {
        // Piped input is not echoed by a terminal: show it so the transcript reads as a chat.
        if (!interactive) print(formatTurn("you", text))
        // A pasted t.me link is followed as Telegram would: it opens this chat and sends /start.
        const followed = followLink(text, standIn.botInfo.username)
        if (followed) print(`      (you opened the link: Telegram sends ${followed})`)
        const update = standIn.message(chatId, followed ?? text, {
          from: { first_name: "You", username: "you" },
        })
        if (!(await options.handled(update.update_id)))
          print(`      (no answer yet: is the bot running? its log: ${options.botLog})`)
      }
      if (interactive) rl.prompt()
    }
  } finally {
    unsubscribe()
    rl.close()
  }
}
