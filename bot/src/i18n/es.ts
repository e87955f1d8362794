// Spanish (tuteo, as most apps address their users). `satisfies Texts`: a missing key fails tsc.
import { bold, code, format, join } from "@gramio/format"
import { COMMAND_NAMES } from "../commands/names"
import type { Texts } from "./en"
import { formatDateTime, plural } from "./plural"
import type { CommandDescriptions, Reply, SettingsButtons } from "./views"

const GET_A_LINK =
  "Consigue un enlace de un solo toque en NPS: el botón «Conectar Telegram» de una app, o POST /api/telegram/link-tokens con tu usuario de NPS o tu clave de API. Sirve una sola vez y caduca a los 10 minutos."
const GET_A_KEY =
  "Crea una clave con POST /api/auth/api-keys o pídesela a tu operador de NPS (CLI de administración: create-key)."
const REVOKE_A_KEY =
  "revócala (DELETE /api/auth/api-keys/<id>, o pídeselo a tu operador de NPS) y crea una nueva"

const commands: CommandDescriptions = {
  start: "Bienvenida y cómo vincular tu cuenta",
  link: "Vincula tu cuenta de NPS con una clave de API: /link <api_key>",
  help: "Lista de todos los comandos",
  status: "Tu cuenta vinculada y sus datos",
  profile: "Tus perfiles de Oracle",
  unlink: "Desvincula este chat de tu cuenta de NPS",
  settings: "Notificaciones: categorías, silencio, horario de descanso",
  timezone: "Tu zona horaria: /timezone Europe/Madrid",
  language: "Elige el idioma del bot",
}

const buttons: SettingsButtons = {
  categoryOn: (name) => `✅ ${name}`,
  categoryOff: (name) => `🔕 ${name}`,
  mute1h: "Silenciar 1 hora",
  mute8h: "Silenciar 8 horas",
  unmute: "Reactivar",
  quietOn: "Descanso 22:00–08:00",
  quietOff: "Quitar horario de descanso",
}

const profilesOf = (n: number) => plural("es", n, { one: "perfil", other: "perfiles" })

export const es = {
  commands,
  description:
    "NPS Oracle Bot lleva tu cuenta de NPS a Telegram: tu cuenta, tus perfiles de Oracle y las notificaciones de los servicios de NPS. Inicia el chat y vincula tu cuenta con un enlace de NPS o con /link <api_key>.",
  shortDescription: "Tu cuenta de NPS, tus perfiles de Oracle y tus notificaciones, en Telegram.",

  start: (): Reply =>
    format`¡Te damos la bienvenida a ${bold("NPS Oracle Bot")}!

Vincula tu cuenta de NPS para ver tu cuenta y tus perfiles de Oracle aquí mismo, en Telegram.

${bold("Vincular con un toque")}
${GET_A_LINK} Al abrirlo vuelves aquí y este chat queda vinculado.

${bold("O vincular con una clave de API")}
1. ${GET_A_KEY}
2. Envía ${code("/link TU_CLAVE_DE_API")} en este chat privado (borro el mensaje al instante)

Usa /help para ver todos los comandos.`,

  help: (): Reply =>
    format`${bold("Vincular este chat")}: abre un enlace de un solo toque de NPS (POST /api/telegram/link-tokens) o envía /link <api_key>.

${bold("Comandos")}
${join([...COMMAND_NAMES], (name) => `/${name} — ${commands[name]}`, "\n")}`,

  linkUsage: (): Reply => format`Uso: ${code("/link <api_key>")}

Más fácil y sin pegar ninguna clave: ${GET_A_LINK}

${GET_A_KEY} Envía la clave solo en este chat privado.`,

  linkInvalid: (): Reply => `Clave de API no válida. ${GET_A_KEY}`,
  linkInactive: (): Reply =>
    "Cuenta no válida: este usuario de NPS no está activo. Contacta con un administrador de NPS.",
  linkThrottled: (): Reply =>
    "Demasiados intentos de vinculación desde este chat. Espera un minuto y vuelve a intentarlo.",
  linkExpired: (): Reply =>
    `Este enlace ha caducado o ya se ha usado. ${GET_A_LINK} O envía /link <api_key>.`,
  linked: (username): Reply =>
    format`¡Cuenta vinculada! Te damos la bienvenida, ${bold(username)}.
Usa /help para ver los comandos disponibles.`,
  privateOnly: (): Reply =>
    "Por seguridad, /link solo funciona en un chat privado conmigo. Abre un chat privado conmigo y envía allí /link <api_key>.",
  startPrivateOnly: (): Reply =>
    "Por seguridad, los enlaces de vinculación solo funcionan en un chat privado conmigo: vuelve a abrir el enlace y te llevará a uno.",
  keyExposedInGroup: (): Reply =>
    `He borrado tu mensaje, pero otras personas de este chat pueden haber visto la clave: ${REVOKE_A_KEY}.`,
  notDeleted: (): Reply =>
    `⚠️ No he podido borrar tu mensaje, así que tu clave de API sigue visible en este chat. Bórralo tú y ${REVOKE_A_KEY}.`,

  status: (s): Reply =>
    format`${bold("Tu cuenta de NPS")}
Usuario: ${bold(s.username)}
Rol: ${s.role}
Tienes ${profilesOf(s.oracle_profile_count)} de Oracle y ${plural("es", s.reading_count, { one: "lectura", other: "lecturas" })}.`,
  notLinked: (): Reply =>
    "Chat no vinculado a ninguna cuenta de NPS. Abre un enlace de un solo toque de NPS (POST /api/telegram/link-tokens) o envía /link <api_key> en un chat privado conmigo.",
  profiles: (profiles): Reply =>
    format`${bold(`Tienes ${profilesOf(profiles.length)} de Oracle`)}
${join([...profiles], (p) => format`• ${bold(p.name)} — fecha de nacimiento: ${p.birthday}`, "\n")}`,
  noProfiles: (): Reply =>
    "No se encontraron perfiles de Oracle. Crea uno con POST /api/oracle/profiles.",
  unlinked: (): Reply =>
    "Este chat se ha desvinculado de tu cuenta de NPS. Para volver a conectarlo, abre un nuevo enlace de NPS o envía /link <api_key>.",

  slowDown: (limit): Reply =>
    `¡Más despacio! Puedes enviar hasta ${plural("es", limit, { one: "mensaje", other: "mensajes" })} por minuto. Durante un momento no responderé a más mensajes.`,
  unavailable: (): Reply =>
    "El servicio de NPS no está disponible temporalmente. Vuelve a intentarlo en un minuto.",
  somethingWrong: (): Reply => "Algo ha salido mal. Vuelve a intentarlo.",
  unknownCommand: (): Reply => "No conozco ese comando. Envía /help para ver lo que puedo hacer.",
  plainText: (): Reply => "Solo entiendo comandos. Envía /help para verlos.",

  settings: (v): Reply =>
    format`${bold("Notificaciones")}
${v.mutedUntil ? `🔕 Silenciadas hasta el ${formatDateTime("es", v.mutedUntil, v.timeZone)}` : "🔔 Activadas"}
Horario de descanso: ${v.quietHours ? `${v.quietHours.start}–${v.quietHours.end}` : "desactivado"}
Zona horaria: ${v.timeZone} (cámbiala con /timezone <zona>)

Toca una categoría para activarla o desactivarla.`,
  settingsButtons: buttons,
  saved: "Guardado",
  staleButton: "Este botón ya no es válido. Vuelve a enviar /settings.",
  notYourButton: "Estos ajustes son de otra persona.",

  timezoneUsage: (): Reply =>
    format`Uso: ${code("/timezone <zona>")}, por ejemplo ${code("/timezone Europe/Madrid")}. Las zonas son nombres IANA: Región/Ciudad.`,
  timezoneSet: (zone): Reply =>
    format`Zona horaria establecida: ${bold(zone)}. El horario de descanso y los silencios se rigen por ella.`,
  timezoneUnknown: (zone): Reply =>
    format`Zona horaria desconocida: ${code(zone)}. Usa un nombre IANA como ${code("Europe/Madrid")} o ${code("America/Mexico_City")}.`,

  languagePrompt: (): Reply => "Elige el idioma en el que quieres que te hable:",
  languageSet: (): Reply => "Listo: a partir de ahora te hablaré en español.",
} satisfies Texts
