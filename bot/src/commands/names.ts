/** Every command, in the order the menu and /help show them. Each language describes each one. */
export const COMMAND_NAMES = [
  "start",
  "link",
  "help",
  "status",
  "profile",
  "unlink",
  "settings",
  "timezone",
  "language",
] as const

export type CommandName = (typeof COMMAND_NAMES)[number]
