import { texts } from "../texts"
import type { CommandHandler } from "./context"

export const startCommand = (): CommandHandler => async (ctx) => {
  await ctx.send(texts.start())
  return "welcomed"
}
