// The commands: every name in names.ts has its handler here (a missing one fails tsc), and this
// one list drives registration, /help and the command menu in every language.
import type { CommandDeps, CommandHandler } from "./context"
import { helpCommand } from "./help"
import { languageCommand } from "./language"
import { linkCommand } from "./link"
import type { CommandName } from "./names"
import { profileCommand } from "./profile"
import { settingsCommand } from "./settings"
import { startCommand } from "./start"
import { statusCommand } from "./status"
import { timezoneCommand } from "./timezone"
import { unlinkCommand } from "./unlink"

export { COMMAND_NAMES, type CommandName } from "./names"

export const COMMANDS: Record<CommandName, (deps: CommandDeps) => CommandHandler> = {
  start: startCommand,
  link: linkCommand,
  help: helpCommand,
  status: statusCommand,
  profile: profileCommand,
  unlink: unlinkCommand,
  settings: settingsCommand,
  timezone: timezoneCommand,
  language: languageCommand,
}
