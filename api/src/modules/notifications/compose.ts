// What the bot sends: the Bot API sendMessage parameters of each part, fixed when a notification
// is accepted and stored per language.

export interface BotMessage {
  text: string
  parse_mode?: "HTML"
  reply_markup?: { inline_keyboard: { text: string; url: string }[][] }
  disable_notification?: true
  protect_content?: true
  link_preview_options?: { is_disabled: true }
}
