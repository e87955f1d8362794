import type { CommandHandler } from "./context"

export const helpCommand = (): CommandHandler => async (ctx, t) => {
  await ctx.send(t.help())
  return "helped"
}
