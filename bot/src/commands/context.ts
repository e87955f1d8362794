// What every command handler receives and returns.
import type { Logger } from "@nps/log"
import type { Bot, ContextType } from "gramio"
import type { NpsApi } from "../api-client"
import { type Reply, texts } from "../texts"

/** GramIO's message context as `.command()` hands it over: `args` is the text after the command. */
export type CommandContext = ContextType<Bot, "message"> & { args: string | null }

/** A short word for the log line of each update ("linked", "not_linked", …). */
export type Outcome = string

export type CommandHandler = (ctx: CommandContext) => Promise<Outcome>

export interface CommandDeps {
  api: NpsApi
  logger: Logger
}

/** Replies for API results that are not specific to one command. */
export function failureReply(kind: "unavailable" | "error"): { reply: Reply; outcome: Outcome } {
  return kind === "unavailable"
    ? { reply: texts.unavailable(), outcome: "api_unavailable" }
    : { reply: texts.somethingWrong(), outcome: "api_error" }
}
