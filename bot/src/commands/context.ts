// What every command handler receives and returns.
import type { Logger } from "@nps/log"
import type { Bot, ContextType } from "gramio"
import type { Failure, NpsApi } from "../api-client"
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

/**
 * Sends the one reply for a call about a linked chat: `ok` as the command decides, "not linked"
 * and API failures the same way for every command.
 */
export async function replyForLinkedChat<Ok extends { kind: "ok" }>(
  ctx: CommandContext,
  result: Ok | { kind: "not_linked" } | Failure,
  onOk: (result: Ok) => { reply: Reply; outcome: Outcome },
): Promise<Outcome> {
  const { reply, outcome } =
    result.kind === "ok"
      ? onOk(result as Ok)
      : result.kind === "not_linked"
        ? { reply: texts.notLinked(), outcome: "not_linked" }
        : failureReply(result.kind)
  await ctx.send(reply)
  return outcome
}
