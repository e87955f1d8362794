// Russian. `satisfies Texts`: a key missing here, or one too many, fails tsc.
import { bold, code, format, join } from "@gramio/format"
import { COMMAND_NAMES } from "../commands/names"
import type { Texts } from "./en"
import { formatDateTime, plural } from "./plural"
import type { CommandDescriptions, Reply, SettingsButtons } from "./views"

const GET_A_LINK =
  "Получите одноразовую ссылку в NPS: кнопка «Подключить Telegram» в приложении или запрос POST /api/telegram/link-tokens с вашим логином NPS или API-ключом. Ссылка срабатывает один раз и действует 10 минут."
const GET_A_KEY =
  "Создайте ключ запросом POST /api/auth/api-keys или попросите его у оператора NPS (консоль администратора: create-key)."
const REVOKE_A_KEY =
  "отзовите этот ключ (DELETE /api/auth/api-keys/<id> или через оператора NPS) и создайте новый"

const commands: CommandDescriptions = {
  start: "Приветствие и как привязать аккаунт",
  link: "Привязать аккаунт NPS по API-ключу: /link <api_key>",
  help: "Список всех команд",
  status: "Ваш аккаунт и статистика",
  profile: "Ваши профили Oracle",
  unlink: "Отвязать этот чат от аккаунта NPS",
  settings: "Уведомления: категории, пауза, тихие часы",
  timezone: "Часовой пояс: /timezone Europe/Moscow",
  language: "Выбрать язык бота",
}

const buttons: SettingsButtons = {
  categoryOn: (name) => `✅ ${name}`,
  categoryOff: (name) => `🔕 ${name}`,
  mute1h: "Пауза на 1 час",
  mute8h: "Пауза на 8 часов",
  unmute: "Снять паузу",
  quietOn: "Тихие часы 22:00–08:00",
  quietOff: "Выключить тихие часы",
}

const profilesOf = (n: number) =>
  plural("ru", n, { one: "профиль", few: "профиля", many: "профилей", other: "профиля" })
const readingsOf = (n: number) =>
  plural("ru", n, { one: "прочтение", few: "прочтения", many: "прочтений", other: "прочтения" })

export const ru = {
  commands,
  description:
    "NPS Oracle Bot — ваш аккаунт NPS в Telegram: профили Oracle и уведомления от сервисов NPS. Начните диалог и привяжите аккаунт одноразовой ссылкой из NPS или командой /link <api_key>.",
  shortDescription: "Ваш аккаунт NPS, профили Oracle и уведомления — прямо в Telegram.",

  start: (): Reply =>
    format`Добро пожаловать в ${bold("NPS Oracle Bot")}!

Привяжите аккаунт NPS, чтобы видеть свой аккаунт и профили Oracle прямо в Telegram.

${bold("Привязка в одно касание")}
${GET_A_LINK} Откройте её — вы попадёте сюда, и этот чат привяжется сам.

${bold("Или по API-ключу")}
1. ${GET_A_KEY}
2. Отправьте ${code("/link ВАШ_API_КЛЮЧ")} в этом личном чате (я сразу удалю сообщение)

Все команды — /help.`,

  help: (): Reply =>
    format`${bold("Как привязать чат")}: откройте одноразовую ссылку из NPS (POST /api/telegram/link-tokens) или отправьте /link <api_key>.

${bold("Команды")}
${join([...COMMAND_NAMES], (name) => `/${name} — ${commands[name]}`, "\n")}`,

  linkUsage: (): Reply => format`Использование: ${code("/link <api_key>")}

Проще и без ключа: ${GET_A_LINK}

${GET_A_KEY} Отправляйте ключ только в этом личном чате.`,

  linkInvalid: (): Reply => `Неверный API-ключ. ${GET_A_KEY}`,
  linkInactive: (): Reply =>
    "Аккаунт недоступен: этот пользователь NPS отключён. Обратитесь к администратору NPS.",
  linkThrottled: (): Reply =>
    "Слишком много попыток привязки из этого чата. Подождите минуту и попробуйте снова.",
  linkExpired: (): Reply =>
    `Срок действия ссылки истёк, или она уже использована. ${GET_A_LINK} Или отправьте /link <api_key>.`,
  linked: (username: string): Reply =>
    format`Аккаунт привязан! Добро пожаловать, ${bold(username)}.
Все команды — /help.`,
  privateOnly: (): Reply =>
    "В целях безопасности /link работает только в личном чате со мной. Откройте личный чат и отправьте /link <api_key> там.",
  startPrivateOnly: (): Reply =>
    "В целях безопасности ссылки для привязки работают только в личном чате со мной: откройте ссылку ещё раз — она приведёт вас туда.",
  keyExposedInGroup: (): Reply =>
    `Я удалил ваше сообщение, но другие участники чата могли увидеть ключ: ${REVOKE_A_KEY}.`,
  notDeleted: (): Reply =>
    `⚠️ Не удалось удалить ваше сообщение, и API-ключ всё ещё виден в этом чате. Удалите сообщение сами, ${REVOKE_A_KEY}.`,

  status: (s): Reply =>
    format`${bold("Ваш аккаунт NPS")}
Имя пользователя: ${bold(s.username)}
Роль: ${s.role}
У вас ${profilesOf(s.oracle_profile_count)} Oracle и ${readingsOf(s.reading_count)}.`,
  notLinked: (): Reply =>
    "Чат не привязан к аккаунту NPS. Откройте одноразовую ссылку из NPS (POST /api/telegram/link-tokens) или отправьте /link <api_key> в личном чате со мной.",
  profiles: (profiles): Reply =>
    format`${bold(`У вас ${profilesOf(profiles.length)} Oracle`)}
${join([...profiles], (p) => format`• ${bold(p.name)} — дата рождения ${p.birthday}`, "\n")}`,
  noProfiles: (): Reply =>
    "Профилей Oracle пока нет. Создайте профиль запросом POST /api/oracle/profiles.",
  unlinked: (): Reply =>
    "Чат отвязан от вашего аккаунта NPS. Чтобы подключиться снова, откройте новую ссылку из NPS или отправьте /link <api_key>.",

  slowDown: (limit): Reply =>
    `Помедленнее! Можно отправлять не больше ${plural("ru", limit, { one: "сообщения", few: "сообщений", many: "сообщений", other: "сообщения" })} в минуту. Ненадолго перестану отвечать.`,
  unavailable: (): Reply => "Сервис NPS временно недоступен. Попробуйте через минуту.",
  somethingWrong: (): Reply => "Что-то пошло не так. Попробуйте ещё раз.",
  unknownCommand: (): Reply => "Такой команды я не знаю. Отправьте /help, чтобы увидеть список.",
  plainText: (): Reply => "Я понимаю только команды. Отправьте /help, чтобы их увидеть.",

  settings: (v): Reply =>
    format`${bold("Уведомления")}
${v.mutedUntil ? `🔕 На паузе до ${formatDateTime("ru", v.mutedUntil, v.timeZone)}` : "🔔 Включены"}
Тихие часы: ${v.quietHours ? `${v.quietHours.start}–${v.quietHours.end}` : "выключены"}
Часовой пояс: ${v.timeZone} (изменить: /timezone <пояс>)

Нажмите на категорию, чтобы включить или выключить её.`,
  settingsButtons: buttons,
  saved: "Сохранено",
  staleButton: "Эта кнопка устарела. Отправьте /settings ещё раз.",
  notYourButton: "Это чужие настройки.",

  timezoneUsage: (): Reply =>
    format`Использование: ${code("/timezone <пояс>")}, например ${code("/timezone Europe/Moscow")}. Пояс указывается в формате IANA: Регион/Город.`,
  timezoneSet: (zone): Reply =>
    format`Часовой пояс установлен: ${bold(zone)}. Тихие часы и время паузы теперь считаются по нему.`,
  timezoneUnknown: (zone): Reply =>
    format`Неизвестный часовой пояс: ${code(zone)}. Укажите название IANA, например ${code("Europe/Moscow")} или ${code("Asia/Yekaterinburg")}.`,

  languagePrompt: (): Reply => "Выберите язык общения:",
  languageSet: (): Reply => "Готово: теперь я говорю с вами по-русски.",
} satisfies Texts
