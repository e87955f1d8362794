// What every command handler receives and returns.
import type { Logger } from "@nps/log"
import type { Bot, ContextType } from "gramio"
import type { Failure, NpsApi } from "../api-client"
import { type Reply, type Texts, textsFor } from "../i18n"
import type { ChatLanguages } from "../i18n/chat-languages"

/** GramIO's message context as `.command()` hands it over: `args` is the text after the command. */
export type CommandContext = ContextType<Bot, "message"> & { args: string | null }

/** What a reply may carry besides its text (the /settings buttons). */
export type SendOptions = Parameters<CommandContext["send"]>[1]

/** A short word for the log line of each update ("linked", "not_linked", …). */
export type Outcome = string

/** A command's handler: `t` holds the chat's language's texts. */
export type CommandHandler = (ctx: CommandContext, t: Texts) => Promise<Outcome>

export interface CommandDeps {
  api: NpsApi
  logger: Logger
  languages: ChatLanguages
  /** Milliseconds clock (mute times). */
  now?: () => number
}

/**
 * The chat was just linked: tell the API its language_code now (deliveries may come before the
 * next update) and answer in the linked user's own language.
 */
export async function textsAfterLink(deps: CommandDeps, ctx: CommandContext): Promise<Texts> {
  deps.languages.forget(ctx.chatId)
  return textsFor(await deps.languages.resolve(ctx.chatId, ctx.from?.languageCode))
}

/** Replies for API results that are not specific to one command. */
export function failureReply(
  kind: "unavailable" | "error",
  t: Texts,
): { reply: Reply; outcome: Outcome } {
  return kind === "unavailable"
    ? { reply: t.unavailable(), outcome: "api_unavailable" }
    : { reply: t.somethingWrong(), outcome: "api_error" }
}

/**
 * Sends the one reply for a call about a linked chat: `ok` as the command decides, "not linked"
 * and API failures the same way for every command.
 */
export async function replyForLinkedChat<Ok extends { kind: "ok" }>(
  ctx: CommandContext,
  t: Texts,
  result: Ok | { kind: "not_linked" } | Failure,
  onOk: (result: Ok) => { reply: Reply; outcome: Outcome; options?: SendOptions },
): Promise<Outcome> {
  const { reply, outcome, options }: { reply: Reply; outcome: Outcome; options?: SendOptions } =
    result.kind === "ok"
      ? onOk(result as Ok)
      : result.kind === "not_linked"
        ? { reply: t.notLinked(), outcome: "not_linked" }
        : failureReply(result.kind, t)
  await ctx.send(reply, options)
  return outcome
}
