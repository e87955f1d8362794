import { texts } from "../texts"
import type { CommandHandler } from "./context"

export const helpCommand = (): CommandHandler => async (ctx) => {
  await ctx.send(texts.help())
  return "helped"
}
